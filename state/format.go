package state

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// The file format, schema 2. Three buckets:
//
//	tasks   task key (uuid) → announce.Seen as JSON: the last sighting of the task
//	outbox  big-endian uint64 sequence → announce.Entry as JSON: a pending announcement, whose
//	        task is a tasks.Snapshot (a narrow, fixed set of fields), never the API's whole task
//	meta    schema → "2"; baseline → RFC 3339 time of the silent baseline; watermark → RFC 3339
//
// TestFormatIsPinned compares the encoding of a Seen and an Entry with
// testdata/state/format-v2.json: a change to either type fails it, and must come with a new
// SchemaVersion and a migration below.
var (
	bucketTasks  = []byte("tasks")
	bucketOutbox = []byte("outbox")
	bucketMeta   = []byte("meta")

	keySchema    = []byte("schema")
	keyBaseline  = []byte("baseline")
	keyWatermark = []byte("watermark")
)

// SchemaVersion is the layout version this taskbot writes and reads.
//
// History: "1" (up to commit e32f5d7) stored the API's whole task in outbox entries; "2" stores
// a tasks.Snapshot and the entry's channel.
const SchemaVersion = "2"

// migrate brings a file of any known schema to SchemaVersion inside tx: a new file gets the
// buckets and the version; a schema-1 file has its outbox entries rewritten as schema 2. A file
// of an unknown (newer) schema is refused, unchanged.
func migrate(tx *bolt.Tx, log *slog.Logger) error {
	for _, b := range [][]byte{bucketTasks, bucketOutbox, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	switch v := string(meta.Get(keySchema)); v {
	case SchemaVersion:
		return nil
	case "":
		return meta.Put(keySchema, []byte(SchemaVersion))
	case "1":
		n, dropped, err := migrateOutbox1(tx.Bucket(bucketOutbox), log)
		if err != nil {
			return fmt.Errorf("migrate schema 1 to %s: %w", SchemaVersion, err)
		}
		log.Info("migrated the state file to a new format", "from_schema", v, "to_schema", SchemaVersion,
			"outbox_entries", n, "dropped_unreadable", dropped)
		return meta.Put(keySchema, []byte(SchemaVersion))
	default:
		return fmt.Errorf("schema version %q, this taskbot understands %q and older (is the file from a newer taskbot?)", v, SchemaVersion)
	}
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

// migrateOutbox1 rewrites every schema-1 outbox entry as an announce.Entry for the default
// channel (schema 1 had one channel). An entry that does not decode is dropped and logged: kept,
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
				e.Summary.First = append(e.Summary.First, announce.Transition{Event: tr.Event, From: tr.From, Task: tasks.NewSnapshot(&tr.Task)})
			}
		} else {
			e.Task = tasks.NewSnapshot(&old.Task)
		}
		if err := putJSON(ob, it.k, e); err != nil {
			return n, dropped, err
		}
		n++
	}
	return n, dropped, nil
}
