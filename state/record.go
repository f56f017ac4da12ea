package state

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// record is a task record as the tasks bucket stores it from schema 7 on: an announce.Seen in
// CBOR (RFC 8949) as a map keyed by small integers, empty fields left out, times as Unix
// nanoseconds (exact, in UTC), and without its key (the bucket's key). Its snapshot, kept while
// a stuck check is due, leaves out what the record already says. A task in progress takes
// about 110 bytes, where schema 6's JSON took 275: the state file of a 100,000-task account, and
// the pages of it that bbolt maps into memory, shrink by about as much.
//
// CBOR by github.com/fxamacker/cbor, the codec Kubernetes serves its CBOR with: a binary,
// self-describing format whose integer keys keep the fields of older and newer taskbots apart
// the way JSON's names did.
type record struct {
	Title        string            `cbor:"1,keyasint,omitempty"`
	State        tasks.State       `cbor:"2,keyasint,omitempty"`
	Result       tasks.ResultCode  `cbor:"3,keyasint,omitempty"`
	UpdatedAt    int64             `cbor:"4,keyasint,omitempty"`
	CompletedAt  int64             `cbor:"5,keyasint,omitempty"`
	Threads      map[string]string `cbor:"6,keyasint,omitempty"`
	MissingSince int64             `cbor:"7,keyasint,omitempty"`
	TenantID     string            `cbor:"8,keyasint,omitempty"`
	TenantName   string            `cbor:"9,keyasint,omitempty"`
	Since        int64             `cbor:"10,keyasint,omitempty"`
	StuckDue     int64             `cbor:"11,keyasint,omitempty"`
	Stuck        int               `cbor:"12,keyasint,omitempty"`
	Task         *snapshotRecord   `cbor:"13,keyasint,omitempty"`
}

// snapshotRecord is a record's tasks.Snapshot, times as Unix nanoseconds. Its fields 16–22 are
// ones the record holds too (title, state, tenant, updatedAt, since, key): each is stored only
// when it differs from the record's, and read back from the record when left out; the id is
// left out when it is the key. So a snapshot costs only what the record does not say.
type snapshotRecord struct {
	ID          string                  `cbor:"1,keyasint,omitempty"`
	Type        string                  `cbor:"2,keyasint,omitempty"`
	Queue       string                  `cbor:"3,keyasint,omitempty"`
	Priority    string                  `cbor:"4,keyasint,omitempty"`
	StartedBy   string                  `cbor:"5,keyasint,omitempty"`
	Result      tasks.ResultCode        `cbor:"6,keyasint,omitempty"`
	Failed      bool                    `cbor:"7,keyasint,omitempty"`
	Error       *tasks.SnapshotError    `cbor:"8,keyasint,omitempty"`
	Blockers    []tasks.SnapshotBlocker `cbor:"9,keyasint,omitempty"`
	Machine     string                  `cbor:"10,keyasint,omitempty"`
	Plan        string                  `cbor:"11,keyasint,omitempty"`
	EnqueuedAt  int64                   `cbor:"12,keyasint,omitempty"`
	AssignedAt  int64                   `cbor:"13,keyasint,omitempty"`
	StartedAt   int64                   `cbor:"14,keyasint,omitempty"`
	CompletedAt int64                   `cbor:"15,keyasint,omitempty"`
	Title       string                  `cbor:"16,keyasint,omitempty"`
	State       tasks.State             `cbor:"17,keyasint,omitempty"`
	TenantID    string                  `cbor:"18,keyasint,omitempty"`
	TenantName  string                  `cbor:"19,keyasint,omitempty"`
	UpdatedAt   int64                   `cbor:"20,keyasint,omitempty"`
	Since       int64                   `cbor:"21,keyasint,omitempty"`
	Key         string                  `cbor:"22,keyasint,omitempty"`
}

var (
	recordEnc = mustEncMode()
	recordDec = mustDecMode()
)

func mustEncMode() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode() // deterministic: equal records, equal bytes
	if err != nil {
		panic(err)
	}
	return m
}

func mustDecMode() cbor.DecMode {
	// Limits well above any record (a snapshot's texts are bounded), far below what would
	// exhaust memory on a corrupted one.
	m, err := cbor.DecOptions{MaxArrayElements: 1 << 16, MaxMapPairs: 1 << 16, MaxNestedLevels: 16}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}

// unixNano is t as Unix nanoseconds, 0 for the zero time.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromUnixNano is unixNano's inverse: the zero time for 0, else the time in UTC.
func fromUnixNano(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// encodeRecord is rec as the tasks bucket stores it (schema 7).
func encodeRecord(rec announce.Seen) ([]byte, error) {
	r := record{Title: rec.Title, State: rec.State, Result: rec.Result, UpdatedAt: unixNano(rec.UpdatedAt),
		CompletedAt: unixNano(rec.CompletedAt), Threads: rec.Threads, MissingSince: unixNano(rec.MissingSince),
		TenantID: rec.TenantID, TenantName: rec.TenantName, Since: unixNano(rec.Since),
		StuckDue: unixNano(rec.StuckDue), Stuck: rec.Stuck}
	if t := rec.Task; t != nil {
		differs := func(a, b string) string {
			if a == b {
				return ""
			}
			return a
		}
		s := &snapshotRecord{ID: differs(t.ID, rec.Key), Type: t.Type, Queue: t.Queue, Priority: t.Priority,
			StartedBy: t.StartedBy, Result: t.Result, Failed: t.Failed, Error: t.Error, Blockers: t.Blockers,
			Machine: t.Machine, Plan: t.Plan, EnqueuedAt: unixNano(t.EnqueuedAt), AssignedAt: unixNano(t.AssignedAt),
			StartedAt: unixNano(t.StartedAt), CompletedAt: unixNano(t.CompletedAt),
			Title: differs(t.Title, rec.Title), State: tasks.State(differs(string(t.State), string(rec.State))),
			TenantID: differs(t.TenantID, rec.TenantID), TenantName: differs(t.TenantName, rec.TenantName),
			Key: differs(t.Key, rec.Key)}
		if !t.UpdatedAt.Equal(rec.UpdatedAt) {
			s.UpdatedAt = unixNano(t.UpdatedAt)
		}
		if !t.Since.Equal(rec.Since) {
			s.Since = unixNano(t.Since)
		}
		r.Task = s
	}
	return recordEnc.Marshal(r)
}

// decodeRecord reads the record stored under key: CBOR (schema 7), or the JSON of schemas 1 to
// 6 (an object, so its first byte is '{', which no CBOR record starts with).
func decodeRecord(key, raw []byte) (announce.Seen, error) {
	if len(raw) > 0 && raw[0] == '{' {
		var rec announce.Seen
		if err := json.Unmarshal(raw, &rec); err != nil {
			return rec, fmt.Errorf("decode record %s: %w", key, err)
		}
		if rec.Key == "" {
			rec.Key = string(key)
		}
		return rec, nil
	}
	var r record
	if err := recordDec.Unmarshal(raw, &r); err != nil {
		return announce.Seen{}, fmt.Errorf("decode record %s: %w", key, err)
	}
	rec := announce.Seen{Key: string(key), Title: r.Title, State: r.State, Result: r.Result,
		UpdatedAt: fromUnixNano(r.UpdatedAt), CompletedAt: fromUnixNano(r.CompletedAt), Threads: r.Threads,
		MissingSince: fromUnixNano(r.MissingSince), TenantID: r.TenantID, TenantName: r.TenantName,
		Since: fromUnixNano(r.Since), StuckDue: fromUnixNano(r.StuckDue), Stuck: r.Stuck}
	if s := r.Task; s != nil {
		or := func(a, b string) string {
			if a != "" {
				return a
			}
			return b
		}
		t := &tasks.Snapshot{Key: or(s.Key, rec.Key), ID: or(s.ID, rec.Key), Title: or(s.Title, rec.Title),
			Type: s.Type, Queue: s.Queue, Priority: s.Priority, StartedBy: s.StartedBy,
			State: tasks.State(or(string(s.State), string(rec.State))), Result: s.Result, Failed: s.Failed,
			Error: s.Error, Blockers: s.Blockers, TenantID: or(s.TenantID, rec.TenantID),
			TenantName: or(s.TenantName, rec.TenantName), Machine: s.Machine, Plan: s.Plan,
			EnqueuedAt: fromUnixNano(s.EnqueuedAt), AssignedAt: fromUnixNano(s.AssignedAt),
			StartedAt: fromUnixNano(s.StartedAt), UpdatedAt: rec.UpdatedAt,
			CompletedAt: fromUnixNano(s.CompletedAt), Since: rec.Since}
		if s.UpdatedAt != 0 {
			t.UpdatedAt = fromUnixNano(s.UpdatedAt)
		}
		if s.Since != 0 {
			t.Since = fromUnixNano(s.Since)
		}
		rec.Task = t
	}
	return rec, nil
}

// getRecord reads the record of key from the tasks bucket tb; found false when there is none.
func getRecord(tb *bolt.Bucket, key []byte) (rec announce.Seen, found bool, err error) {
	raw := tb.Get(key)
	if raw == nil {
		return rec, false, nil
	}
	rec, err = decodeRecord(key, raw)
	return rec, err == nil, err
}

// putRecord stores rec under its key in the tasks bucket tb.
func putRecord(tb *bolt.Bucket, rec announce.Seen) error {
	raw, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	return tb.Put([]byte(rec.Key), raw)
}
