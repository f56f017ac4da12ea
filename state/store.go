// Package state is taskbot's memory: the last seen state of every task, the outbox of
// announcements not yet delivered, and the watermark of the incremental poll, in one bbolt file.
//
// It is the only package that imports bbolt. It knows nothing of Slack or HTTP: the poller hands
// it what a poll saw (Apply), the announcer takes pending announcements (Pending) and reports what
// it posted (Delivered). Diffing and enqueueing happen in one bbolt transaction, and an entry
// leaves the outbox only after it was posted, so a crash at any point repeats at most the one
// announcement in flight and never loses one (bbolt commits are atomic and fsynced:
// https://github.com/etcd-io/bbolt#transactions).
package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/taskbot/taskbot/tasks"
)

// Bucket and key names. Changing them needs a schema version bump.
var (
	bucketTasks  = []byte("tasks")  // task key → Record (JSON)
	bucketOutbox = []byte("outbox") // big-endian sequence → Entry (JSON)
	bucketMeta   = []byte("meta")   // schema, baseline, watermark

	keySchema    = []byte("schema")
	keyBaseline  = []byte("baseline")
	keyWatermark = []byte("watermark")
)

// SchemaVersion is the layout version written into new state files.
const SchemaVersion = "1"

// Defaults for Options.
const (
	DefaultLockTimeout = 2 * time.Second
	DefaultRetention   = 7 * 24 * time.Hour
	DefaultGoneAfter   = 24 * time.Hour
	DefaultPruneEvery  = 10 * time.Minute
)

// ErrLocked is returned by Open when another process holds the state file's lock.
var ErrLocked = errors.New("state file is in use by another process")

// Options tune Open. The zero value is ready to use.
type Options struct {
	// LockTimeout bounds the wait for the file's exclusive lock (bbolt flock); default 2s.
	LockTimeout time.Duration
	// Retention is how long a completed task's record is kept after it completed; default 7 days.
	Retention time.Duration
	// GoneAfter is how long a task the API no longer returns is remembered; default 24 hours.
	GoneAfter time.Duration
	// PruneEvery is the least time between two prunes; default 10 minutes.
	PruneEvery time.Duration
	// Logger receives the loud message when a corrupt file is moved aside; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Store is an open state file. Its methods are safe for concurrent use (bbolt serialises writers).
type Store struct {
	db   *bolt.DB
	path string
	opts Options

	mu        sync.Mutex
	lastPrune time.Time // in memory: a restart prunes at its first poll
}

// Record is the last seen state of one task.
type Record struct {
	Key         string           `json:"key"`
	Title       string           `json:"title"`
	State       tasks.State      `json:"state"`
	Result      tasks.ResultCode `json:"result,omitempty"`
	UpdatedAt   time.Time        `json:"updatedAt"`
	CompletedAt time.Time        `json:"completedAt,omitzero"`
	// MessageTS is the Slack ts of the task's first announcement (its thread), "" until posted.
	MessageTS string `json:"messageTs,omitempty"`
	// MissingSince is when a reconciliation first found the task absent from the API (zero
	// while it is seen). The record is kept for Options.GoneAfter, so that an API answering
	// with nothing for a while does not make taskbot forget tasks and announce them again.
	MissingSince time.Time `json:"missingSince,omitzero"`
}

// Entry is one pending announcement in the outbox: a transition of a task.
type Entry struct {
	// Seq orders the outbox; it grows by one per entry and is never reused.
	Seq   uint64      `json:"seq"`
	Event tasks.Event `json:"event"`
	// From is the state the task was last seen in; "" if it was not seen before.
	From tasks.State `json:"from,omitempty"`
	// Task is the task as the poll saw it.
	Task     tasks.Task `json:"task"`
	QueuedAt time.Time  `json:"queuedAt"`
	// Summary, when set, stands for all the transitions of one poll that found more than
	// Poll.Burst of them; Event, From and Task are then empty.
	Summary *Summary `json:"summary,omitempty"`
}

// Summary is a flood of transitions queued as one entry.
type Summary struct {
	// Counts is the number of transitions per event, all of them.
	Counts map[tasks.Event]int `json:"counts"`
	// First are the first SummaryFirst transitions, in the order they happened.
	First []Transition `json:"first"`
}

// Transition is one change of a task's state.
type Transition struct {
	Event tasks.Event `json:"event"`
	From  tasks.State `json:"from,omitempty"`
	Task  tasks.Task  `json:"task"`
}

// SummaryFirst is how many transitions a Summary keeps in full.
const SummaryFirst = 10

// Open opens or creates the state file at path (mode 0600). It waits at most opts.LockTimeout
// for the file lock and then fails with an error wrapping ErrLocked that names the file.
// A file that is not a readable bbolt database (corrupt, truncated, another format) is renamed to
// "<path>.corrupt-<UTC time>", logged at error level, and replaced by a new empty store, so that
// the next poll records a silent baseline instead of crashing on every start.
func Open(path string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.GoneAfter <= 0 {
		opts.GoneAfter = DefaultGoneAfter
	}
	if opts.PruneEvery <= 0 {
		opts.PruneEvery = DefaultPruneEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	db, err := openBolt(path, opts.LockTimeout)
	if err != nil && !errors.Is(err, ErrLocked) && isCorrupt(path, err) {
		aside := path + ".corrupt-" + opts.Now().UTC().Format("20060102T150405Z")
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("open state file %s: %w (moving it aside failed: %v)", path, err, rerr)
		}
		opts.Logger.Error("state file was unreadable; moved it aside and starting a new baseline",
			"path", path, "moved_to", aside, "err", err)
		db, err = openBolt(path, opts.LockTimeout)
	}
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, opts: opts}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	return s, nil
}

func openBolt(path string, timeout time.Duration) (db *bolt.DB, err error) {
	// bbolt panics on some kinds of damage instead of returning an error, and a truncated file
	// makes it read past the end of its memory map (a fault, SIGSEGV/SIGBUS, that would kill the
	// process). SetPanicOnFault turns such faults into panics; both count as a corrupt file.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("open state file %s: %w: %v", path, bolterrors.ErrInvalid, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s (lock not acquired within %s; is another taskbot running with this TASKBOT_DB_PATH?)", ErrLocked, path, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	// Walk the whole file once so damage past the meta pages is found now, not mid-poll.
	if cerr := checkDB(db); cerr != nil {
		db.Close()
		return nil, fmt.Errorf("open state file %s: %w: %v", path, bolterrors.ErrInvalid, cerr)
	}
	return db, nil
}

func checkDB(db *bolt.DB) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return db.View(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			return e
		}
		return nil
	})
}

// isCorrupt reports whether err from opening path means the file's content is unusable, as
// opposed to a permission or disk problem that moving the file would not fix.
func isCorrupt(path string, err error) bool {
	if errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrChecksum) ||
		errors.Is(err, bolterrors.ErrVersionMismatch) {
		return true
	}
	fi, serr := os.Stat(path)
	if serr != nil || !fi.Mode().IsRegular() {
		return false
	}
	// A file too short to hold bbolt's two meta pages fails with a read error.
	return fi.Size() < 4096*2 && !errors.Is(err, os.ErrPermission)
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketTasks, bucketOutbox, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keySchema); {
		case v == nil:
			return meta.Put(keySchema, []byte(SchemaVersion))
		case string(v) != SchemaVersion:
			return fmt.Errorf("schema version %q, this taskbot understands %q", v, SchemaVersion)
		}
		return nil
	})
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// Close closes the file and releases its lock.
func (s *Store) Close() error { return s.db.Close() }

// Baselined reports whether the first poll was recorded. Until then the poller must call Apply
// with Baseline set, so that tasks that existed before taskbot started are not announced.
func (s *Store) Baselined() (bool, error) {
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketMeta).Get(keyBaseline) != nil
		return nil
	})
	return ok, err
}

// Watermark is the latest task updatedAt the store has seen (zero before the baseline).
// The incremental poll asks for tasks updated after it.
func (s *Store) Watermark() (time.Time, error) {
	var w time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		w = getTime(tx.Bucket(bucketMeta), keyWatermark)
		return nil
	})
	return w, err
}

// Poll is what one successful poll saw.
type Poll struct {
	// Tasks are the tasks the API returned, in any order.
	Tasks []tasks.Task
	// Gone are keys of tasks the API no longer returns at all; their records are marked
	// missing and dropped, without an announcement, once missing for Options.GoneAfter.
	Gone []string
	// Watermark is a lower bound for the new watermark (e.g. the latest updatedAt of any task
	// at baseline); the store also advances it to the latest updatedAt in Tasks. It never moves
	// backwards.
	Watermark time.Time
	// Baseline records Tasks silently and marks the store baselined.
	Baseline bool
	// Announce says which events go to the outbox; nil announces every event.
	Announce func(tasks.Event) bool
	// Burst: when this poll would queue more entries than Burst, it queues one Summary entry
	// instead, so a mass start is one message, not a flood. 0 means no limit.
	Burst int
}

// Apply records a poll in one transaction: for each task newer than its record (by updatedAt)
// whose state or result code changed, it enqueues an Entry (unless Baseline is set or Announce
// says no; more than Burst entries become one Summary entry), then saves the task's record, advances the watermark and prunes records of tasks that
// completed more than Options.Retention ago. Tasks are taken in updatedAt order, so entries of
// one poll are queued in the order the transitions happened. A task whose updatedAt is not newer
// than its record is ignored: overlapping polls and stale answers cause no duplicate and no
// regression. It returns the entries it queued. On error nothing is changed.
func (s *Store) Apply(p Poll) ([]Entry, error) {
	ts := slices.Clone(p.Tasks)
	slices.SortStableFunc(ts, func(a, b tasks.Task) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
	now := s.opts.Now()
	var queued []Entry
	err := s.db.Update(func(tx *bolt.Tx) error {
		tb, ob, meta := tx.Bucket(bucketTasks), tx.Bucket(bucketOutbox), tx.Bucket(bucketMeta)
		wm := getTime(meta, keyWatermark)
		if p.Watermark.After(wm) {
			wm = p.Watermark
		}
		for i := range ts {
			t := &ts[i]
			key := t.Key()
			if t.UpdatedAt.After(wm) {
				wm = t.UpdatedAt
			}
			var rec Record
			found, err := getJSON(tb, []byte(key), &rec)
			if err != nil {
				return err
			}
			if found && !t.UpdatedAt.After(rec.UpdatedAt) {
				if !rec.MissingSince.IsZero() { // seen again: no longer missing
					rec.MissingSince = time.Time{}
					if err := putJSON(tb, []byte(key), rec); err != nil {
						return err
					}
				}
				continue
			}
			changed := !found || rec.State != t.State || rec.Result != t.ResultCode()
			if changed && !p.Baseline {
				from := tasks.State("")
				if found {
					from = rec.State
				}
				ev := tasks.EventFor(from, t)
				if p.Announce == nil || p.Announce(ev) {
					queued = append(queued, Entry{Event: ev, From: from, Task: *t, QueuedAt: now})
				}
			}
			rec = Record{Key: key, Title: t.Title(), State: t.State, Result: t.ResultCode(),
				UpdatedAt: t.UpdatedAt, CompletedAt: t.CompletedAt, MessageTS: rec.MessageTS}
			if err := putJSON(tb, []byte(key), rec); err != nil {
				return err
			}
		}
		if p.Burst > 0 && len(queued) > p.Burst {
			queued = []Entry{summarize(queued, now)}
		}
		for i := range queued {
			seq, err := ob.NextSequence()
			if err != nil {
				return err
			}
			queued[i].Seq = seq
			if err := putJSON(ob, seqKey(seq), queued[i]); err != nil {
				return err
			}
		}
		for _, k := range p.Gone {
			var rec Record
			found, err := getJSON(tb, []byte(k), &rec)
			if err != nil || !found || !rec.MissingSince.IsZero() {
				continue
			}
			rec.MissingSince = now
			if err := putJSON(tb, []byte(k), rec); err != nil {
				return err
			}
		}
		if err := putTime(meta, keyWatermark, wm); err != nil {
			return err
		}
		if p.Baseline && meta.Get(keyBaseline) == nil {
			if err := putTime(meta, keyBaseline, now); err != nil {
				return err
			}
		}
		if !s.pruneDue(now) {
			return nil
		}
		return s.prune(tb, now)
	})
	if err != nil {
		return nil, fmt.Errorf("apply poll: %w", err)
	}
	return queued, nil
}

func summarize(es []Entry, now time.Time) Entry {
	sum := &Summary{Counts: map[tasks.Event]int{}}
	for _, e := range es {
		sum.Counts[e.Event]++
		if len(sum.First) < SummaryFirst {
			sum.First = append(sum.First, Transition{Event: e.Event, From: e.From, Task: e.Task})
		}
	}
	return Entry{Summary: sum, QueuedAt: now}
}

// pruneDue reports whether PruneEvery has passed since the last prune, and if so counts this
// as one: pruning reads every record, which a poll need not do.
func (s *Store) pruneDue(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lastPrune.IsZero() && now.Sub(s.lastPrune) < s.opts.PruneEvery {
		return false
	}
	s.lastPrune = now
	return true
}

// prune deletes records of tasks that completed before now-Retention, and of tasks missing from
// the API for longer than GoneAfter. Collect first: bbolt cursors must not delete while
// iterating with Next.
func (s *Store) prune(tb *bolt.Bucket, now time.Time) error {
	cutoff := now.Add(-s.opts.Retention)
	goneBefore := now.Add(-s.opts.GoneAfter)
	var old [][]byte
	err := tb.ForEach(func(k, v []byte) error {
		var rec Record
		if err := json.Unmarshal(v, &rec); err != nil {
			old = append(old, slices.Clone(k)) // unreadable record: drop it rather than fail forever
			return nil
		}
		done := rec.CompletedAt
		if done.IsZero() {
			done = rec.UpdatedAt
		}
		if rec.State == tasks.Completed && done.Before(cutoff) ||
			!rec.MissingSince.IsZero() && rec.MissingSince.Before(goneBefore) {
			old = append(old, slices.Clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range old {
		if err := tb.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Pending returns up to limit outbox entries, oldest first (limit ≤ 0: all).
func (s *Store) Pending(limit int) ([]Entry, error) {
	var out []Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("outbox entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Delivered removes entry seq from the outbox after it was posted. When ts (the Slack message
// ts of the post) is not empty and the task has no thread yet, ts becomes the task's thread.
// Delivering an entry twice is not an error.
func (s *Store) Delivered(seq uint64, taskKey, ts string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketOutbox).Delete(seqKey(seq)); err != nil {
			return err
		}
		if ts == "" {
			return nil
		}
		tb := tx.Bucket(bucketTasks)
		var rec Record
		found, err := getJSON(tb, []byte(taskKey), &rec)
		if err != nil || !found || rec.MessageTS != "" {
			return err
		}
		rec.MessageTS = ts
		return putJSON(tb, []byte(taskKey), rec)
	})
}

// Record returns the last seen state of the task with key, and whether there is one.
func (s *Store) Record(key string) (Record, bool, error) {
	var rec Record
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		found, err = getJSON(tx.Bucket(bucketTasks), []byte(key), &rec)
		return err
	})
	return rec, found, err
}

// InProgress returns the records of tasks last seen in a state other than completed; the
// poller's reconciliation compares them with a full list from the API.
func (s *Store) InProgress() ([]Record, error) {
	var out []Record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTasks).ForEach(func(k, v []byte) error {
			var rec Record
			if err := json.Unmarshal(v, &rec); err != nil {
				return nil
			}
			if rec.State.InProgress() {
				out = append(out, rec)
			}
			return nil
		})
	})
	return out, err
}

// Stats are counts for metrics and logs.
type Stats struct {
	Tasks     int       // task records
	Pending   int       // outbox entries not yet delivered
	Watermark time.Time // see Watermark
	FileSize  int64     // bytes
}

// PendingCount is the number of outbox entries, cheap enough to read after every post (the
// outbox is small; Stats walks every task record).
func (s *Store) PendingCount() (int, error) {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketOutbox).Stats().KeyN
		return nil
	})
	return n, err
}

// Stats counts the store's contents.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(tx *bolt.Tx) error {
		st.Tasks = tx.Bucket(bucketTasks).Stats().KeyN
		st.Pending = tx.Bucket(bucketOutbox).Stats().KeyN
		st.Watermark = getTime(tx.Bucket(bucketMeta), keyWatermark)
		st.FileSize = tx.Size()
		return nil
	})
	return st, err
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

func getJSON(b *bolt.Bucket, k []byte, v any) (bool, error) {
	raw := b.Get(k)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", "record", k, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, raw)
}

func getTime(b *bolt.Bucket, k []byte) time.Time {
	var t time.Time
	if raw := b.Get(k); raw != nil {
		_ = t.UnmarshalText(raw)
	}
	return t
}

func putTime(b *bolt.Bucket, k []byte, t time.Time) error {
	raw, err := t.UTC().MarshalText()
	if err != nil {
		return err
	}
	return b.Put(k, raw)
}
