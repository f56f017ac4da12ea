package state

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// TestSettingsSurviveAReopen: subscriptions (one per channel and tenant), mutes (numbered, never
// reused), scopes and the button key are in the file.
func TestSettingsSurviveAReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taskbot.db")
	s, err := Open(path, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	key, err := s.ButtonKey()
	if err != nil || len(key) != 32 {
		t.Fatalf("ButtonKey = %x, %v", key, err)
	}
	for _, sub := range []announce.Subscription{
		{Channel: "CACME", Tenant: "Acme Corp", Events: []string{"paused"}},
		{Channel: "CACME", Tenant: "ACME CORP", Events: []string{"failed"}}, // replaces the first
		{Channel: "CACME", Tenant: "Beta", Events: []string{"failed"}},
		{Channel: "CALL", Events: []string{"failed"}},
	} {
		if _, err := s.Subscribe(sub); err != nil {
			t.Fatal(err)
		}
	}
	m1, _, _, _ := s.AddMute(announce.Mute{Kind: announce.MuteTenant, Value: "Acme Corp", Until: t0.Add(time.Hour)})
	m2, _, _, _ := s.AddMute(announce.Mute{Kind: announce.MuteTask, Value: "944455285181775872", Until: t0.Add(time.Hour)})
	if m1.N != 1 || m2.N != 2 {
		t.Fatalf("mute numbers %d, %d", m1.N, m2.N)
	}
	if _, found, _ := s.Unmute(1); !found {
		t.Fatal("unmute 1 found nothing")
	}
	if m3, _, _, _ := s.AddMute(announce.Mute{Kind: announce.MutePlan, Value: "Daily", Until: t0.Add(time.Hour)}); m3.N != 3 {
		t.Errorf("a new mute got number %d, want 3 (never reused)", m3.N)
	}
	if _, err := s.SetScope(announce.Scope{Channel: "CSHARED", Tenants: []string{"Acme Corp"}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openTest(t, path, Options{})
	subs, _ := s.Subscriptions()
	if len(subs) != 3 || subs[0].Channel != "CACME" || subs[0].Events[0] != "failed" {
		t.Errorf("subscriptions after reopen: %+v", subs)
	}
	if removed, _ := s.Unsubscribe("CACME", []string{"beta"}); len(removed) != 1 || removed[0].Tenant != "Beta" {
		t.Errorf("unsubscribe tenant:beta removed %+v", removed)
	}
	if removed, _ := s.Unsubscribe("CACME", nil); len(removed) != 1 {
		t.Errorf("unsubscribe (all) removed %+v", removed)
	}
	mutes, _ := s.Mutes()
	if len(mutes) != 2 || mutes[0].N != 2 || mutes[1].N != 3 {
		t.Errorf("mutes after reopen: %+v", mutes)
	}
	if sc, ok, _ := s.Scope("CSHARED"); !ok || sc.Tenants[0] != "Acme Corp" {
		t.Errorf("scope after reopen: %+v, %v", sc, ok)
	}
	if k2, _ := s.ButtonKey(); !bytes.Equal(k2, key) {
		t.Error("the button key changed across a reopen")
	}
	if had, _ := s.ClearScope("CSHARED"); !had {
		t.Error("ClearScope found no scope")
	}
}

// TestMuteOfTheSameTarget: muting a target again makes no second mute while the first lasts as
// long; a longer one replaces the shorter, in one transaction; an ended one does not count.
func TestMuteOfTheSameTarget(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "taskbot.db"), Options{})
	acme := func(until time.Duration, at time.Time) announce.Mute {
		return announce.Mute{Kind: announce.MuteTenant, Value: "Acme Corp", Until: t0.Add(until), At: at}
	}
	first, _, existing, err := s.AddMute(acme(2*time.Hour, t0))
	if err != nil || existing || first.N != 1 {
		t.Fatalf("first mute: %+v, existing %v, %v", first, existing, err)
	}
	// The same tenant in other case, for less time: the first stays, nothing is stored.
	again := acme(time.Hour, t0)
	again.Value = " ACME corp"
	if got, replaced, existing, _ := s.AddMute(again); !existing || got.N != 1 || len(replaced) != 0 {
		t.Errorf("a shorter mute of the same tenant: %+v, replaced %v, existing %v", got, replaced, existing)
	}
	// Longer: it replaces the first.
	longer, replaced, existing, _ := s.AddMute(acme(5*time.Hour, t0))
	if existing || longer.N != 2 || !slices.Equal(replaced, []uint64{1}) {
		t.Errorf("a longer mute: %+v, replaced %v, existing %v", longer, replaced, existing)
	}
	// Another kind with the same value is another target.
	if plan, _, existing, _ := s.AddMute(announce.Mute{Kind: announce.MutePlan, Value: "Acme Corp", Until: t0.Add(time.Hour), At: t0}); existing || plan.N != 3 {
		t.Errorf("a plan named like the tenant: %+v, existing %v", plan, existing)
	}
	// After the longer one ended, a new mute is new.
	if later, replaced, existing, _ := s.AddMute(acme(7*time.Hour, t0.Add(6*time.Hour))); existing || later.N != 4 || len(replaced) != 0 {
		t.Errorf("a mute after the last ended: %+v, replaced %v, existing %v", later, replaced, existing)
	}
	if ms, _ := s.Mutes(); len(ms) != 3 {
		t.Errorf("mutes: %+v, want numbers 2, 3 and 4", ms)
	}
}

// TestExpiredMutesArePruned: a mute that ended is deleted by the next prune.
func TestExpiredMutesArePruned(t *testing.T) {
	now := t0
	s := openTest(t, filepath.Join(t.TempDir(), "taskbot.db"), Options{PruneEvery: time.Nanosecond, Now: func() time.Time { return now }})
	s.AddMute(announce.Mute{Kind: announce.MuteTenant, Value: "Acme", Until: t0.Add(time.Hour)})
	s.AddMute(announce.Mute{Kind: announce.MuteTenant, Value: "Beta", Until: t0.Add(3 * time.Hour)})
	now = t0.Add(2 * time.Hour)
	if _, err := apply(s, announce.Poll{}); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Mutes(); len(m) != 1 || m[0].Value != "Beta" {
		t.Errorf("mutes after the first expired: %+v", m)
	}
}

// TestScopeNarrowsSubscriptions: scoping a channel removes its subscriptions of other tenants
// and turns one for all tenants into one per scope tenant, in the same transaction; other
// channels' subscriptions are left alone.
func TestScopeNarrowsSubscriptions(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "taskbot.db"), Options{})
	for _, sub := range []announce.Subscription{
		{Channel: "CSHARED", Events: []string{"paused", "failed"}, By: "U1"},
		{Channel: "CSHARED", Tenant: "Beta Industries", Events: []string{"failed"}},
		{Channel: "CSHARED", Tenant: "ACME", Events: []string{"started"}},
		{Channel: "COPS", Events: []string{"failed"}},
	} {
		if _, err := s.Subscribe(sub); err != nil {
			t.Fatal(err)
		}
	}
	sc := announce.Scope{Channel: "CSHARED", Tenants: []string{"acme", "Gamma"}, Resolved: []announce.ScopeTenant{{Word: "acme", ID: "t-acme", Name: "Acme"}}}
	change, err := s.SetScope(sc)
	removed, added := change.Removed, change.Added
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 || removed[0].Tenant != "" && removed[1].Tenant != "" {
		t.Errorf("removed %+v, want the all-tenants one and Beta's", removed)
	}
	if len(added) != 1 || added[0].Tenant != "Gamma" || !slices.Equal(added[0].Events, []string{"paused", "failed"}) || added[0].By != "U1" {
		t.Errorf("added %+v, want Gamma with the all-tenants events (Acme keeps its own)", added)
	}
	subs, _ := s.Subscriptions()
	var got []string
	for _, sub := range subs {
		got = append(got, sub.Channel+"/"+sub.Tenant)
	}
	slices.Sort(got)
	if want := []string{"COPS/", "CSHARED/ACME", "CSHARED/Gamma"}; !slices.Equal(got, want) {
		t.Errorf("subscriptions %q, want %q", got, want)
	}
}

// TestScopeWithdrawsQueuedAnnouncements: announcements routed to a channel before it was scoped
// and still queued are not delivered about other tenants once it is: scoping removes them (and
// thread refreshes about them) from the channel's outbox in the same transaction, narrows a
// queued flood summary to the transitions it lists of the scope's tenants, and leaves the
// entries in scope and other channels' entries alone.
func TestScopeWithdrawsQueuedAnnouncements(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "taskbot.db"), Options{})
	acme := tasks.Snapshot{Key: "1", ID: "1", Title: "Backup of acme-db", TenantID: "t-acme", TenantName: "Acme"}
	beta := tasks.Snapshot{Key: "2", ID: "2", Title: "Backup of beta-fs", TenantID: "t-beta", TenantName: "Beta Industries"}
	queue := []announce.Entry{
		{Channel: "CSHARED", Event: tasks.EventFailed, Task: beta},
		{Channel: "CSHARED", Event: tasks.EventFailed, Task: acme},
		{Channel: "CSHARED", Refresh: true, Task: beta},
		{Channel: "CSHARED", Summary: &announce.Summary{
			Counts: map[tasks.Event]int{tasks.EventPaused: 30},
			First:  []announce.Transition{{Event: tasks.EventPaused, Task: beta}, {Event: tasks.EventPaused, Task: acme}},
		}},
		{Channel: "CSHARED", Summary: &announce.Summary{
			Counts: map[tasks.Event]int{tasks.EventStarted: 1},
			First:  []announce.Transition{{Event: tasks.EventStarted, Task: beta}},
		}},
		{Channel: "COPS", Event: tasks.EventFailed, Task: beta},
	}
	if _, err := s.Apply(announce.Poll{}, func(announce.Input) announce.Decision { return announce.Decision{Entries: queue} }); err != nil {
		t.Fatal(err)
	}
	change, err := s.SetScope(announce.Scope{Channel: "CSHARED", Tenants: []string{"acme"}, Resolved: []announce.ScopeTenant{{Word: "acme", ID: "t-acme", Name: "Acme"}}})
	if err != nil {
		t.Fatal(err)
	}
	if change.Dropped != 3 || change.Narrowed != 1 {
		t.Errorf("dropped %d and narrowed %d, want 3 (Beta's failure, refresh and summary) and 1", change.Dropped, change.Narrowed)
	}
	shared, err := s.Pending("CSHARED", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(shared) != 2 {
		t.Fatalf("CSHARED has %d entries, want 2: Acme's failure and the narrowed summary", len(shared))
	}
	if e := shared[0]; e.Summary != nil || e.Task.TenantID != "t-acme" || e.Event != tasks.EventFailed {
		t.Errorf("first entry %+v, want Acme's failure", e)
	}
	sum := shared[1].Summary
	if sum == nil || len(sum.First) != 1 || sum.First[0].Task.TenantID != "t-acme" || sum.Total() != 1 {
		t.Errorf("summary %+v, want only Acme's paused transition, counted once", sum)
	}
	for _, e := range shared {
		if b, _ := json.Marshal(e); strings.Contains(string(b), "beta") {
			t.Errorf("a queued entry of the scoped channel still names Beta: %s", b)
		}
	}
	if ops, _ := s.Pending("COPS", 0); len(ops) != 1 {
		t.Errorf("COPS has %d entries, want its one untouched", len(ops))
	}
}
