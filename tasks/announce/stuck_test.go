package announce_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/state"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// stuckRig runs the policy over a real state file with a clock the test sets: every poll is
// handed to state.Store.Apply with the API's clock at the rig's time, as the Poller does.
type stuckRig struct {
	t     *testing.T
	path  string
	store *state.Store
	rules announce.Rules
	clock time.Time
	muted []announce.Entry
}

func newStuckRig(t *testing.T, rules announce.Rules) *stuckRig {
	r := &stuckRig{t: t, path: filepath.Join(t.TempDir(), "taskbot.db"), rules: rules, clock: t0}
	r.open()
	t.Cleanup(func() { r.store.Close() })
	return r
}

func (r *stuckRig) open() {
	s, err := state.Open(r.path, state.Options{Logger: discardLogger(), Now: func() time.Time { return r.clock }})
	if err != nil {
		r.t.Fatal(err)
	}
	r.store = s
}

// restart closes the state file and opens it again, as a new taskbot process would.
func (r *stuckRig) restart() {
	r.store.Close()
	r.open()
}

// poll applies a poll that saw ts at the rig's clock (baseline when asked) and returns the
// entries it queued, described.
func (r *stuckRig) poll(baseline bool, ts ...tasks.Task) string {
	r.t.Helper()
	q, err := r.store.Apply(announce.Poll{Tasks: ts, ServerTime: r.clock, Baseline: baseline, Tag: r.rules.Tag()},
		func(in announce.Input) announce.Decision {
			d := r.rules.Decide(in, r.clock)
			r.muted = d.Muted
			return d
		})
	if err != nil {
		r.t.Fatal(err)
	}
	var es []announce.Entry
	for _, e := range q {
		if !e.Refresh {
			es = append(es, e)
		}
	}
	return describe(es)
}

// at moves the rig's clock to t0 plus d.
func (r *stuckRig) at(d time.Duration) *stuckRig { r.clock = t0.Add(d); return r }

func pausedTask(key string, updated time.Duration) tasks.Task {
	t := tenantTask(key, "1001", "Acme Corp", "Nightly", tasks.Paused, "", 0)
	t.UpdatedAt = t0.Add(updated)
	t.Blockers = []tasks.Blocker{{Issue: tasks.Message{Key: "Insert the next tape"}}}
	return t
}

func stuckRules(t *testing.T, limits string, repeat time.Duration) announce.Rules {
	l, err := tasks.ParseStuckLimits(limits)
	if err != nil {
		t.Fatal(err)
	}
	return announce.Rules{Channel: "C1", Announce: mustSet(t, "paused", "failed", "stuck"), Stuck: l, StuckRepeat: repeat, NoThreads: true}
}

// TestStuckOncePerStay: a task paused for longer than its limit is announced stuck once, at
// the first poll after the limit (not before), with when it paused and its blockers; polls
// that see it again, newer answers in the same state included, announce nothing more. A new
// pause is a new stay, measured from the new pause.
func TestStuckOncePerStay(t *testing.T) {
	r := newStuckRig(t, stuckRules(t, "paused=1h", 0))
	if got := r.poll(true); got != "" {
		t.Fatalf("baseline queued %s", got)
	}
	a := pausedTask("a", time.Minute)
	if got := r.at(2*time.Minute).poll(false, a); got != "C1 a:paused(first)" && got != "C1 a:paused()" {
		t.Fatalf("the pause queued %q", got)
	}
	if got := r.at(60*time.Minute).poll(false, a); got != "" {
		t.Errorf("59 minutes after the pause: %q, want nothing (the limit is an hour)", got)
	}
	if got := r.at(61 * time.Minute).poll(false); got != "C1 a:stuck(paused)" {
		t.Fatalf("an hour after the pause: %q, want a:stuck(paused)", got)
	}
	p, _ := r.store.Pending("C1", 0)
	st := p[len(p)-1]
	if !st.Task.Since.Equal(t0.Add(time.Minute)) || len(st.Task.Blockers) != 1 || st.Task.TenantName != "Acme Corp" {
		t.Errorf("stuck entry shows since %v, blockers %v, tenant %q; want the pause's updatedAt, the blocker, the tenant",
			st.Task.Since, st.Task.Blockers, st.Task.TenantName)
	}
	a2 := a
	a2.UpdatedAt = t0.Add(70 * time.Minute) // a newer answer, still paused
	for _, d := range []time.Duration{70 * time.Minute, 3 * time.Hour, 30 * time.Hour} {
		if got := r.at(d).poll(false, a2); got != "" {
			t.Errorf("at +%s, still paused: %q, want nothing (once per stay)", d, got)
		}
	}
	resumed := a2
	resumed.State, resumed.UpdatedAt = tasks.Started, t0.Add(31*time.Hour)
	paused := a2
	paused.UpdatedAt = t0.Add(32 * time.Hour)
	r.at(31*time.Hour).poll(false, resumed)
	r.at(32*time.Hour).poll(false, paused)
	if got := r.at(32*time.Hour + 59*time.Minute).poll(false); got != "" {
		t.Errorf("59 minutes into the second pause: %q", got)
	}
	if got := r.at(33*time.Hour + time.Minute).poll(false); got != "C1 a:stuck(paused)" {
		t.Errorf("an hour into the second pause: %q, want a new stuck", got)
	}
}

// TestStuckNeverBeforeTheLimit: a task that resumes or completes before its limit is never
// stuck, and each state has its own limit.
func TestStuckNeverBeforeTheLimit(t *testing.T) {
	r := newStuckRig(t, stuckRules(t, "paused=1h,started=3h", 0))
	r.poll(true)
	a := pausedTask("a", 0)
	b := pausedTask("b", 0)
	r.poll(false, a, b)
	a.State, a.UpdatedAt = tasks.Started, t0.Add(50*time.Minute) // resumed after 50 minutes
	b.State, b.UpdatedAt = tasks.Completed, t0.Add(55*time.Minute)
	b.Result = &tasks.Result{Code: tasks.ResultOK}
	r.at(55*time.Minute).poll(false, a, b)
	if got := r.at(2 * time.Hour).poll(false); got != "" {
		t.Errorf("after resuming and completing before the limit: %q, want nothing", got)
	}
	// started at 50m: stuck in started at 3h50m, not at the paused limit
	if got := r.at(3*time.Hour + 49*time.Minute).poll(false); got != "" {
		t.Errorf("started for 2h59m: %q", got)
	}
	if got := r.at(3*time.Hour + 51*time.Minute).poll(false); got != "C1 a:stuck(started)" {
		t.Errorf("started for 3h1m: %q, want a:stuck(started)", got)
	}
}

// TestStuckRepeat: TASKBOT_STUCK_REPEAT announces a stay again every period; after downtime
// the reminders resume on their rhythm, once, not one per period missed.
func TestStuckRepeat(t *testing.T) {
	r := newStuckRig(t, stuckRules(t, "paused=1h", 30*time.Minute))
	r.poll(true)
	r.poll(false, pausedTask("a", 0))
	var got []string
	for _, d := range []time.Duration{61, 80, 91, 100, 121} {
		got = append(got, r.at(d*time.Minute).poll(false))
	}
	want := []string{"C1 a:stuck(paused)", "", "C1 a:stuck(paused)", "", "C1 a:stuck(paused)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("at 61, 80, 91, 100, 121 minutes: %q, want %q", got, want)
	}
	// down from 2h01m to 5h10m: one reminder when back, the next at 5h30m
	if got := r.at(5*time.Hour + 10*time.Minute).poll(false); got != "C1 a:stuck(paused)" {
		t.Errorf("after downtime: %q, want one reminder", got)
	}
	if got := r.at(5*time.Hour + 29*time.Minute).poll(false); got != "" {
		t.Errorf("at 5h29m: %q, want nothing until 5h30m", got)
	}
	if got := r.at(5*time.Hour + 30*time.Minute).poll(false); got != "C1 a:stuck(paused)" {
		t.Errorf("at 5h30m: %q, want the next reminder", got)
	}
}

// TestStuckSurvivesARestart: time in a state is kept in the state file, so a restart in the
// middle of a stay neither resets the clock (stuck an hour after the pause, not after the
// restart) nor repeats an announcement already made.
func TestStuckSurvivesARestart(t *testing.T) {
	r := newStuckRig(t, stuckRules(t, "paused=1h", 0))
	r.poll(true)
	r.poll(false, pausedTask("a", 0))
	r.at(40 * time.Minute).restart()
	if got := r.poll(false, pausedTask("a", 0)); got != "" {
		t.Errorf("first poll after the restart: %q", got)
	}
	if got := r.at(61 * time.Minute).poll(false); got != "C1 a:stuck(paused)" {
		t.Errorf("an hour after the pause, 21 minutes after the restart: %q, want stuck", got)
	}
	r.at(62 * time.Minute).restart()
	for _, d := range []time.Duration{62 * time.Minute, 5 * time.Hour} {
		if got := r.at(d).poll(false, pausedTask("a", 0)); got != "" {
			t.Errorf("after a restart at +%s: %q, want no repeat", d, got)
		}
	}
}

// TestStuckUnderAMute: a muted stuck announcement is not queued but counted as muted (and
// kept for the digest); the stay counts as announced, so the mute's end brings no late one.
func TestStuckUnderAMute(t *testing.T) {
	r := newStuckRig(t, stuckRules(t, "paused=1h", 0))
	r.poll(true)
	r.poll(false, pausedTask("a", 0))
	if _, _, _, err := r.store.AddMute(announce.Mute{Kind: announce.MuteTenant, Value: "acme corp", Until: t0.Add(2 * time.Hour), By: "U1", Channel: "C1", At: t0}); err != nil {
		t.Fatal(err)
	}
	if got := r.at(61 * time.Minute).poll(false); got != "" {
		t.Errorf("under the mute: %q, want nothing", got)
	}
	if len(r.muted) != 1 || r.muted[0].Event != tasks.EventStuck {
		t.Errorf("muted %+v, want the stuck announcement", r.muted)
	}
	data, err := r.store.DigestData(t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(data.History) != 1 || !data.History[0].Muted || data.History[0].Event != tasks.EventStuck {
		t.Errorf("history %+v, want the muted stuck announcement", data.History)
	}
	if got := r.at(3 * time.Hour).poll(false); got != "" {
		t.Errorf("after the mute ended: %q, want nothing (the stay was announced, muted)", got)
	}
}

// TestStuckAtBaselineIsSilent: taskbot's first poll announces nothing, also for a task paused
// for hours: it counts as stuck (the digest lists it) and is announced again only by a repeat.
func TestStuckAtBaselineIsSilent(t *testing.T) {
	r := newStuckRig(t, stuckRules(t, "paused=1h", 0))
	if got := r.at(5*time.Hour).poll(true, pausedTask("a", 0)); got != "" {
		t.Errorf("baseline: %q", got)
	}
	if got := r.at(6 * time.Hour).poll(false); got != "" {
		t.Errorf("after the baseline: %q", got)
	}
	data, _ := r.store.DigestData(t0)
	if len(data.InProgress) != 1 || data.InProgress[0].Stuck != 1 || !data.InProgress[0].Since.Equal(t0) {
		t.Errorf("in progress %+v, want a counted as stuck since t0", data.InProgress)
	}
}

// TestStuckFlood: many tasks stuck at once are one summary, like any flood.
func TestStuckFlood(t *testing.T) {
	r := newStuckRig(t, stuckRules(t, "paused=1h", 0))
	r.poll(true)
	var ts []tasks.Task
	for i := range 30 {
		ts = append(ts, pausedTask(string(rune('a'+i%26))+strings.Repeat("x", i/26), 0))
	}
	r.poll(false, ts...)
	if got := r.at(2 * time.Hour).poll(false); got != "C1 summary[stuck=30 first=10]" {
		t.Errorf("30 stuck at once: %q, want one summary", got)
	}
}

// TestStuckLimitsChangeOnTheNextSighting: a limit set in the configuration after a task paused
// (or a file from before stuck checks) applies when a poll next sees the task, unchanged or
// not, measured from when it paused.
func TestStuckLimitsChangeOnTheNextSighting(t *testing.T) {
	r := newStuckRig(t, announce.Rules{Channel: "C1", Announce: mustSet(t, "paused", "stuck"), NoThreads: true})
	r.poll(true)
	r.poll(false, pausedTask("a", 0))
	r.rules = stuckRules(t, "paused=2h", 0) // restarted with TASKBOT_STUCK_AFTER=paused=2h
	if got := r.at(90*time.Minute).poll(false, pausedTask("a", 0)); got != "" {
		t.Errorf("reconciliation after the change: %q", got)
	}
	if got := r.at(121 * time.Minute).poll(false); got != "C1 a:stuck(paused)" {
		t.Errorf("two hours after the pause: %q", got)
	}
}

// TestPollerStuckCostsNoRequest: over the fake Task Manager, a poll that finds a task stuck
// makes as many requests as a quiet poll: the check reads only the state file, with the API's
// clock from the poll's Date header.
func TestPollerStuckCostsNoRequest(t *testing.T) {
	f := newPollerFixture(t, []string{"paused", "stuck"}, func(c *announce.PollerConfig) {
		c.Rules.Stuck = tasks.StuckLimits{tasks.Paused: time.Hour}
		c.ResyncEvery = 1000 // no reconciliation in this test: incremental polls only
	})
	f.add(t, "A", tasks.Paused)
	f.poll(t) // baseline
	f.poll(t)
	n := f.api.TaskRequests()
	f.poll(t)
	quiet := f.api.TaskRequests() - n
	if got := f.queued(t); len(got) != 0 {
		t.Fatalf("before the limit: %q", got)
	}
	f.api.SetClockOffset(61 * time.Minute)
	n = f.api.TaskRequests()
	f.poll(t)
	if got := f.api.TaskRequests() - n; got != quiet {
		t.Errorf("the poll that found a stuck task made %d requests, a quiet poll %d", got, quiet)
	}
	if got := f.queued(t); strings.Join(got, ",") != "A:stuck" {
		t.Errorf("queued %q, want A:stuck", got)
	}
}

// TestStuckSeenLateIsOnePost: a task first seen in a state it entered longer ago than its
// limit (after downtime, or new to taskbot) is announced once, by its transition, which says
// how long (Snapshot.Since); no stuck post follows in the same poll or later in that stay.
func TestStuckSeenLateIsOnePost(t *testing.T) {
	r := newStuckRig(t, stuckRules(t, "paused=1h", 0))
	r.poll(true)
	b := tenantTask("b", "1001", "Acme Corp", "", tasks.Started, "", 0)
	r.poll(false, b)
	// down for hours; b paused 3 hours before taskbot is back, a was never seen before
	b.State, b.UpdatedAt = tasks.Paused, t0.Add(time.Hour)
	a := pausedTask("a", -9*time.Hour)
	if got := r.at(4*time.Hour).poll(false, a, b); got != "C1 a:paused() C1 b:paused(started)" {
		t.Errorf("seen late: %q, want one post each, no stuck", got)
	}
	p, _ := r.store.Pending("C1", 0)
	if since := p[len(p)-1].Task.Since; !since.Equal(t0.Add(time.Hour)) {
		t.Errorf("b's announcement says paused since %v, want its updatedAt", since)
	}
	if got := r.at(9 * time.Hour).poll(false); got != "" {
		t.Errorf("later in the stay: %q", got)
	}
}
