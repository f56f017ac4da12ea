// Package state is taskbot's memory, in one bbolt file: the last sighting of every task, the
// outbox of announcements not yet delivered, and the watermark of the incremental poll.
//
// It is the only package that imports bbolt, and it stores what it is told: the announce
// pipeline (tasks/announce) decides what changed and what is announced where; Apply runs that
// decision inside the transaction that reads what it needs and writes what it says, so diffing
// and enqueueing are one atomic step. An entry leaves the outbox only after it was delivered,
// so a crash at any point repeats at most the one announcement in flight and never loses one
// (bbolt commits are atomic and fsynced: https://github.com/etcd-io/bbolt#transactions).
//
// The file format and the migration of older files are in format.go.
package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// Defaults for Options.
const (
	DefaultLockTimeout = 2 * time.Second
	DefaultRetention   = 7 * 24 * time.Hour
	DefaultGoneAfter   = 24 * time.Hour
	DefaultPruneEvery  = 10 * time.Minute
	DefaultHistoryKeep = 48 * time.Hour
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
	// HistoryKeep is how long the digest's history (failures, muted announcements) is kept;
	// default 48 hours (a digest covers 24).
	HistoryKeep time.Duration
	// Logger receives the loud message when a corrupt file is moved aside, and migrations;
	// default slog.Default().
	Logger *slog.Logger
	// Now is the clock of pruning and of the corrupt file's new name; default time.Now.
	Now func() time.Time
	// Channel is the announcement channel (SLACK_CHANNEL): files of schema 2 and older knew
	// only one channel and did not name it, so their threads and outbox entries migrate to it.
	Channel string
}

// Store is an open state file. Its methods are safe for concurrent use (bbolt serialises
// writers). It implements announce.PollStore and announce.OutboxStore.
type Store struct {
	db   *bolt.DB
	opts Options

	mu        sync.Mutex
	lastPrune time.Time // in memory: a restart prunes at its first poll
}

var (
	_ announce.PollStore   = (*Store)(nil)
	_ announce.OutboxStore = (*Store)(nil)
)

// Open opens or creates the state file at path (mode 0600) and migrates an older format (see
// format.go). It waits at most opts.LockTimeout for the file lock and then fails with an error
// wrapping ErrLocked that names the file. A file that is not a readable bbolt database
// (corrupt, truncated, another format) is renamed to "<path>.corrupt-<UTC time>", logged at
// error level, and replaced by a new empty store, so that the next poll records a silent
// baseline instead of crashing on every start.
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
	if opts.HistoryKeep <= 0 {
		opts.HistoryKeep = DefaultHistoryKeep
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("open state file %s: %w: it is a directory (name a file in it, e.g. %s)", path, fs.ErrInvalid, filepath.Join(path, "taskbot.db"))
	} else if err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open state file %s: %w: it is not a regular file (a %s; name a file on a persistent volume)", path, fs.ErrInvalid, fileKind(fi.Mode()))
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
	s := &Store{db: db, opts: opts}
	if err := s.db.Update(func(tx *bolt.Tx) error { return migrate(tx, opts.Channel, opts.Logger) }); err != nil {
		db.Close()
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	if err := convertRecords(s.db, opts.Logger); err != nil {
		db.Close()
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	return s, nil
}

// fileKind names the kind of a file that is not a regular one.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
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
	var pe *fs.PathError
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s (lock not acquired within %s; is another taskbot running with this TASKBOT_DB_PATH?)", ErrLocked, path, timeout)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("open state file %s: %w (create the directory %s, or set TASKBOT_DB_PATH to a file in one that exists)", path, fs.ErrNotExist, filepath.Dir(path))
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("open state file %s: %w (taskbot, running as uid %d, must be able to write the file and its directory)", path, fs.ErrPermission, os.Getuid())
	case errors.As(err, &pe):
		return nil, fmt.Errorf("open state file %s: %s: %w", path, pe.Op, pe.Err) // the path once, not thrice
	case err != nil:
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

// Close closes the file and releases its lock.
func (s *Store) Close() error { return s.db.Close() }

// Baselined reports whether the first poll was recorded. Until then the poller must apply a
// baseline poll, so that tasks that existed before taskbot started are not announced.
func (s *Store) Baselined() (bool, error) {
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketMeta).Get(keyBaseline) != nil
		return nil
	})
	return ok, err
}

// Watermark is the watermark the last Apply recorded (zero before the baseline).
func (s *Store) Watermark() (time.Time, error) {
	var w time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		w = getTime(tx.Bucket(bucketMeta), keyWatermark)
		return nil
	})
	return w, err
}

// Apply records a poll in one transaction: it reads the last sightings of p's tasks and gone
// keys and the watermark, calls decide with them (the announce policy, a pure function), and
// writes its Decision: the sightings, the outbox entries (each given the next sequence number),
// the watermark (moved backwards only when the Decision resets it) and the baseline mark. It then prunes, at most every
// Options.PruneEvery, records of tasks that completed more than Options.Retention ago or went
// missing more than Options.GoneAfter ago. It returns the entries it queued. On error nothing is
// changed.
func (s *Store) Apply(p announce.Poll, decide func(announce.Input) announce.Decision) ([]announce.Entry, error) {
	now := s.opts.Now()
	clock := p.ServerTime
	if clock.IsZero() {
		clock = now
	}
	// A page of a poll (Partial, not a baseline) whose tasks are all stamped as their records
	// were stored, with no gone task and no stuck check due, would change nothing: it is
	// answered from a read transaction, without a commit (a reconciliation of unchanged
	// tasks makes no write at all).
	if p.Tag != 0 && p.Partial && !p.Baseline && len(p.Gone) == 0 && !s.pruneWanted(now) {
		var unchanged bool
		if err := s.db.View(func(tx *bolt.Tx) error {
			unchanged = len(changedTasks(tx.Bucket(bucketInProgress), p)) == 0 && !dueBy(tx.Bucket(bucketStuck), clock)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("apply poll: %w", err)
		}
		if unchanged {
			return nil, nil
		}
	}
	var queued []announce.Entry
	err := s.db.Update(func(tx *bolt.Tx) error {
		rs, ob, meta := recordsIn(tx), tx.Bucket(bucketOutbox), tx.Bucket(bucketMeta)
		sb, ib := tx.Bucket(bucketStuck), tx.Bucket(bucketInProgress)
		in := announce.Input{Poll: p, Last: map[string]announce.Seen{}, Watermark: getTime(meta, keyWatermark)}
		if p.Tag != 0 {
			in.Tasks = changedTasks(ib, p)
		}
		load := func(key string) error {
			if _, ok := in.Last[key]; ok {
				return nil
			}
			rec, found, err := rs.get(key)
			if found {
				in.Last[key] = rec
			}
			return err
		}
		for i := range in.Tasks {
			if err := load(in.Tasks[i].Key()); err != nil {
				return err
			}
		}
		for _, k := range p.Gone {
			if err := load(k); err != nil {
				return err
			}
		}
		due, err := s.due(tx, clock)
		if err != nil {
			return err
		}
		for _, rec := range due {
			if _, ok := in.Last[rec.Key]; !ok {
				in.Last[rec.Key] = rec
			}
			in.Due = append(in.Due, in.Last[rec.Key])
		}
		if in.Subscriptions, err = subscriptions(tx.Bucket(bucketSubscriptions)); err != nil {
			return err
		}
		if in.Mutes, err = mutes(tx.Bucket(bucketMutes)); err != nil {
			return err
		}
		if in.Scopes, err = scopes(tx.Bucket(bucketScopes)); err != nil {
			return err
		}
		d := decide(in)
		recorded := make(map[string]bool, len(d.Seen))
		for _, rec := range d.Seen {
			recorded[rec.Key] = true
			if err := rs.put(rec); err != nil {
				return err
			}
			if err := indexInProgress(ib, rec, p.Tag); err != nil {
				return err
			}
			if old := in.Last[rec.Key]; !old.StuckDue.IsZero() && !old.StuckDue.Equal(rec.StuckDue) {
				if err := sb.Delete(stuckKey(old.StuckDue, old.Key)); err != nil {
					return err
				}
			}
			if !rec.StuckDue.IsZero() {
				if err := sb.Put(stuckKey(rec.StuckDue, rec.Key), nil); err != nil {
					return err
				}
			}
		}
		if err := stampUnchanged(ib, in, recorded); err != nil {
			return err
		}
		hb := tx.Bucket(bucketHistory)
		for _, h := range d.History {
			seq, err := hb.NextSequence()
			if err != nil {
				return err
			}
			if err := putJSON(hb, historyKey(h.At, seq), h); err != nil {
				return err
			}
		}
		queued = d.Entries
		for i := range queued {
			if err := enqueue(ob, &queued[i]); err != nil {
				return err
			}
		}
		// One page of several (Partial) leaves the watermark: the poller moves it with the
		// poll's last Apply, once every page is recorded (the API's order is not relied on).
		if !p.Partial && (d.Watermark.After(in.Watermark) || d.WatermarkReset && !d.Watermark.Equal(in.Watermark)) {
			if err := putTime(meta, keyWatermark, d.Watermark); err != nil {
				return err
			}
		}
		if d.Baselined && meta.Get(keyBaseline) == nil {
			if err := putTime(meta, keyBaseline, now); err != nil {
				return err
			}
		}
		if !s.pruneDue(now) {
			return nil
		}
		if err := pruneMutes(tx.Bucket(bucketMutes), now); err != nil {
			return err
		}
		if err := pruneHistory(hb, now.Add(-s.opts.HistoryKeep)); err != nil {
			return err
		}
		return s.prune(rs, sb, ib, now)
	})
	if err != nil {
		return nil, fmt.Errorf("apply poll: %w", err)
	}
	return queued, nil
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

// pruneWanted reports whether the next Apply would prune, without counting it as done.
func (s *Store) pruneWanted(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastPrune.IsZero() || now.Sub(s.lastPrune) >= s.opts.PruneEvery
}

// changedTasks are p's tasks whose stamp under p.Tag (announce.TaskStamp) is not the one in
// the in-progress index ib: the tasks Decide must see. A task stamped as its record was stored
// needs no decision and is left out, its record unread.
func changedTasks(ib *bolt.Bucket, p announce.Poll) []tasks.Task {
	var out []tasks.Task
	for i := range p.Tasks {
		if v := ib.Get(recordKey(p.Tasks[i].Key())); len(v) != 8 || binary.BigEndian.Uint64(v) != announce.TaskStamp(&p.Tasks[i], p.Tag) {
			out = append(out, p.Tasks[i])
		}
	}
	return out
}

// dueBy reports whether a stuck check in the stuck index sb has come by clock.
func dueBy(sb *bolt.Bucket, clock time.Time) bool {
	k, _ := sb.Cursor().First()
	return len(k) >= 8 && binary.BigEndian.Uint64(k) <= uint64(max(clock.UnixNano(), 0))
}

// prune deletes records of tasks that completed before now-Retention, and of tasks missing from
// the API for longer than GoneAfter. Collect first: bbolt cursors must not delete while
// iterating with Next.
func (s *Store) prune(rs *records, sb, ib *bolt.Bucket, now time.Time) error {
	cutoff := now.Add(-s.opts.Retention)
	goneBefore := now.Add(-s.opts.GoneAfter)
	var old [][]byte
	err := rs.tb.ForEach(func(k, v []byte) error {
		rec, err := rs.decode(k, v)
		if err != nil {
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
			if !rec.StuckDue.IsZero() {
				old = append(old, stuckKey(rec.StuckDue, rec.Key)) // deleted from sb below
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range old {
		if err := rs.tb.Delete(k); err != nil {
			return err
		}
		if err := sb.Delete(k); err != nil {
			return err
		}
		if err := ib.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// indexInProgress keeps rec's key in the in-progress index when it is in progress (missing or
// not: a reconciliation looks a missing task up again), with the record's Stamp under tag as
// the value (8 bytes, big-endian; empty when it has none), and out of it otherwise.
func indexInProgress(ib *bolt.Bucket, rec announce.Seen, tag uint64) error {
	if !rec.State.InProgress() {
		return ib.Delete(recordKey(rec.Key))
	}
	var v []byte
	if st := rec.Stamp(tag); st != 0 {
		v = binary.BigEndian.AppendUint64(nil, st)
	}
	return ib.Put(recordKey(rec.Key), v)
}

// stampUnchanged stamps the index entry of each task of in that Decide left as it was
// (recorded: the keys it rewrote) when the record matches the task: the record is then what
// the poll's rules make of the task, and the next poll need not read it. This is how records
// stored before stamps, or under other rules, get one; a record that already has it is not
// written again.
func stampUnchanged(ib *bolt.Bucket, in announce.Input, recorded map[string]bool) error {
	if in.Tag == 0 {
		return nil
	}
	for i := range in.Tasks {
		t := &in.Tasks[i]
		k := t.Key()
		prev, ok := in.Last[k]
		if !ok || recorded[k] || !prev.State.InProgress() {
			continue
		}
		st := announce.TaskStamp(t, in.Tag)
		if prev.Stamp(in.Tag) != st {
			continue
		}
		if v := ib.Get(recordKey(k)); len(v) == 8 && binary.BigEndian.Uint64(v) == st {
			continue
		}
		if err := ib.Put(recordKey(k), binary.BigEndian.AppendUint64(nil, st)); err != nil {
			return err
		}
	}
	return nil
}

// stuckKey is the stuck index's key of a check due at due for the task with key.
func stuckKey(due time.Time, key string) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(max(due.UnixNano(), 0))), recordKey(key)...)
}

// historyKey orders the history by time, then by sequence.
func historyKey(at time.Time, seq uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(max(at.UnixNano(), 0)))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

// due reads the sightings whose stuck check has come by clock, earliest first, at most
// announce.MaxDue. An index key whose record is gone or due at another time is stale (a crash
// cannot leave one, an older taskbot that rewrote the record can) and deleted.
func (s *Store) due(tx *bolt.Tx, clock time.Time) ([]announce.Seen, error) {
	sb, rs := tx.Bucket(bucketStuck), recordsIn(tx)
	limit := uint64(max(clock.UnixNano(), 0))
	var out []announce.Seen
	var stale [][]byte
	c := sb.Cursor()
	for k, _ := c.First(); k != nil && len(out) < announce.MaxDue; k, _ = c.Next() {
		if len(k) < 8 || binary.BigEndian.Uint64(k) > limit {
			break
		}
		rec, found, err := rs.get(keyOfRecord(k[8:]))
		if err != nil || !found || !bytes.Equal(stuckKey(rec.StuckDue, rec.Key), k) {
			stale = append(stale, bytes.Clone(k))
			continue
		}
		out = append(out, rec)
	}
	for _, k := range stale {
		if err := sb.Delete(k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pruneHistory deletes the history recorded before cutoff (its keys are in time order).
func pruneHistory(hb *bolt.Bucket, cutoff time.Time) error {
	limit := uint64(max(cutoff.UnixNano(), 0))
	var old [][]byte
	c := hb.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) < limit; k, _ = c.Next() {
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		if err := hb.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// enqueue gives e the next sequence number of the outbox and puts it into its channel's bucket.
func enqueue(ob *bolt.Bucket, e *announce.Entry) error {
	seq, err := ob.NextSequence()
	if err != nil {
		return err
	}
	e.Seq = seq
	cb, err := ob.CreateBucketIfNotExists(channelBucket(e.Channel))
	if err != nil {
		return err
	}
	return putJSON(cb, seqKey(seq), e)
}

// Channels lists the channels that have entries in the outbox, in byte order.
func (s *Store) Channels() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEachBucket(func(name []byte) error {
			if k, _ := tx.Bucket(bucketOutbox).Bucket(name).Cursor().First(); k != nil {
				out = append(out, bucketChannel(name))
			}
			return nil
		})
	})
	return out, err
}

// Pending returns up to limit outbox entries of channel, oldest first (limit ≤ 0: all). An
// entry that cannot be decoded is an error naming its sequence number.
func (s *Store) Pending(channel string, limit int) ([]announce.Entry, error) {
	var out []announce.Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		cb := tx.Bucket(bucketOutbox).Bucket(channelBucket(channel))
		if cb == nil {
			return nil
		}
		c := cb.Cursor()
		for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			var e announce.Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("outbox entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Backlog counts the outbox entries of every channel and gives the oldest one's QueuedAt (zero
// when the outbox is empty); it reads one entry per channel.
func (s *Store) Backlog() (n int, oldest time.Time, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		ob := tx.Bucket(bucketOutbox)
		return ob.ForEachBucket(func(name []byte) error {
			cb := ob.Bucket(name)
			n += cb.Stats().KeyN
			if _, v := cb.Cursor().First(); v != nil {
				var e announce.Entry
				if json.Unmarshal(v, &e) == nil && (oldest.IsZero() || e.QueuedAt.Before(oldest)) {
					oldest = e.QueuedAt
				}
			}
			return nil
		})
	})
	return n, oldest, err
}

// Delivered removes entry seq of channel from the outbox after it was delivered. When thread
// (the chat message id of the post) is not empty, it becomes the task's thread in channel if
// the task has none there yet (or only a pending one), or in any case when replace is set (the
// old thread is gone). Delivering an entry twice is not an error.
func (s *Store) Delivered(channel string, seq uint64, taskKey, thread string, replace bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if cb := tx.Bucket(bucketOutbox).Bucket(channelBucket(channel)); cb != nil {
			if err := cb.Delete(seqKey(seq)); err != nil {
				return err
			}
		}
		if thread == "" || taskKey == "" {
			return nil
		}
		rs := recordsIn(tx)
		rec, found, err := rs.get(taskKey)
		if err != nil || !found || (rec.Threads[channel] != "" && !replace) {
			return err
		}
		if rec.Threads == nil {
			rec.Threads = map[string]string{}
		}
		rec.Threads[channel] = thread
		return rs.put(rec)
	})
}

// Sighting returns the last sighting of the task with key, and whether there is one.
func (s *Store) Sighting(key string) (announce.Seen, bool, error) {
	var rec announce.Seen
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		rec, found, err = recordsIn(tx).get(key)
		return err
	})
	return rec, found, err
}

// EachInProgress calls fn with the key of each task last seen in progress (missing ones
// included), in key order, from the in-progress index: no record is decoded and no list is
// built. fn runs inside a read transaction: it must not call the Store.
func (s *Store) EachInProgress(fn func(key string)) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketInProgress).ForEach(func(k, _ []byte) error {
			fn(keyOfRecord(k))
			return nil
		})
	})
}

// InProgressKeys returns the keys EachInProgress names, as a list.
func (s *Store) InProgressKeys() ([]string, error) {
	var out []string
	err := s.EachInProgress(func(k string) { out = append(out, k) })
	return out, err
}

// Stats are counts for metrics and logs.
type Stats struct {
	Tasks     int       // task records
	Pending   int       // outbox entries not yet delivered
	Watermark time.Time // see Watermark
	FileSize  int64     // bytes
}

// TaskCount is the number of task records; it walks the bucket's pages.
func (s *Store) TaskCount() (int, error) {
	st, err := s.Stats()
	return st.Tasks, err
}

// Stats counts the store's contents.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(tx *bolt.Tx) error {
		st.Tasks = tx.Bucket(bucketTasks).Stats().KeyN
		ob := tx.Bucket(bucketOutbox)
		if err := ob.ForEachBucket(func(name []byte) error {
			st.Pending += ob.Bucket(name).Stats().KeyN
			return nil
		}); err != nil {
			return err
		}
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
