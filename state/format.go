package state

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// The file format, schema 7. Ten buckets:
//
//	tasks   task key (recordKey: 0x01 and a UUID's 16 bytes, or 0x00 and the key's text) →
//	        announce.Seen in CBOR (see record): the last sighting of the task, with its thread
//	        in each channel
//	outbox  one bucket per channel (its ID; "_" for the default channel ""), each mapping a
//	        big-endian uint64 sequence → announce.Entry as JSON: a pending announcement, whose
//	        task is a tasks.Snapshot (a narrow, fixed set of fields), never the API's whole
//	        task. The outbox bucket's own sequence numbers the entries of every channel.
//	subscriptions  channel ID, NUL, lower-case tenant ("" for all) → announce.Subscription as JSON
//	mutes   big-endian uint64 N → announce.Mute as JSON (the bucket's sequence numbers them)
//	scopes  channel ID → announce.Scope as JSON
//	stuck   big-endian uint64 Unix nanoseconds of a Seen's StuckDue, then its recordKey →
//	        empty: the index of the stuck checks to make, earliest first
//	inprogress  recordKey → the record's announce.Seen.Stamp as a big-endian uint64 (empty:
//	        none): the tasks whose record is in progress (reconciliation reads the keys and
//	        stamps, not the records)
//	history big-endian uint64 Unix nanoseconds, then a big-endian uint64 sequence →
//	        announce.Record as JSON: the failures and muted announcements of the last
//	        Options.HistoryKeep, for the daily digest
//	tenants 'n' and a big-endian uint32 N → CBOR [tenant id, name]; 'k', id, NUL, name → N:
//	        the tenants that records name by number
//	meta    schema → "7"; records → "cbor" once every task record is schema 7's; baseline →
//	        RFC 3339 time of the silent baseline; watermark → RFC 3339; buttonKey → 32 random
//	        bytes that sign the values of Slack buttons; digest → the local date (YYYY-MM-DD)
//	        of the last digest queued
//
// TestFormatIsPinned compares the encoding of a record, of entries, subscriptions, mutes and
// scopes with testdata/state/format-v7.json: a change to those types fails it, and must come
// with a new SchemaVersion and a migration below.
var (
	bucketTasks         = []byte("tasks")
	bucketOutbox        = []byte("outbox")
	bucketSubscriptions = []byte("subscriptions")
	bucketMutes         = []byte("mutes")
	bucketScopes        = []byte("scopes")
	bucketMeta          = []byte("meta")
	bucketStuck         = []byte("stuck")
	bucketHistory       = []byte("history")
	bucketInProgress    = []byte("inprogress")
	bucketTenants       = []byte("tenants")

	keySchema    = []byte("schema")
	keyBaseline  = []byte("baseline")
	keyWatermark = []byte("watermark")
	keyButtonKey = []byte("buttonKey")
	keyDigest    = []byte("digest")
	keyRecords   = []byte("records")
)

// SchemaVersion is the layout version this taskbot writes and reads.
//
// History: "1" (up to commit e32f5d7) stored the API's whole task in outbox entries and one
// thread per task; "2" a tasks.Snapshot with the error's whole context; "3" outbox buckets per
// channel, a thread per channel, and snapshots with the error's cause and effect, the
// blockers and whether the task failed; "4" subscriptions, mutes and scopes (new buckets; the
// older data is unchanged); "5" stuck checks and the digest's history (new buckets, new fields
// of task records and snapshots; a schema-4 file is read as it is); "6" the index of tasks
// in progress (built from the records when an older file is opened); "7" task records in CBOR
// instead of JSON, keyed by a UUID's 16 bytes, tenants numbered in a bucket of their own
// (records about 70% smaller), and stamps in the in-progress index (older records are
// converted a thousand per transaction when the file is opened; until then both are read).
const SchemaVersion = "7"

// defaultChannelBucket names the outbox bucket of the channel "".
const defaultChannelBucket = "_"

func channelBucket(channel string) []byte {
	if channel == "" {
		return []byte(defaultChannelBucket)
	}
	return []byte(channel)
}

func bucketChannel(name []byte) string {
	if string(name) == defaultChannelBucket {
		return ""
	}
	return string(name)
}

// ErrSchema is wrapped by the error for a state file whose format this taskbot cannot run: a
// newer taskbot's, or a damaged schema mark.
var ErrSchema = errors.New("the state file's format is not one this taskbot runs")

// knownSchema reports whether a file marked with schema from (the meta key; "" for a new
// file) is one this taskbot reads or migrates.
func knownSchema(from string) bool {
	switch from {
	case "", "1", "2", "3", "4", "5", "6", SchemaVersion:
		return true
	}
	return false
}

// schemaError is the error for a file of schema from that knownSchema refuses.
func schemaError(from string) error {
	n, err := strconv.Atoi(from)
	cur, _ := strconv.Atoi(SchemaVersion)
	if err == nil && n > cur {
		return fmt.Errorf("%w: schema version %q, this taskbot understands %q and older: the file is from a newer taskbot (run that one, or move the file aside to start on a new baseline)",
			ErrSchema, from, SchemaVersion)
	}
	return fmt.Errorf("%w: schema version %q was never written by taskbot: the file is damaged (move it aside to start on a new baseline)", ErrSchema, from)
}

// migrate brings a file of any known schema to SchemaVersion inside tx, one version at a time:
// a new file gets the buckets and the version; older files are rewritten (channel names the
// single channel of schemas 1 and 2). A file of an unknown (newer) schema is refused,
// unchanged.
func migrate(tx *bolt.Tx, channel string, log *slog.Logger) error {
	for _, b := range [][]byte{bucketTasks, bucketOutbox, bucketSubscriptions, bucketMutes, bucketScopes, bucketMeta, bucketStuck, bucketHistory, bucketInProgress, bucketTenants} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keyButtonKey) == nil {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		if err := meta.Put(keyButtonKey, key); err != nil {
			return err
		}
	}
	from := string(meta.Get(keySchema))
	if from != SchemaVersion && from != "" {
		// Every record of an older schema is in JSON: convertRecords rewrites them.
		if err := meta.Delete(keyRecords); err != nil {
			return err
		}
	}
	switch from {
	case SchemaVersion:
		return nil
	case "":
		if err := meta.Put(keyRecords, []byte("cbor")); err != nil {
			return err
		}
		return meta.Put(keySchema, []byte(SchemaVersion))
	case "6":
		// Schema 7 reads schema 6's JSON records; convertRecords rewrites them after this.
		log.Info("migrating the state file to a new format", "from_schema", from, "to_schema", SchemaVersion)
		return meta.Put(keySchema, []byte(SchemaVersion))
	case "3", "4", "5":
		// Schemas 4 and 5 only added buckets, created above, and fields that start empty:
		// the first reconciliation sets every task's time in its state and stuck check.
		// Schema 6's index of the tasks in progress is built as convertRecords rewrites
		// each record in schema 7's form.
		log.Info("migrating the state file to a new format", "from_schema", from, "to_schema", SchemaVersion)
		return meta.Put(keySchema, []byte(SchemaVersion))
	case "1", "2":
	default:
		return schemaError(from)
	}
	var stats []any
	if from == "1" {
		n, dropped, err := migrateOutbox1(tx.Bucket(bucketOutbox), log)
		if err != nil {
			return fmt.Errorf("migrate schema 1 to 2: %w", err)
		}
		stats = append(stats, "outbox_entries", n, "dropped_unreadable", dropped)
	}
	n, err := migrate2to3(tx, channel, log)
	if err != nil {
		return fmt.Errorf("migrate schema 2 to 3: %w", err)
	}
	log.Info("migrated the state file to a new format", append([]any{"from_schema", from, "to_schema", SchemaVersion,
		"channel", channel, "threads", n}, stats...)...)
	return meta.Put(keySchema, []byte(SchemaVersion))
}

// seen2 is a task record of schemas 1 and 2: one thread, in the only channel.
type seen2 struct {
	announce.Seen
	MessageTS string `json:"messageTs,omitempty"`
}

// entry2 is an outbox entry of schema 2 (and of schema 1 once migrated to 2): at the top of the
// outbox bucket, its task's error with its whole context.
type entry2 struct {
	announce.Entry
	Task    snapshot2 `json:"task,omitzero"`
	Summary *struct {
		Counts map[tasks.Event]int `json:"counts"`
		First  []struct {
			Event tasks.Event `json:"event"`
			From  tasks.State `json:"from,omitempty"`
			Task  snapshot2   `json:"task"`
		} `json:"first"`
	} `json:"summary,omitempty"`
}

type snapshot2 struct {
	tasks.Snapshot
	Error *struct {
		Domain  string            `json:"domain,omitempty"`
		Code    string            `json:"code,omitempty"`
		Reason  string            `json:"reason,omitempty"`
		Cause   string            `json:"cause,omitempty"`  // a schema-1 entry migrated by this version
		Effect  string            `json:"effect,omitempty"` // idem
		Context map[string]string `json:"context,omitempty"`
	} `json:"error,omitempty"`
}

// snapshot3 is s as schema 3 has it: cause and effect taken out of the error context, and
// whether it failed by the rule of schema 2 (result code error).
func (s snapshot2) snapshot3() tasks.Snapshot {
	out := s.Snapshot
	if e := s.Error; e != nil {
		out.Error = &tasks.SnapshotError{Domain: e.Domain, Code: e.Code, Reason: e.Reason,
			Cause: cmp.Or(e.Cause, e.Context["cause_str"]), Effect: cmp.Or(e.Effect, e.Context["effect_str"])}
	}
	out.Failed = out.Failed || out.State == tasks.Completed && out.Result == tasks.ResultError
	return out
}

// migrate2to3 moves every outbox entry into the bucket of its channel (an entry without one,
// into channel's) and every record's one thread to channel. An entry that does not decode is
// dropped and logged: kept, it would stop the outbox for good. It returns the threads moved.
func migrate2to3(tx *bolt.Tx, channel string, log *slog.Logger) (threads int, err error) {
	ob := tx.Bucket(bucketOutbox)
	type kv struct{ k, v []byte }
	var top []kv
	c := ob.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v != nil { // a value, not a nested bucket
			top = append(top, kv{slices.Clone(k), slices.Clone(v)})
		}
	}
	for _, it := range top {
		if err := ob.Delete(it.k); err != nil {
			return 0, err
		}
		var old entry2
		if err := json.Unmarshal(it.v, &old); err != nil {
			log.Error("dropped an unreadable outbox entry while migrating the state file", "key", fmt.Sprintf("%x", it.k), "err", err)
			continue
		}
		e := old.Entry
		e.Task = old.Task.snapshot3()
		if e.Channel == "" {
			e.Channel = channel
		}
		if old.Summary != nil {
			e.Summary = &announce.Summary{Counts: old.Summary.Counts}
			for _, tr := range old.Summary.First {
				e.Summary.First = append(e.Summary.First, announce.Transition{Event: tr.Event, From: tr.From, Task: tr.Task.snapshot3()})
			}
		}
		cb, err := ob.CreateBucketIfNotExists(channelBucket(e.Channel))
		if err != nil {
			return 0, err
		}
		if err := putJSON(cb, it.k, e); err != nil {
			return 0, err
		}
	}
	tb := tx.Bucket(bucketTasks)
	type rec struct {
		k []byte
		s announce.Seen
	}
	var moved []rec
	if err := tb.ForEach(func(k, v []byte) error {
		var old seen2
		if json.Unmarshal(v, &old) != nil || old.MessageTS == "" {
			return nil
		}
		old.Seen.Key, old.Seen.Threads = string(k), map[string]string{channel: old.MessageTS}
		moved = append(moved, rec{slices.Clone(k), old.Seen})
		return nil
	}); err != nil {
		return 0, err
	}
	for _, r := range moved {
		if err := putJSON(tb, r.k, r.s); err != nil { // convertRecords makes it schema 7's
			return 0, err
		}
	}
	return len(moved), nil
}

// entry1 is an outbox entry of schema 1: the poll's whole API task.
type entry1 struct {
	Seq      uint64      `json:"seq"`
	Event    tasks.Event `json:"event"`
	From     tasks.State `json:"from,omitempty"`
	Task     tasks.Task  `json:"task"`
	QueuedAt time.Time   `json:"queuedAt"`
	Summary  *struct {
		Counts map[tasks.Event]int `json:"counts"`
		First  []struct {
			Event tasks.Event `json:"event"`
			From  tasks.State `json:"from,omitempty"`
			Task  tasks.Task  `json:"task"`
		} `json:"first"`
	} `json:"summary,omitempty"`
}

// failures1 is what schema 1 counted as failed: result code error.
var failures1 = tasks.Failures{tasks.ResultError}

// migrateOutbox1 rewrites every schema-1 outbox entry as an entry of schema 2 (a snapshot
// instead of the whole task), in place; migrate2to3 then files it under its channel. An entry that does not decode is dropped and logged: kept,
// it would stop the outbox for good. Schema-1 task records decode as announce.Seen unchanged.
func migrateOutbox1(ob *bolt.Bucket, log *slog.Logger) (n, dropped int, err error) {
	type kv struct{ k, v []byte }
	var all []kv
	if err := ob.ForEach(func(k, v []byte) error {
		all = append(all, kv{slices.Clone(k), slices.Clone(v)})
		return nil
	}); err != nil {
		return 0, 0, err
	}
	for _, it := range all {
		var old entry1
		if err := json.Unmarshal(it.v, &old); err != nil {
			log.Error("dropped an unreadable outbox entry while migrating the state file", "key", fmt.Sprintf("%x", it.k), "err", err)
			dropped++
			if err := ob.Delete(it.k); err != nil {
				return n, dropped, err
			}
			continue
		}
		e := announce.Entry{Seq: old.Seq, Event: old.Event, From: old.From, QueuedAt: old.QueuedAt}
		if old.Summary != nil {
			e.Summary = &announce.Summary{Counts: old.Summary.Counts}
			for _, tr := range old.Summary.First {
				e.Summary.First = append(e.Summary.First, announce.Transition{Event: tr.Event, From: tr.From, Task: tasks.NewSnapshot(&tr.Task, failures1)})
			}
		} else {
			e.Task = tasks.NewSnapshot(&old.Task, failures1)
		}
		if err := putJSON(ob, it.k, e); err != nil {
			return n, dropped, err
		}
		n++
	}
	return n, dropped, nil
}

// convertBatch is how many records convertRecords rewrites per transaction: a bounded write,
// whatever the file's size.
const convertBatch = 1000

// convertRecords rewrites the task records of schemas 1 to 6 (JSON, under the key's text) as
// schema 7's (CBOR, under recordKey), with their entries in the in-progress and stuck indexes,
// a thousand per transaction, then marks the file done (meta records = cbor) so later opens
// skip the walk. A crash part way leaves a file with both kinds, which this taskbot reads, and
// the next open goes on. An unreadable record is left as it is (prune drops it).
func convertRecords(db *bolt.DB, log *slog.Logger) error {
	var done bool
	if err := db.View(func(tx *bolt.Tx) error {
		done = string(tx.Bucket(bucketMeta).Get(keyRecords)) == "cbor"
		return nil
	}); err != nil || done {
		return err
	}
	log.Info("converting task records to the new format, a thousand per transaction")
	n, inProgress := 0, 0
	for {
		var more bool
		err := db.Update(func(tx *bolt.Tx) error {
			rs, ib, sb := recordsIn(tx), tx.Bucket(bucketInProgress), tx.Bucket(bucketStuck)
			type kv struct{ k, v []byte }
			var batch []kv
			c := rs.tb.Cursor()
			for k, v := c.Seek([]byte{2}); k != nil && len(batch) < convertBatch; k, v = c.Next() {
				if legacyKey(k) {
					batch = append(batch, kv{slices.Clone(k), slices.Clone(v)})
				}
			}
			more = len(batch) == convertBatch
			for _, it := range batch {
				rec, err := rs.decode(it.k, it.v)
				if err != nil {
					continue
				}
				rec.Key = string(it.k)
				for _, del := range []struct {
					b *bolt.Bucket
					k []byte
				}{{rs.tb, it.k}, {ib, it.k}, {sb, append(binary.BigEndian.AppendUint64(nil, uint64(max(rec.StuckDue.UnixNano(), 0))), it.k...)}} {
					if err := del.b.Delete(del.k); err != nil {
						return err
					}
				}
				if err := rs.put(rec); err != nil {
					return err
				}
				if err := indexInProgress(ib, rec, 0); err != nil {
					return err
				}
				if !rec.StuckDue.IsZero() {
					if err := sb.Put(stuckKey(rec.StuckDue, rec.Key), nil); err != nil {
						return err
					}
				}
				n++
				if rec.State.InProgress() {
					inProgress++
				}
			}
			if !more {
				return tx.Bucket(bucketMeta).Put(keyRecords, []byte("cbor"))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("convert task records to schema 7: %w", err)
		}
		if !more {
			break
		}
	}
	if n > 0 {
		// records: converted by this start (one after a crash mid-way goes on where it stopped)
		log.Info("converted task records to the new format", "records", n, "in_progress", inProgress)
	}
	return nil
}
