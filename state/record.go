package state

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// record is a task record as the tasks bucket stores it from schema 7 on: an announce.Seen in
// CBOR (RFC 8949) as a map keyed by small integers, empty fields left out, times as Unix
// nanoseconds (exact, in UTC), the tenant as a number (the tenants bucket names it once for all
// its tasks), and without its key (the bucket's key, recordKey). Its snapshot, kept while a
// stuck check is due, leaves out what the record already says. A task in progress takes about
// 75 bytes and a 17-byte key, where schema 6's JSON took 275 and a 36-byte key: the state file
// of a 100,000-task account, and the pages of it that bbolt maps into memory, shrink by about
// as much.
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
	// Tenant numbers the tenant (its id and name) in the tenants bucket; 0: none.
	Tenant   uint32          `cbor:"8,keyasint,omitempty"`
	Since    int64           `cbor:"10,keyasint,omitempty"`
	StuckDue int64           `cbor:"11,keyasint,omitempty"`
	Stuck    int             `cbor:"12,keyasint,omitempty"`
	Task     *snapshotRecord `cbor:"13,keyasint,omitempty"`
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

// records reads and writes the task records of one transaction: the tasks bucket, and the
// tenants bucket their tenants are numbered in (cached for the transaction).
type records struct {
	tb, tenants *bolt.Bucket
	names       map[uint32]tenantName // number → tenant, read so far
	numbers     map[tenantName]uint32 // tenant → number, read or given so far
}

// tenantName is a tenant as a record names it.
type tenantName struct{ ID, Name string }

func recordsIn(tx *bolt.Tx) *records {
	return &records{tb: tx.Bucket(bucketTasks), tenants: tx.Bucket(bucketTenants),
		names: map[uint32]tenantName{}, numbers: map[tenantName]uint32{}}
}

// The tenants bucket: 'n' and a big-endian uint32 N → CBOR [id, name]; 'k', id, NUL, name → N.
// A renamed tenant gets a new number; numbers are never reused.
func tenantNumberKey(n uint32) []byte { return binary.BigEndian.AppendUint32([]byte{'n'}, n) }

func tenantNameKey(t tenantName) []byte {
	return append(append(append([]byte{'k'}, t.ID...), 0), t.Name...)
}

// tenantNumber is t's number, given the next one when t is new (in a writable transaction).
func (r *records) tenantNumber(t tenantName) (uint32, error) {
	if t == (tenantName{}) {
		return 0, nil
	}
	if n, ok := r.numbers[t]; ok {
		return n, nil
	}
	if v := r.tenants.Get(tenantNameKey(t)); len(v) == 4 {
		n := binary.BigEndian.Uint32(v)
		r.numbers[t], r.names[n] = n, t
		return n, nil
	}
	seq, err := r.tenants.NextSequence()
	if err != nil {
		return 0, err
	}
	if seq > math.MaxUint32 {
		return 0, fmt.Errorf("tenant numbers exhausted")
	}
	n := uint32(seq)
	raw, err := recordEnc.Marshal([]string{t.ID, t.Name})
	if err != nil {
		return 0, err
	}
	if err := r.tenants.Put(tenantNumberKey(n), raw); err != nil {
		return 0, err
	}
	if err := r.tenants.Put(tenantNameKey(t), binary.BigEndian.AppendUint32(nil, n)); err != nil {
		return 0, err
	}
	r.numbers[t], r.names[n] = n, t
	return n, nil
}

// tenant is the tenant numbered n.
func (r *records) tenant(n uint32) (tenantName, error) {
	if n == 0 {
		return tenantName{}, nil
	}
	if t, ok := r.names[n]; ok {
		return t, nil
	}
	var pair []string
	if err := recordDec.Unmarshal(r.tenants.Get(tenantNumberKey(n)), &pair); err != nil || len(pair) != 2 {
		return tenantName{}, fmt.Errorf("tenant %d: not in the tenants bucket (%v)", n, err)
	}
	t := tenantName{pair[0], pair[1]}
	r.names[n] = t
	return t, nil
}

// recordKey is the key a task is stored under in the tasks bucket and the in-progress and
// stuck indexes (schema 7): a UUID in canonical text form (lower case) as 0x01 and its 16
// bytes, any other key as 0x00 and the key's text.
func recordKey(key string) []byte {
	if u, ok := tasks.UUIDBytes(key); ok && strings.ToLower(key) == key {
		return append([]byte{1}, u[:]...)
	}
	return append([]byte{0}, key...)
}

// keyOfRecord is the task key recordKey stored as k. A key of schema 6 or older (the key's
// text, starting with neither byte) is itself.
func keyOfRecord(k []byte) string {
	switch {
	case len(k) == 17 && k[0] == 1:
		var b [36]byte
		hex.Encode(b[:8], k[1:5])
		b[8] = '-'
		hex.Encode(b[9:13], k[5:7])
		b[13] = '-'
		hex.Encode(b[14:18], k[7:9])
		b[18] = '-'
		hex.Encode(b[19:23], k[9:11])
		b[23] = '-'
		hex.Encode(b[24:], k[11:17])
		return string(b[:])
	case len(k) > 0 && k[0] == 0:
		return string(k[1:])
	}
	return string(k)
}

// legacyKey reports whether k is a key of schema 6 or older, as convertRecords finds them.
func legacyKey(k []byte) bool { return len(k) > 0 && k[0] > 1 }

// encode is rec as the tasks bucket stores it (schema 7).
func (r *records) encode(rec announce.Seen) ([]byte, error) {
	tn, err := r.tenantNumber(tenantName{rec.TenantID, rec.TenantName})
	if err != nil {
		return nil, err
	}
	rr := record{Title: rec.Title, State: rec.State, Result: rec.Result, UpdatedAt: unixNano(rec.UpdatedAt),
		CompletedAt: unixNano(rec.CompletedAt), Threads: rec.Threads, MissingSince: unixNano(rec.MissingSince),
		Tenant: tn, Since: unixNano(rec.Since), StuckDue: unixNano(rec.StuckDue), Stuck: rec.Stuck}
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
		rr.Task = s
	}
	return recordEnc.Marshal(rr)
}

// decode reads the record stored under k: CBOR (schema 7), or the JSON of schemas 1 to 6 (an
// object, so its first byte is '{', which no CBOR record starts with).
func (r *records) decode(k, raw []byte) (announce.Seen, error) {
	key := keyOfRecord(k)
	if len(raw) > 0 && raw[0] == '{' {
		var rec announce.Seen
		if err := json.Unmarshal(raw, &rec); err != nil {
			return rec, fmt.Errorf("decode record %s: %w", key, err)
		}
		if rec.Key == "" {
			rec.Key = key
		}
		return rec, nil
	}
	var rr record
	if err := recordDec.Unmarshal(raw, &rr); err != nil {
		return announce.Seen{}, fmt.Errorf("decode record %s: %w", key, err)
	}
	tn, err := r.tenant(rr.Tenant)
	if err != nil {
		return announce.Seen{}, fmt.Errorf("decode record %s: %w", key, err)
	}
	rec := announce.Seen{Key: key, Title: rr.Title, State: rr.State, Result: rr.Result,
		UpdatedAt: fromUnixNano(rr.UpdatedAt), CompletedAt: fromUnixNano(rr.CompletedAt), Threads: rr.Threads,
		MissingSince: fromUnixNano(rr.MissingSince), TenantID: tn.ID, TenantName: tn.Name,
		Since: fromUnixNano(rr.Since), StuckDue: fromUnixNano(rr.StuckDue), Stuck: rr.Stuck}
	if s := rr.Task; s != nil {
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

// get reads the record of the task with key; found false when there is none.
func (r *records) get(key string) (rec announce.Seen, found bool, err error) {
	k := recordKey(key)
	raw := r.tb.Get(k)
	if raw == nil {
		return rec, false, nil
	}
	rec, err = r.decode(k, raw)
	return rec, err == nil, err
}

// put stores rec under its key.
func (r *records) put(rec announce.Seen) error {
	raw, err := r.encode(rec)
	if err != nil {
		return err
	}
	return r.tb.Put(recordKey(rec.Key), raw)
}
