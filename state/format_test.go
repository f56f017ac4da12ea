package state

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

var update = flag.Bool("update", false, "rewrite testdata/state/format-v<SchemaVersion>.json")

// TestFormatIsPinned pins the encoding of the records and outbox entries of SchemaVersion: a
// field added to announce.Seen, announce.Entry or tasks.Snapshot changes the file format, and
// must come with a schema bump and a migration (format.go), not slip in.
func TestFormatIsPinned(t *testing.T) {
	at := time.Date(2026, 11, 30, 8, 10, 0, 0, time.UTC)
	snap := tasks.Snapshot{Key: "11111111-1111-4111-8111-111111111111", ID: "944455285181775872",
		Title: "Backup plan 'Daily' on SQL-01", Type: "MachineBackup", Queue: "backup", Priority: "normal",
		StartedBy: "ops@example.com", State: tasks.Completed, Result: tasks.ResultError, Failed: true,
		Error: &tasks.SnapshotError{Domain: "Backup", Code: "VolumeNotFound", Reason: "The volume was not found.",
			Cause: "Disk 2 is offline", Effect: "The backup did not run"},
		Blockers: []tasks.SnapshotBlocker{{Issue: "Insert the next tape", Solutions: []string{"retry", "cancel"}}},
		TenantID: "1496265", TenantName: "Customer A Ltd", Machine: "SQL-01", Plan: "Daily",
		EnqueuedAt: at.Add(-time.Hour), AssignedAt: at.Add(-59 * time.Minute), StartedAt: at.Add(-58 * time.Minute),
		UpdatedAt: at, CompletedAt: at, Since: at.Add(-58 * time.Minute)}
	paused := snap
	paused.State, paused.Result, paused.Failed, paused.Error, paused.CompletedAt = tasks.Paused, "", false, nil, time.Time{}
	// Task records are CBOR: pinned in CBOR's diagnostic notation (RFC 8949 §8), and read back
	// as they were.
	records := map[string]announce.Seen{
		"record": {Key: snap.Key, Title: snap.Title, State: tasks.Completed, Result: tasks.ResultError,
			UpdatedAt: at, CompletedAt: at, Threads: map[string]string{"C0123ABCDEF": "1764493200.000100", "C0SUBSCRIBED": ""},
			MissingSince: at.Add(time.Minute)},
		"watched": {Key: snap.Key, Title: snap.Title, State: tasks.Paused, UpdatedAt: at,
			TenantID: "1496265", TenantName: "Customer A Ltd", Since: at.Add(-58 * time.Minute), StuckDue: at.Add(time.Hour), Stuck: 1, Task: &paused},
	}
	doc := map[string]any{"schema": SchemaVersion}
	s := openTest(t, filepath.Join(t.TempDir(), "taskbot.db"), Options{})
	err := s.db.Update(func(tx *bolt.Tx) error {
		rs := recordsIn(tx)
		for _, name := range []string{"record", "watched"} {
			rec := records[name]
			raw, err := rs.encode(rec)
			if err != nil {
				return err
			}
			diag, err := cbor.Diagnose(raw)
			if err != nil {
				return err
			}
			doc[name] = map[string]any{"key": fmt.Sprintf("%x", recordKey(rec.Key)), "bytes": len(raw), "cbor": diag}
			back, err := recordsIn(tx).decode(recordKey(rec.Key), raw) // tenants read from the bucket
			if err != nil || !reflect.DeepEqual(back, rec) {
				t.Errorf("%s read back as\n%+v, %v\nwant\n%+v", name, back, err, rec)
			}
		}
		tenants := map[string]string{}
		tx.Bucket(bucketTenants).ForEach(func(k, v []byte) error {
			tenants[fmt.Sprintf("%q", k)] = fmt.Sprintf("%x", v)
			return nil
		})
		doc["tenants"] = tenants
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{
		"stuck": announce.Entry{Seq: 10, Channel: "C0123ABCDEF", Event: tasks.EventStuck, From: tasks.Paused, Task: paused, QueuedAt: at},
		"history": announce.Record{At: at, Event: tasks.EventFailed, Muted: true, Channel: "C0ACMEALERTS", Key: snap.Key,
			ID: snap.ID, Title: snap.Title, TenantID: snap.TenantID, TenantName: snap.TenantName},
		"digest": announce.Entry{Seq: 11, Channel: "C0123ABCDEF", QueuedAt: at, Digest: &announce.Digest{
			Date: "2026-11-30", Zone: "Europe/Berlin", From: at.Add(-24 * time.Hour), To: at, Failed: 1, Paused: 1, Stuck: 1, Muted: 2,
			Tenants: []announce.DigestTenant{{ID: "1496265", Name: "Customer A Ltd", Failed: 1, Paused: 1, Stuck: 1,
				FailedFirst: []announce.DigestTask{{Key: snap.Key, ID: snap.ID, Title: snap.Title}},
				StuckFirst:  []announce.DigestTask{{Key: snap.Key, ID: snap.ID, Title: snap.Title, State: tasks.Paused, Since: at}}}}}},
		"entry":   announce.Entry{Seq: 7, Channel: "C0123ABCDEF", Event: tasks.EventFailed, From: tasks.Started, Task: snap, QueuedAt: at},
		"refresh": announce.Entry{Seq: 9, Channel: "C0123ABCDEF", Task: snap, QueuedAt: at, Refresh: true},
		"subscription": announce.Subscription{Channel: "C0ACMEALERTS", Tenant: "Acme Corp", Events: []string{"paused", "failed"},
			By: "U0123ABCD", At: at},
		"mute": announce.Mute{N: 3, Kind: announce.MuteTenant, Value: "Acme Corp", Until: at.Add(24 * time.Hour),
			Reason: "maintenance window", By: "U0123ABCD", Channel: "C0ACMEALERTS", At: at},
		"scope": announce.Scope{Channel: "C0ACMESHARED", Tenants: []string{"Acme Corp", "1496265"}, By: "U0123ABCD", At: at},
		"summary": announce.Entry{Seq: 8, Channel: "C0123ABCDEF", QueuedAt: at, Summary: &announce.Summary{
			Counts: map[tasks.Event]int{tasks.EventStarted: 12},
			First:  []announce.Transition{{Event: tasks.EventStarted, Task: tasks.Snapshot{Key: "k", State: tasks.Started}}}}},
	} {
		doc[k] = v
	}
	got, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "testdata", "state", "format-v"+SchemaVersion+".json")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./state -run TestFormatIsPinned -update once for a new schema)", err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Fatalf("the encoding of schema %s changed; bump SchemaVersion and migrate older files (format.go).\ngot:\n%s\nwant:\n%s", SchemaVersion, got, want)
	}
}

// TestMigrateSchema1 opens a state file written by the schema-1 store (testdata/state/v1.db,
// see testdata/README.md) and checks that nothing of it is lost: the baseline, the watermark,
// the thread, the missing mark, and every pending announcement with what it shows.
func TestMigrateSchema1(t *testing.T) {
	raw, err := os.ReadFile("../testdata/state/v1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "taskbot.db")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	const channel = "C0123ABCDEF"
	s := openTest(t, path, Options{Logger: quietTo(&logs), Channel: channel})
	if !strings.Contains(logs.String(), "migrated the state file") || !strings.Contains(logs.String(), "outbox_entries=3") ||
		!strings.Contains(logs.String(), "threads=1") {
		t.Errorf("migration log %q", logs.String())
	}
	if ok, _ := s.Baselined(); !ok {
		t.Error("baseline lost")
	}
	if w, _ := s.Watermark(); !w.Equal(time.Date(2026, 11, 30, 8, 20, 11, 0, time.UTC)) {
		t.Errorf("watermark = %v", w)
	}
	a, ok, err := s.Sighting("11111111-1111-4111-8111-111111111111")
	if err != nil || !ok || a.Threads[channel] != "1764493200.000100" || len(a.Threads) != 1 || a.State != tasks.Completed || a.Result != tasks.ResultError {
		t.Errorf("record of the failed task: %+v, %v, %v", a, ok, err)
	}
	if c, ok, _ := s.Sighting("33333333-3333-4333-8333-333333333333"); !ok || c.MissingSince.IsZero() {
		t.Errorf("record of the missing task: %+v, %v", c, ok)
	}
	if chans, _ := s.Channels(); len(chans) != 1 || chans[0] != channel {
		t.Errorf("outbox channels after migration: %q, want [%s]", chans, channel)
	}
	p, err := s.Pending(channel, 0)
	if err != nil || len(p) != 3 {
		t.Fatalf("pending after migration: %d entries, %v", len(p), err)
	}
	failed := p[0]
	if failed.Event != tasks.EventFailed || failed.From != tasks.Paused || failed.Channel != channel {
		t.Errorf("first entry: %+v", failed)
	}
	want := tasks.Snapshot{Key: "11111111-1111-4111-8111-111111111111", ID: "944455285181775872",
		Title: "Backup plan 'Daily' on SQL-01", TenantName: "Customer A Ltd", Machine: "SQL-01", Plan: "Daily"}
	f := failed.Task
	if f.Key != want.Key || f.ID != want.ID || f.Title != want.Title || f.TenantName != want.TenantName ||
		f.Machine != want.Machine || f.Plan != want.Plan || f.Error == nil || f.Error.Code != "VolumeNotFound" ||
		f.Error.Cause != "Disk 2 is offline" || f.Error.Effect != "The backup did not run" || !f.Failed {
		t.Errorf("migrated snapshot: %+v (error %+v)", f, f.Error)
	}
	if p[1].Event != tasks.EventResumed || p[1].Task.Title != "Backup plan 'R&D <nightly>' on FS-02" {
		t.Errorf("second entry: %+v", p[1])
	}
	sum := p[2].Summary
	if sum == nil || sum.Total() != 12 || len(sum.First) != 10 || sum.First[0].Task.Title != "Flood task A" {
		t.Errorf("migrated summary: %+v", sum)
	}
	if p[0].Seq >= p[1].Seq || p[1].Seq >= p[2].Seq {
		t.Errorf("sequence order lost: %d %d %d", p[0].Seq, p[1].Seq, p[2].Seq)
	}

	// The migrated file is of this schema for good: reopening migrates nothing.
	s.Close()
	logs.Reset()
	s = openTest(t, path, Options{Logger: quietTo(&logs), Channel: channel})
	if strings.Contains(logs.String(), "migrated") {
		t.Errorf("second open migrated again: %s", logs.String())
	}
	s.db.View(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket(bucketMeta).Get(keySchema)); v != SchemaVersion {
			t.Errorf("schema = %q", v)
		}
		return nil
	})
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taskbot.db")
	s := openTest(t, path, Options{})
	s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) })
	s.Close()
	_, err := Open(path, Options{Logger: quiet()})
	if err == nil || !strings.Contains(err.Error(), `schema version "99"`) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a schema-99 file: %v", err)
	}
}

// TestMigrateSchema5BuildsTheInProgressIndex: a file of schema 5 has no index of the tasks in
// progress; opening it builds one from the records, so the first reconciliation looks up the
// right tasks.
func TestMigrateSchema5BuildsTheInProgressIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taskbot.db")
	s := openTest(t, path, Options{})
	for _, rec := range []announce.Seen{{Key: "a", State: tasks.Paused}, {Key: "b", State: tasks.Completed}, {Key: "c", State: tasks.Started}} {
		s.db.Update(func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bucketTasks), []byte(rec.Key), rec) })
	}
	s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketInProgress); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte("5"))
	})
	s.Close()
	s = openTest(t, path, Options{})
	if keys, err := s.InProgressKeys(); err != nil || strings.Join(keys, ",") != "a,c" {
		t.Errorf("InProgressKeys after migrating schema 5 = %q, %v; want a,c", keys, err)
	}
}

// TestMigrateSchema6ConvertsRecords: a schema-6 file's JSON task records are rewritten in CBOR
// in batches (more records than one batch here), read back as they were, the file is marked
// converted, and a record that does not decode is left for prune instead of failing the open.
func TestMigrateSchema6ConvertsRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taskbot.db")
	s := openTest(t, path, Options{})
	at := time.Date(2026, 11, 30, 8, 10, 0, 0, time.UTC)
	n := convertBatch + 500
	want := map[string]announce.Seen{}
	err := s.db.Update(func(tx *bolt.Tx) error {
		tb := tx.Bucket(bucketTasks)
		for i := range n {
			rec := announce.Seen{Key: fmt.Sprintf("k%05d", i), Title: fmt.Sprintf("Backup %d", i), State: tasks.Paused,
				UpdatedAt: at.Add(time.Duration(i) * time.Second), TenantID: "1001", TenantName: "Acme", Since: at}
			if i%100 == 0 {
				snap := tasks.Snapshot{Key: rec.Key, ID: "9440" + rec.Key, Title: rec.Title, Type: "MachineBackup", State: tasks.Paused,
					TenantID: "1001", TenantName: "Acme", UpdatedAt: rec.UpdatedAt, Since: at, Machine: "SQL-01"}
				rec.StuckDue, rec.Task = at.Add(time.Hour), &snap
			}
			want[rec.Key] = rec
			if err := putJSON(tb, []byte(rec.Key), rec); err != nil {
				return err
			}
		}
		if err := tb.Put([]byte("zz-broken"), []byte("{not json")); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Delete(keyRecords); err != nil {
			return err
		}
		return meta.Put(keySchema, []byte("6"))
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTest(t, path, Options{})
	err = s.db.View(func(tx *bolt.Tx) error {
		if got := string(tx.Bucket(bucketMeta).Get(keySchema)); got != SchemaVersion {
			t.Errorf("schema %q, want %q", got, SchemaVersion)
		}
		if got := string(tx.Bucket(bucketMeta).Get(keyRecords)); got != "cbor" {
			t.Errorf("records %q, want cbor", got)
		}
		jsonLeft := 0
		tx.Bucket(bucketTasks).ForEach(func(k, v []byte) error {
			if v[0] == '{' && string(k) != "zz-broken" {
				jsonLeft++
			}
			return nil
		})
		if jsonLeft != 0 {
			t.Errorf("%d records still in JSON", jsonLeft)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, rec := range want {
		got, ok, err := s.Sighting(k)
		if err != nil || !ok || !reflect.DeepEqual(got, rec) {
			t.Fatalf("%s after the conversion:\n%+v, %v, %v\nwant\n%+v", k, got, ok, err, rec)
		}
	}
}

// TestRecordKeys: every task key comes back exactly from its stored form; a canonical UUID
// takes 17 bytes; a key of schema 6 or older (its bare text) reads as itself.
func TestRecordKeys(t *testing.T) {
	for _, key := range []string{"6c2b0b43-5d1c-4f10-9a35-0e8c6c1b2f77", "6C2B0B43-5D1C-4F10-9A35-0E8C6C1B2F77",
		"944455285181775872", "1234567890123456", "", "\x01odd", "not-a-uuid-0000-0000-000000000000"} {
		k := recordKey(key)
		if got := keyOfRecord(k); got != key {
			t.Errorf("recordKey(%q) = %x reads back as %q", key, k, got)
		}
		if legacyKey(k) {
			t.Errorf("recordKey(%q) = %x looks like a schema-6 key", key, k)
		}
	}
	if k := recordKey("6c2b0b43-5d1c-4f10-9a35-0e8c6c1b2f77"); len(k) != 17 {
		t.Errorf("a UUID's key takes %d bytes, want 17", len(k))
	}
	if got := keyOfRecord([]byte("6c2b0b43-5d1c-4f10-9a35-0e8c6c1b2f77")); got != "6c2b0b43-5d1c-4f10-9a35-0e8c6c1b2f77" {
		t.Errorf("a schema-6 key reads as %q", got)
	}
}

// TestTenantsAreNumberedOnce: records of one tenant share its number; a renamed tenant gets a
// new one, and each record reads back with the name it was stored with.
func TestTenantsAreNumberedOnce(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "taskbot.db"), Options{})
	recs := []announce.Seen{
		{Key: "a", State: tasks.Paused, TenantID: "1001", TenantName: "Acme"},
		{Key: "b", State: tasks.Paused, TenantID: "1001", TenantName: "Acme"},
		{Key: "c", State: tasks.Paused, TenantID: "1001", TenantName: "Acme Corp"},
		{Key: "d", State: tasks.Paused},
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		rs := recordsIn(tx)
		for _, r := range recs {
			if err := rs.put(r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketTenants).Stats().KeyN; n != 4 {
			t.Errorf("tenants bucket holds %d keys, want 4 (two tenants, both ways)", n)
		}
		return nil
	})
	for _, want := range recs {
		got, ok, err := s.Sighting(want.Key)
		if err != nil || !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s reads back as %+v, %v, %v", want.Key, got, ok, err)
		}
	}
}
