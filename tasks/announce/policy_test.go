package announce_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// at is t0 plus s seconds.
func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// polled is a task as a poll returns it.
func polled(key string, st tasks.State, code tasks.ResultCode, updated int) tasks.Task {
	t := tasks.Task{UUID: key, State: st, UpdatedAt: at(updated), Context: map[string]any{"title": "Backup " + key}}
	if code != "" {
		t.Result = &tasks.Result{Code: code}
	}
	return t
}

// seen is a last sighting.
func seen(key string, st tasks.State, code tasks.ResultCode, updated int) announce.Seen {
	return announce.Seen{Key: key, Title: "Backup " + key, State: st, Result: code, UpdatedAt: at(updated)}
}

func lastOf(ss ...announce.Seen) map[string]announce.Seen {
	m := map[string]announce.Seen{}
	for _, s := range ss {
		m[s.Key] = s
	}
	return m
}

// describe is the decided entries in one line: "C1 a:paused(started)", or for a summary
// "C1 summary[started=12 first=10]".
func describe(es []announce.Entry) string {
	var out []string
	for _, e := range es {
		if e.Summary != nil {
			out = append(out, fmt.Sprintf("%s summary[%s first=%d]", e.Channel, counts(e.Summary.Counts), len(e.Summary.First)))
			continue
		}
		if e.Refresh {
			out = append(out, fmt.Sprintf("%s %s:refresh", e.Channel, e.Task.Key))
			continue
		}
		out = append(out, fmt.Sprintf("%s %s:%s(%s)", e.Channel, e.Task.Key, e.Event, e.From))
	}
	return strings.Join(out, " ")
}

func counts(c map[tasks.Event]int) string {
	var out []string
	for _, ev := range []tasks.Event{tasks.EventEnqueued, tasks.EventAssigned, tasks.EventStarted, tasks.EventPaused,
		tasks.EventResumed, tasks.EventCompleted, tasks.EventFailed, tasks.EventStuck} {
		if c[ev] > 0 {
			out = append(out, fmt.Sprintf("%s=%d", ev, c[ev]))
		}
	}
	return strings.Join(out, ",")
}

func everything(t *testing.T) tasks.AnnounceSet {
	set, err := tasks.ParseAnnounceSet([]string{"enqueued", "assigned", "started", "paused", "completed", "failed"})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestDecide is the announce policy as a table: a poll and what the store remembers in, the
// announcements and sightings out. No store, no Slack, no HTTP.
func TestDecide(t *testing.T) {
	all := announce.Rules{Channel: "C1", Announce: everything(t)}
	startedPaused := announce.Rules{Channel: "C1", Announce: mustSet(t, "started", "paused")}
	flood := func(n int) []tasks.Task {
		var out []tasks.Task
		for i := range n {
			out = append(out, polled(fmt.Sprintf("f%02d", i), tasks.Started, "", 100+i))
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		rules announce.Rules
		last  map[string]announce.Seen
		poll  announce.Poll
		want  string // describe of the entries
	}{
		// One row per event kind.
		{"enqueued: first seen", all, nil,
			announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Enqueued, "", 1)}}, "C1 a:enqueued()"},
		{"assigned", all, lastOf(seen("a", tasks.Enqueued, "", 1)),
			announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Assigned, "", 2)}}, "C1 a:assigned(enqueued)"},
		{"started", all, lastOf(seen("a", tasks.Assigned, "", 1)),
			announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Started, "", 2)}}, "C1 a:started(assigned)"},
		{"paused", all, lastOf(seen("a", tasks.Started, "", 1)),
			announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Paused, "", 2)}}, "C1 a:paused(started)"},
		{"resumed: paused to started", all, lastOf(seen("a", tasks.Paused, "", 1)),
			announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Started, "", 2)}}, "C1 a:resumed(paused)"},
		{"completed ok", all, lastOf(seen("a", tasks.Started, "", 1)),
			announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Completed, tasks.ResultOK, 2)}}, "C1 a:completed(started)"},
		{"failed: completed with error", all, lastOf(seen("a", tasks.Started, "", 1)),
			announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Completed, tasks.ResultError, 2)}}, "C1 a:failed(started)"},
		{"a result code changing alone is a transition", all, lastOf(seen("a", tasks.Completed, tasks.ResultOK, 1)),
			announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Completed, tasks.ResultError, 2)}}, "C1 a:failed(completed)"},

		// What is not news.
		{"baseline: silent", all, nil,
			announce.Poll{Baseline: true, Tasks: []tasks.Task{polled("a", tasks.Started, "", 1), polled("b", tasks.Paused, "", 2)}}, ""},
		{"the same answer again (overlap)", all, lastOf(seen("a", tasks.Paused, "", 2)),
			announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Paused, "", 2)}}, ""},
		{"a stale answer does not regress", all, lastOf(seen("a", tasks.Paused, "", 2)),
			announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Started, "", 1)}}, ""},
		{"same state, newer updatedAt", all, lastOf(seen("a", tasks.Started, "", 1)),
			announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Started, "", 5)}}, ""},

		// Routing: TASKBOT_ANNOUNCE_STATES.
		{"an event not announced", startedPaused, lastOf(seen("a", tasks.Started, "", 1)),
			announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Completed, tasks.ResultError, 2)}}, ""},
		{"started covers resumed", startedPaused, lastOf(seen("a", tasks.Paused, "", 1)),
			announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Started, "", 2)}}, "C1 a:resumed(paused)"},

		// Order and floods.
		{"a poll's transitions in the order they happened", all, lastOf(seen("a", tasks.Started, "", 1), seen("b", tasks.Started, "", 1)),
			announce.Poll{Tasks: []tasks.Task{polled("b", tasks.Paused, "", 4), polled("a", tasks.Paused, "", 3)}},
			"C1 a:paused(started) C1 b:paused(started)"},
		{"a task twice in one poll (reconciliation) is one transition", all, lastOf(seen("a", tasks.Started, "", 1)),
			announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Paused, "", 3), polled("a", tasks.Paused, "", 3)}}, "C1 a:paused(started)"},
		{"ten transitions are ten posts (the default burst)", all, nil,
			announce.Poll{Tasks: flood(10)}, describe(func() []announce.Entry {
				var es []announce.Entry
				for i := range 10 {
					es = append(es, announce.Entry{Channel: "C1", Event: tasks.EventStarted, Task: tasks.Snapshot{Key: fmt.Sprintf("f%02d", i)}})
				}
				return es
			}())},
		{"eleven become one summary (the default burst)", all, nil,
			announce.Poll{Tasks: flood(11)}, "C1 summary[started=11 first=10]"},
		{"a burst of 30 with a limit of 20", announce.Rules{Channel: "C1", Announce: everything(t), Burst: 20}, nil,
			announce.Poll{Tasks: flood(30)}, "C1 summary[started=30 first=10]"},
		{"no limit", announce.Rules{Channel: "C1", Announce: everything(t), Burst: -1}, nil,
			announce.Poll{Tasks: flood(12)}, describe(func() []announce.Entry {
				var es []announce.Entry
				for i := range 12 {
					es = append(es, announce.Entry{Channel: "C1", Event: tasks.EventStarted, Task: tasks.Snapshot{Key: fmt.Sprintf("f%02d", i)}})
				}
				return es
			}())},
		{"a flood counts only what is announced", startedPaused, nil,
			announce.Poll{Tasks: append(flood(5), polled("x", tasks.Enqueued, "", 1), polled("y", tasks.Completed, tasks.ResultOK, 2))},
			"C1 f00:started() C1 f01:started() C1 f02:started() C1 f03:started() C1 f04:started()"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.rules.Decide(announce.Input{Poll: tc.poll, Last: tc.last}, t0)
			if got := describe(d.Entries); got != tc.want {
				t.Errorf("entries:\n got %s\nwant %s", got, tc.want)
			}
			for _, e := range d.Entries {
				if !e.QueuedAt.Equal(t0) {
					t.Errorf("entry queued at %v, want the decision's now", e.QueuedAt)
				}
			}
			if d.Baselined != tc.poll.Baseline {
				t.Errorf("Baselined = %v", d.Baselined)
			}
		})
	}
}

func mustSet(t *testing.T, names ...string) tasks.AnnounceSet {
	set, err := tasks.ParseAnnounceSet(names)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestDecideRecordsSightings: every newer task is recorded with its thread kept; gone tasks
// are marked missing once; a task seen again is no longer missing; the watermark only grows.
func TestDecideRecordsSightings(t *testing.T) {
	rules := announce.Rules{Channel: "C1", Announce: everything(t)}
	threaded := seen("a", tasks.Started, "", 1)
	threaded.Threads = map[string]string{"C1": "1700000000.000100"}
	missing := seen("m", tasks.Paused, "", 1)
	missing.MissingSince = t0.Add(-time.Hour)
	alreadyMissing := seen("n", tasks.Paused, "", 1)
	alreadyMissing.MissingSince = t0.Add(-2 * time.Hour)
	in := announce.Input{
		Poll: announce.Poll{
			Tasks: []tasks.Task{polled("a", tasks.Paused, "", 5), polled("m", tasks.Paused, "", 1), polled("new", tasks.Enqueued, "", 3)},
			Gone:  []string{"g", "n", "unknown"},
		},
		Last:      lastOf(threaded, missing, alreadyMissing, seen("g", tasks.Started, "", 1)),
		Watermark: at(4),
	}
	d := rules.Decide(in, t0)
	got := map[string]announce.Seen{}
	for _, s := range d.Seen {
		if _, dup := got[s.Key]; dup {
			t.Errorf("sighting of %s written twice", s.Key)
		}
		got[s.Key] = s
	}
	if a := got["a"]; a.State != tasks.Paused || a.Threads["C1"] != "1700000000.000100" || !a.UpdatedAt.Equal(at(5)) {
		t.Errorf("a = %+v; want paused at +5s with its thread kept", a)
	}
	if m := got["m"]; !m.MissingSince.IsZero() || m.State != tasks.Paused {
		t.Errorf("m seen again = %+v; want no longer missing", m)
	}
	if g := got["g"]; !g.MissingSince.Equal(t0) {
		t.Errorf("g gone = %+v; want missing since now", g)
	}
	if _, ok := got["n"]; ok {
		t.Error("a task already missing was written again (its missing time would move)")
	}
	if _, ok := got["unknown"]; ok {
		t.Error("a gone key without a record got one")
	}
	if n := got["new"]; n.State != tasks.Enqueued || n.Title != "Backup new" {
		t.Errorf("new = %+v", n)
	}
	if !d.Watermark.Equal(at(5)) {
		t.Errorf("watermark = %v, want the newest updatedAt %v", d.Watermark, at(5))
	}

	// The watermark never moves backwards, and a baseline's floor raises it.
	d = rules.Decide(announce.Input{Poll: announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Paused, "", 2)}}, Watermark: at(9)}, t0)
	if !d.Watermark.Equal(at(9)) {
		t.Errorf("watermark after an older answer = %v, want %v", d.Watermark, at(9))
	}
	d = rules.Decide(announce.Input{Poll: announce.Poll{Baseline: true, Watermark: at(20)}, Watermark: at(9)}, t0)
	if !d.Watermark.Equal(at(20)) {
		t.Errorf("watermark with a floor = %v, want %v", d.Watermark, at(20))
	}
}

// TestDecideSnapshotsWhatAnnouncementsShow: an entry carries the narrow snapshot, with the
// fields an announcement renders, never the API's whole task.
func TestDecideSnapshotsWhatAnnouncementsShow(t *testing.T) {
	tk := polled("a", tasks.Completed, tasks.ResultError, 2)
	tk.IDString = "944455285181775872"
	tk.Tenant = &tasks.Tenant{ID: "1496265", Name: "Customer A Ltd"}
	tk.Resource = &tasks.Reference{Name: "SQL-01"}
	tk.Policy = &tasks.Reference{Name: "Daily"}
	tk.Result.Error = &tasks.DomainError{Domain: "Backup", Code: "VolumeNotFound", Reason: "gone",
		Context: map[string]any{"volume": "D:", "$module": "disk_bundle", "cause_str": "Disk 2 is offline", "effect_str": "No backup"}}
	tk.Argument = []byte(`{"huge":"payload"}`)
	d := announce.Rules{Channel: "C1", Announce: everything(t)}.Decide(
		announce.Input{Poll: announce.Poll{Tasks: []tasks.Task{tk}}, Last: lastOf(seen("a", tasks.Started, "", 1))}, t0)
	if len(d.Entries) != 1 {
		t.Fatalf("entries: %s", describe(d.Entries))
	}
	s := d.Entries[0].Task
	if s.ID != "944455285181775872" || s.Title != "Backup a" || s.Tenant() != "Customer A Ltd" || s.Machine != "SQL-01" ||
		s.Plan != "Daily" || s.Error == nil || s.Error.Code != "VolumeNotFound" || s.Error.Cause != "Disk 2 is offline" ||
		s.Error.Effect != "No backup" || !s.Failed {
		t.Errorf("snapshot = %+v (error %+v)", s, s.Error)
	}
}

// TestDecideThreads: a task's first announcement in a channel opens a pending thread there;
// every later transition of the task, announced or not, refreshes the thread's first message,
// after the reply that announces it.
func TestDecideThreads(t *testing.T) {
	rules := announce.Rules{Channel: "C1", Announce: mustSet(t, "started", "paused", "failed")}
	first := rules.Decide(announce.Input{Poll: announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Started, "", 1)}}}, t0)
	if got := describe(first.Entries); got != "C1 a:started()" {
		t.Fatalf("first transition: %s", got)
	}
	if th, ok := first.Seen[0].Threads["C1"]; !ok || th != "" {
		t.Fatalf("threads after the first announcement = %v, want a pending thread in C1", first.Seen[0].Threads)
	}

	threaded := seen("a", tasks.Paused, "", 2)
	threaded.Threads = map[string]string{"C1": "1700000000.000100"}
	for _, tc := range []struct {
		name string
		task tasks.Task
		want string
	}{
		{"an announced transition: the reply, then the refresh", polled("a", tasks.Started, "", 3), "C1 a:resumed(paused) C1 a:refresh"},
		{"a transition not announced (completed ok): the refresh alone", polled("a", tasks.Completed, tasks.ResultOK, 3), "C1 a:refresh"},
		{"no transition: nothing", polled("a", tasks.Paused, "", 3), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := rules.Decide(announce.Input{Poll: announce.Poll{Tasks: []tasks.Task{tc.task}}, Last: lastOf(threaded)}, t0)
			if got := describe(d.Entries); got != tc.want {
				t.Errorf("entries = %s, want %s", got, tc.want)
			}
			for _, e := range d.Entries {
				if e.Refresh && e.Task.State != tc.task.State {
					t.Errorf("the refresh shows %s, want the current state %s", e.Task.State, tc.task.State)
				}
			}
			if len(d.Seen) > 0 && d.Seen[0].Threads["C1"] != "1700000000.000100" {
				t.Errorf("the thread was lost: %v", d.Seen[0].Threads)
			}
		})
	}
}

// TestDecideStateChangeWithoutNewUpdatedAt: the API does not always advance updatedAt with the
// state. A state change with the same updatedAt is a transition (and the task's next real
// transition is then announced too); an older answer is still stale.
func TestDecideStateChangeWithoutNewUpdatedAt(t *testing.T) {
	rules := announce.Rules{Channel: "C1", Announce: everything(t)}
	last := lastOf(seen("a", tasks.Paused, "", 5))
	d := rules.Decide(announce.Input{Poll: announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Started, "", 5)}}, Last: last}, t0)
	if got := describe(d.Entries); got != "C1 a:resumed(paused)" {
		t.Fatalf("same updatedAt, new state: %s", got)
	}
	d = rules.Decide(announce.Input{Poll: announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Paused, "", 6)}}, Last: lastOf(d.Seen...)}, t0)
	if got := describe(d.Entries); got != "C1 a:paused(started) C1 a:refresh" { // the resume opened a thread
		t.Fatalf("the next real transition: %s", got)
	}
	d = rules.Decide(announce.Input{Poll: announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Started, "", 4)}}, Last: last}, t0)
	if got := describe(d.Entries); got != "" {
		t.Fatalf("an older answer with another state: %s, want nothing", got)
	}
}

// TestDecideFutureTaskDoesNotPoisonTheWatermark: a task stamped 150 s past the API's clock is
// announced, but the watermark stops at the API's clock plus MaxClockAhead, so later changes
// stay visible to incremental polls; the task is named in Future.
func TestDecideFutureTaskDoesNotPoisonTheWatermark(t *testing.T) {
	rules := announce.Rules{Channel: "C1", Announce: everything(t)}
	apiClock := at(100)
	d := rules.Decide(announce.Input{
		Poll: announce.Poll{ServerTime: apiClock, Tasks: []tasks.Task{
			polled("now", tasks.Started, "", 99), polled("future", tasks.Started, "", 250)}},
		Watermark: at(50),
	}, t0)
	if got := describe(d.Entries); got != "C1 now:started() C1 future:started()" {
		t.Errorf("entries = %s", got)
	}
	if !d.Watermark.Equal(at(99)) {
		t.Errorf("watermark = %v, want %v (the newest task within the API's clock)", d.Watermark, at(99))
	}
	if len(d.Future) != 1 || d.Future[0] != "future" {
		t.Errorf("Future = %v, want [future]", d.Future)
	}
	// Without the API's clock, the host's (now) bounds it.
	d = rules.Decide(announce.Input{Poll: announce.Poll{Tasks: []tasks.Task{polled("future", tasks.Started, "", 250)}}}, at(100))
	if !d.Watermark.IsZero() || len(d.Future) != 1 {
		t.Errorf("without a server clock: watermark %v, future %v", d.Watermark, d.Future)
	}
}

// TestDecideFailures: abandoned and timed-out completions are failures by default
// (TASKBOT_FAILED_RESULTS); a narrower set makes them plain completions.
func TestDecideFailures(t *testing.T) {
	last := lastOf(seen("a", tasks.Started, "", 1))
	for _, tc := range []struct {
		name     string
		failures tasks.Failures
		code     tasks.ResultCode
		want     string
	}{
		{"abandoned, by default", nil, tasks.ResultAbandoned, "C1 a:failed(started)"},
		{"timedout, by default", nil, tasks.ResultTimedOut, "C1 a:failed(started)"},
		{"warning is no failure", nil, tasks.ResultWarning, "C1 a:completed(started)"},
		{"abandoned, when only error fails", tasks.Failures{tasks.ResultError}, tasks.ResultAbandoned, "C1 a:completed(started)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules := announce.Rules{Channel: "C1", Announce: everything(t), Failures: tc.failures}
			d := rules.Decide(announce.Input{Poll: announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Completed, tc.code, 2)}}, Last: last}, t0)
			if got := describe(d.Entries); got != tc.want {
				t.Errorf("entries = %s, want %s", got, tc.want)
			}
			if len(d.Entries) == 1 && d.Entries[0].Task.Failed != (d.Entries[0].Event == tasks.EventFailed) {
				t.Errorf("snapshot Failed = %v for event %s", d.Entries[0].Task.Failed, d.Entries[0].Event)
			}
		})
	}
	// Only failures are announced under "failed".
	rules := announce.Rules{Channel: "C1", Announce: mustSet(t, "failed")}
	d := rules.Decide(announce.Input{Poll: announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Completed, tasks.ResultTimedOut, 2)}}, Last: last}, t0)
	if got := describe(d.Entries); got != "C1 a:failed(started)" {
		t.Errorf("a timed-out task under TASKBOT_ANNOUNCE_STATES=failed: %s", got)
	}
}

// TestDecideMovesAWatermarkAheadOfTheAPIsClockBack: after the API's clock ran three hours
// ahead and was put right, the stored watermark would hide every change for three hours; it
// moves back to the API's clock.
func TestDecideMovesAWatermarkAheadOfTheAPIsClockBack(t *testing.T) {
	rules := announce.Rules{Channel: "C1", Announce: everything(t)}
	apiClock := at(100)
	d := rules.Decide(announce.Input{Poll: announce.Poll{ServerTime: apiClock}, Watermark: apiClock.Add(3 * time.Hour)}, t0)
	if !d.WatermarkReset || !d.Watermark.Equal(apiClock) {
		t.Fatalf("watermark %v (reset %v), want it back at the API's clock %v", d.Watermark, d.WatermarkReset, apiClock)
	}
	// A watermark within the margin stays, and without the API's clock nothing is reset.
	d = rules.Decide(announce.Input{Poll: announce.Poll{ServerTime: apiClock}, Watermark: apiClock.Add(time.Second)}, t0)
	if d.WatermarkReset || !d.Watermark.Equal(apiClock.Add(time.Second)) {
		t.Errorf("a watermark 1 s ahead: %v (reset %v)", d.Watermark, d.WatermarkReset)
	}
	d = rules.Decide(announce.Input{Watermark: apiClock.Add(3 * time.Hour)}, t0)
	if d.WatermarkReset {
		t.Error("reset without the API's clock")
	}
}

// tenantTask is a polled task of a tenant with a plan.
func tenantTask(key, tenantID, tenantName, plan string, st tasks.State, code tasks.ResultCode, updated int) tasks.Task {
	t := polled(key, st, code, updated)
	t.Tenant = &tasks.Tenant{ID: tenantID, Name: tenantName}
	if plan != "" {
		t.Policy = &tasks.Reference{Name: plan}
	}
	return t
}

// TestDecideRoutesToSubscribedChannels: the default channel gets TASKBOT_ANNOUNCE_STATES for
// every tenant; each subscription adds its channel for its events and tenant (by name,
// ignoring case, or by ID); a channel gets an event once; a scoped channel only its tenants.
func TestDecideRoutesToSubscribedChannels(t *testing.T) {
	subs := []announce.Subscription{
		{Channel: "CACME", Tenant: "acme corp", Events: []string{"paused", "failed"}},
		{Channel: "CACME", Tenant: "", Events: []string{"failed"}}, // all tenants: failures once more
		{Channel: "CBETA", Tenant: "2002", Events: []string{"started", "paused", "failed"}},
		{Channel: "CWIDE", Events: []string{"completed"}},
		{Channel: "CSHARED", Events: []string{"paused", "failed"}}, // scoped to Beta below
	}
	scopes := []announce.Scope{{Channel: "CSHARED", Tenants: []string{"Beta Ltd"}, Resolved: []announce.ScopeTenant{{Word: "Beta Ltd", ID: "2002", Name: "Beta Ltd"}}}}
	rules := announce.Rules{Channel: "C1", Announce: mustSet(t, "paused", "failed")}
	last := lastOf(seen("a", tasks.Started, "", 1), seen("b", tasks.Started, "", 1), seen("c", tasks.Started, "", 1))
	for _, tc := range []struct {
		name string
		task tasks.Task
		want string
	}{
		{"Acme pauses: the default channel, Acme's channel by name",
			tenantTask("a", "1001", "Acme Corp", "", tasks.Paused, "", 2), "C1 a:paused(started) CACME a:paused(started)"},
		{"Acme fails: two subscriptions of one channel match, it gets the failure once",
			tenantTask("a", "1001", "Acme Corp", "", tasks.Completed, tasks.ResultError, 2),
			"C1 a:failed(started) CACME a:failed(started) CWIDE a:failed(started)"},
		{"Beta, named by ID, starts: only Beta's channel wants starts",
			tenantTask("b", "2002", "Beta Ltd", "", tasks.Started, "", 2), ""},
		{"Beta pauses: the default, Beta's channel, and the scoped channel (Beta is in its scope)",
			tenantTask("b", "2002", "Beta Ltd", "", tasks.Paused, "", 2), "C1 b:paused(started) CBETA b:paused(started) CSHARED b:paused(started)"},
		{"Gamma pauses: not in the shared channel's scope",
			tenantTask("c", "3003", "Gamma", "", tasks.Paused, "", 2), "C1 c:paused(started)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := rules.Decide(announce.Input{Poll: announce.Poll{Tasks: []tasks.Task{tc.task}}, Last: last, Subscriptions: subs, Scopes: scopes}, t0)
			if got := describe(d.Entries); got != tc.want {
				t.Errorf("entries:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestDecideMutes: an active mute of a task (by uuid or console id), a tenant or a plan drops
// its announcements in every channel, counted in Muted; an expired mute drops nothing; a muted
// task's thread is still refreshed.
func TestDecideMutes(t *testing.T) {
	subs := []announce.Subscription{{Channel: "CACME", Tenant: "Acme Corp", Events: []string{"paused"}}}
	rules := announce.Rules{Channel: "C1", Announce: mustSet(t, "paused")}
	task := tenantTask("a", "1001", "Acme Corp", "Nightly files", tasks.Paused, "", 2)
	task.IDString = "944455285181775872"
	threaded := seen("a", tasks.Started, "", 1)
	threaded.Threads = map[string]string{"C1": "1.1"}
	later := t0.Add(time.Hour)
	for _, tc := range []struct {
		name  string
		mute  announce.Mute
		want  string
		muted int
	}{
		{"no mute", announce.Mute{}, "C1 a:paused(started) CACME a:paused(started) C1 a:refresh", 0},
		{"task by uuid", announce.Mute{Kind: announce.MuteTask, Value: "a", Until: later}, "C1 a:refresh", 2},
		{"task by console id", announce.Mute{Kind: announce.MuteTask, Value: "944455285181775872", Until: later}, "C1 a:refresh", 2},
		{"tenant by name, any case", announce.Mute{Kind: announce.MuteTenant, Value: "ACME CORP", Until: later}, "C1 a:refresh", 2},
		{"plan", announce.Mute{Kind: announce.MutePlan, Value: "nightly files", Until: later}, "C1 a:refresh", 2},
		{"another plan", announce.Mute{Kind: announce.MutePlan, Value: "Weekly", Until: later}, "C1 a:paused(started) CACME a:paused(started) C1 a:refresh", 0},
		{"expired", announce.Mute{Kind: announce.MuteTenant, Value: "Acme Corp", Until: t0}, "C1 a:paused(started) CACME a:paused(started) C1 a:refresh", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mutes []announce.Mute
			if tc.mute.Kind != "" {
				mutes = []announce.Mute{tc.mute}
			}
			d := rules.Decide(announce.Input{Poll: announce.Poll{Tasks: []tasks.Task{task}}, Last: lastOf(threaded),
				Subscriptions: subs, Mutes: mutes}, t0)
			if got := describe(d.Entries); got != tc.want {
				t.Errorf("entries:\n got %s\nwant %s", got, tc.want)
			}
			if len(d.Muted) != tc.muted {
				t.Errorf("muted %d announcements, want %d", len(d.Muted), tc.muted)
			}
		})
	}
}

// TestDecideWithoutThreads: TASKBOT_THREADS=off opens no thread and refreshes none.
func TestDecideWithoutThreads(t *testing.T) {
	rules := announce.Rules{Channel: "C1", Announce: everything(t), NoThreads: true}
	threaded := seen("a", tasks.Started, "", 1)
	threaded.Threads = map[string]string{"C1": "1.1"}
	d := rules.Decide(announce.Input{Poll: announce.Poll{Tasks: []tasks.Task{polled("a", tasks.Paused, "", 2), polled("b", tasks.Started, "", 3)}},
		Last: lastOf(threaded)}, t0)
	if got := describe(d.Entries); got != "C1 a:paused(started) C1 b:started()" {
		t.Errorf("entries = %s", got)
	}
	for _, s := range d.Seen {
		if s.Key == "b" && len(s.Threads) > 0 {
			t.Errorf("b opened a thread: %v", s.Threads)
		}
	}
}

// TestDecideScopedThreads: a thread opened in a channel before it was scoped to other tenants
// gets no refresh (its first message would show another tenant's task as it is now); the
// default channel's thread of the same task does, and an in-scope task's thread there does.
func TestDecideScopedThreads(t *testing.T) {
	rules := announce.Rules{Channel: "C1", Announce: everything(t)}
	scopes := []announce.Scope{{Channel: "CSHARED", Tenants: []string{"Acme Corp"}, Resolved: []announce.ScopeTenant{{Word: "Acme Corp", ID: "1001", Name: "Acme Corp"}}}}
	beta := seen("b", tasks.Started, "", 1)
	beta.Threads = map[string]string{"C1": "1.1", "CSHARED": "2.1"}
	acme := seen("a", tasks.Started, "", 1)
	acme.Threads = map[string]string{"CSHARED": "3.1"}
	d := rules.Decide(announce.Input{Poll: announce.Poll{Tasks: []tasks.Task{
		tenantTask("b", "2002", "Beta Ltd", "", tasks.Completed, tasks.ResultError, 2),
		tenantTask("a", "1001", "Acme Corp", "", tasks.Paused, "", 3),
	}}, Last: lastOf(beta, acme), Scopes: scopes}, t0)
	if got, want := describe(d.Entries), "C1 b:failed(started) C1 b:refresh C1 a:paused(started) CSHARED a:refresh"; got != want {
		t.Errorf("entries:\n got %s\nwant %s", got, want)
	}
}

// TestScopeAllows: a resolved word matches its tenant by ID only (renamed: still in; another
// tenant of the same name, or whose ID is the word: out); an unresolved word (a tenant id with
// no recent tasks) by ID only, never by name (a tenant named so later stays out).
func TestScopeAllows(t *testing.T) {
	sc := announce.Scope{Tenants: []string{"acme", "2002"}, Resolved: []announce.ScopeTenant{{Word: "acme", ID: "t-acme", Name: "Acme"}}}
	for _, tc := range []struct {
		id, name string
		want     bool
	}{
		{"t-acme", "Acme", true},
		{"t-acme", "Acme Renamed Ltd", true},
		{"t-dup", "ACME", false},     // another tenant of the same name
		{"acme", "Zeta Evil", false}, // a tenant whose ID is the word
		{"2002", "Beta", true},       // unresolved: by ID
		{" 2002 ", "Other", true},    // by ID, whatever the name
		{"t-other", "2002", false},   // never by name
		{"", "", false},
	} {
		if got := sc.Allows(tc.id, tc.name); got != tc.want {
			t.Errorf("Allows(%q, %q) = %v, want %v", tc.id, tc.name, got, tc.want)
		}
	}
	for w, want := range map[string]bool{"ACME": true, " t-acme ": true, "Acme": true, "2002": true, "beta": false, "t-dup": false, "Acme Renamed Ltd": false, "": false} {
		if got := sc.Names(w); got != want {
			t.Errorf("Names(%q) = %v, want %v", w, got, want)
		}
	}
	if got := sc.Display(); !slices.Equal(got, []string{"Acme", "2002"}) {
		t.Errorf("Display() = %q", got)
	}
}
