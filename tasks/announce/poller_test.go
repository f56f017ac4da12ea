package announce_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/taskbot/taskbot/state"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
	"github.com/taskbot/taskbot/tasks/announce"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

type pollerFixture struct {
	api     *taskstest.Server
	store   *state.Store
	cfg     announce.PollerConfig
	poller  *announce.Poller
	metrics *announce.Metrics
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newPollerFixture is a real store and a real client against the fake Task Manager, whose
// lists page by two. mods adjust the poller's configuration before it is built.
func newPollerFixture(t *testing.T, announceSet []string, mods ...func(*announce.PollerConfig)) *pollerFixture {
	t.Helper()
	api := taskstest.NewServer()
	t.Cleanup(api.Close)
	api.SetPageSizeCap(2) // every list pages
	store, err := state.Open(filepath.Join(t.TempDir(), "taskbot.db"), state.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	client, err := acronis.NewClient(acronis.Config{BaseURL: api.URL, ClientID: api.ClientID, ClientSecret: api.ClientSecret,
		Timeout: 500 * time.Millisecond, Retries: -1, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if len(announceSet) == 0 {
		announceSet = []string{"started", "paused", "failed"}
	}
	set, err := tasks.ParseAnnounceSet(announceSet)
	if err != nil {
		t.Fatal(err)
	}
	f := &pollerFixture{api: api, store: store, metrics: announce.NewMetrics(nil)}
	f.cfg = announce.PollerConfig{API: client, Store: store, Rules: announce.Rules{Channel: "C1", Announce: set},
		Interval: 10 * time.Millisecond, PageSize: 2, Logger: discardLogger(), Metrics: f.metrics}
	for _, m := range mods {
		m(&f.cfg)
	}
	f.poller = announce.NewPoller(f.cfg)
	return f
}

func (f *pollerFixture) add(t *testing.T, title string, st tasks.State) tasks.Task {
	return f.api.Add(tasks.Task{State: st, Type: "MachineBackup", Context: map[string]any{"title": title}})
}

func (f *pollerFixture) set(t *testing.T, tk tasks.Task, st tasks.State, code tasks.ResultCode) {
	t.Helper()
	if _, err := f.api.SetState(tk.UUID, st, code); err != nil {
		t.Fatal(err)
	}
}

// hideFromIncrementalPolls makes the updates made so far invisible to incremental polls (an
// update the API made visible late, older than the watermark minus the overlap): the API's
// clock and the watermark move an hour ahead together.
func (f *pollerFixture) hideFromIncrementalPolls(t *testing.T) {
	t.Helper()
	f.api.SetClockOffset(time.Hour)
	wm, _ := f.store.Watermark()
	if _, err := f.store.Apply(announce.Poll{Watermark: wm.Add(time.Hour), ServerTime: time.Now().Add(time.Hour)},
		func(in announce.Input) announce.Decision { return f.cfg.Rules.Decide(in, time.Now()) }); err != nil {
		t.Fatal(err)
	}
}

func (f *pollerFixture) poll(t *testing.T) {
	t.Helper()
	if err := f.poller.Poll(context.Background()); err != nil {
		t.Fatalf("poll: %v", err)
	}
}

func (f *pollerFixture) queued(t *testing.T) []string {
	t.Helper()
	p, err := f.store.Pending(f.cfg.Rules.Channel, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range p {
		if !e.Refresh {
			out = append(out, e.Task.Title+":"+string(e.Event))
		}
	}
	return out
}

func TestPollerBaselineAndTransitions(t *testing.T) {
	f := newPollerFixture(t, nil)
	a := f.add(t, "A", tasks.Started)
	b := f.add(t, "B", tasks.Paused)
	c := f.add(t, "C", tasks.Enqueued)
	for i := range 5 {
		f.add(t, "old "+string(rune('0'+i)), tasks.Completed)
	}
	f.poll(t)
	if q := f.queued(t); len(q) != 0 {
		t.Fatalf("baseline queued %v, want nothing", q)
	}
	if ok, why := f.poller.Ready(); !ok {
		t.Fatalf("not ready after a good poll: %s", why)
	}

	f.set(t, a, tasks.Paused, "")
	f.set(t, b, tasks.Started, "")
	f.set(t, c, tasks.Assigned, "") // not announced with this set
	f.poll(t)
	f.poll(t) // an overlapping second poll adds nothing
	f.set(t, a, tasks.Completed, tasks.ResultError)
	d := f.add(t, "D", tasks.Started) // a new task
	_ = d
	f.poll(t)

	got := strings.Join(f.queued(t), " ")
	want := "A:paused B:resumed A:failed D:started"
	if got != want {
		t.Fatalf("queued %q, want %q", got, want)
	}
}

func TestPollerBaselineIncludesRecentCompletions(t *testing.T) {
	for _, ignore := range [][]string{nil, {"order"}, {"order", "updatedAt"}} {
		t.Run(fmt.Sprintf("the API ignores %v", ignore), func(t *testing.T) {
			testBaselineIncludesRecentCompletions(t, ignore)
		})
	}
}

// testBaselineIncludesRecentCompletions: tasks that ended just before the first start are no
// news, also when the API ignores the order or the time filter of the baseline's queries.
func testBaselineIncludesRecentCompletions(t *testing.T, ignore []string) {
	f := newPollerFixture(t, []string{"started", "paused", "completed", "failed"})
	f.api.IgnoreParams(ignore...)
	done := f.add(t, "finished just before the start", tasks.Started)
	f.set(t, done, tasks.Completed, tasks.ResultOK)
	broke := f.add(t, "failed just before the start", tasks.Started)
	f.set(t, broke, tasks.Completed, tasks.ResultError)
	f.add(t, "running", tasks.Started)
	f.poll(t) // baseline
	f.poll(t) // incremental, overlapping the baseline
	f.poll(t)
	if q := f.queued(t); len(q) != 0 {
		t.Fatalf("the first polls announced %v; tasks that ended before the start are not news", q)
	}
	if wm, _ := f.store.Watermark(); wm.IsZero() || time.Since(wm) > time.Minute {
		t.Errorf("watermark after the baseline = %v, want about now", wm)
	}
}

func TestPollerReconcilesMissedCompletion(t *testing.T) {
	// An overlap of a nanosecond lets the test hide an update from the incremental polls.
	f := newPollerFixture(t, nil, func(c *announce.PollerConfig) { c.Overlap = time.Nanosecond })
	a := f.add(t, "A", tasks.Started)
	f.poll(t) // baseline (poll 0)
	f.poll(t) // poll 1: incremental
	// The task completes and then its update falls out of the incremental window (an update the
	// API made visible late, older than the watermark minus the overlap).
	f.set(t, a, tasks.Completed, tasks.ResultError)
	f.hideFromIncrementalPolls(t)
	for range announce.DefaultResyncEvery - 2 { // polls 2 … 9: incremental only
		f.poll(t)
	}
	if q := f.queued(t); len(q) != 0 {
		t.Fatalf("incremental polls saw %v, which the test meant to hide", q)
	}
	f.poll(t) // poll 10 reconciles
	if got := strings.Join(f.queued(t), " "); got != "A:failed" {
		t.Fatalf("after reconciliation queued %q, want A:failed", got)
	}
}

func TestPollerFaultsChangeNothing(t *testing.T) {
	raw, _ := os.ReadFile("../../testdata/acronis/error-gateway.html")
	html := string(raw)
	for _, tc := range []struct {
		name   string
		fault  taskstest.Fault
		why    string
		status string // the label the failure is counted under
	}{
		{"502 HTML from a gateway", taskstest.Fault{Status: 502, ContentType: "text/html", Body: html}, "502", "502"},
		{"500 domain error", taskstest.Fault{Status: 500, ContentType: "application/json", Body: `{"domain":"TaskManager","code":"internalError"}`}, "500", "500"},
		{"403 missing scope", taskstest.Fault{Status: 403, ContentType: "application/json", Body: `{"domain":"Access","code":"forbidden"}`}, "lacks the scope urn:acronis.com::task_manager::viewer", "403"},
		{"200 with a truncated body", taskstest.Fault{Status: 200, ContentType: "application/json", Body: `{"items":[{"id":1,`}, "JSON", "other"},
		{"a page failing in the middle of paging", taskstest.Fault{Status: 503, AfterPages: 1}, "503", "503"},
		{"an answer slower than the timeout", taskstest.Fault{Delay: 2 * time.Second}, "timed out", "other"},
		{"revoked token endpoint", taskstest.Fault{Path: "/api/2/idp/token", Status: 401, ContentType: "application/json", Body: `{"error":"access_denied","error_description":"Invalid client credentials"}`}, "check ACRONIS_CLIENT_ID and ACRONIS_CLIENT_SECRET", "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPollerFixture(t, nil)
			a := f.add(t, "A", tasks.Started)
			f.add(t, "B", tasks.Started)
			f.add(t, "C", tasks.Paused)
			f.poll(t)
			f.poll(t)
			before, _ := f.store.Stats()
			f.set(t, a, tasks.Paused, "")
			if tc.fault.Path != "" {
				f.api.RevokeTokens()
			}
			f.api.Fail(tc.fault)
			if err := f.poller.Poll(context.Background()); err == nil {
				t.Fatal("poll succeeded through the fault")
			}
			after, _ := f.store.Stats()
			if after != before || len(f.queued(t)) != 0 {
				t.Fatalf("a failed poll changed the store: %+v → %+v, queued %v", before, after, f.queued(t))
			}
			ok, why := f.poller.Ready()
			if ok || !strings.Contains(why, tc.why) {
				t.Errorf("Ready() = %v, %q; want not ready naming %q", ok, why, tc.why)
			}
			if n := testutil.ToFloat64(f.metrics.Polls.WithLabelValues("error")); n != 1 {
				t.Errorf("taskbot_polls_total{result=error} = %v", n)
			}
			if n := testutil.ToFloat64(f.metrics.APIErrors.WithLabelValues(tc.status)); n != 1 {
				t.Errorf("taskbot_task_manager_errors_total{status=%q} = %v, want 1", tc.status, n)
			}
			f.api.ClearFaults()
			f.poll(t) // recovers without a restart
			if got := strings.Join(f.queued(t), " "); got != "A:paused" {
				t.Fatalf("after recovery queued %q, want A:paused once", got)
			}
			if ok, _ := f.poller.Ready(); !ok {
				t.Error("not ready after recovery")
			}
		})
	}
}

func TestPollerSurvivesEmptyAnswers(t *testing.T) {
	f := newPollerFixture(t, nil)
	for _, title := range []string{"A", "B", "C"} {
		f.add(t, title, tasks.Paused)
	}
	f.poll(t) // baseline
	// The API answers every list with no tasks for longer than a reconciliation interval.
	f.api.Fail(taskstest.Fault{Status: 200, ContentType: "application/json", Body: `{"items":[]}`})
	for range announce.DefaultResyncEvery + 1 {
		f.poll(t)
	}
	f.api.ClearFaults()
	for range announce.DefaultResyncEvery + 1 {
		f.poll(t)
	}
	if q := f.queued(t); len(q) != 0 {
		t.Fatalf("after a stretch of empty answers the tasks were announced again: %v", q)
	}
	keys, _ := f.store.InProgressKeys()
	if len(keys) == 0 {
		t.Fatal("no task in progress after the tasks came back")
	}
	for _, k := range keys {
		if r, _, _ := f.store.Sighting(k); !r.MissingSince.IsZero() {
			t.Errorf("task %s still marked missing after it came back", r.Title)
		}
	}
}

func TestReadyTurnsStaleWhileAPollHangs(t *testing.T) {
	now := time.Now()
	f := newPollerFixture(t, nil, func(c *announce.PollerConfig) {
		c.Now = func() time.Time { return now }
		c.Interval = 30 * time.Second
	})
	f.poll(t)
	if ok, why := f.poller.Ready(); !ok {
		t.Fatalf("not ready after a poll: %s", why)
	}
	now = now.Add(80 * time.Second) // a poll has been hanging since: no result yet
	if ok, _ := f.poller.Ready(); !ok {
		t.Fatal("unready before three intervals passed")
	}
	now = now.Add(20 * time.Second)
	ok, why := f.poller.Ready()
	if ok || !strings.Contains(why, "no successful poll for 1m40s") {
		t.Fatalf("Ready() = %v, %q after 100s without a poll; want unready saying so", ok, why)
	}
}

// TestPollerMarksATaskGoneWhenTheAPIForgetsIt: a task the store believes in progress that the
// API no longer returns at all (its lookup by UUID finds nothing) is marked missing, silently;
// a task that completed meanwhile is announced as such.
func TestPollerMarksATaskGoneWhenTheAPIForgetsIt(t *testing.T) {
	f := newPollerFixture(t, nil, func(c *announce.PollerConfig) { c.ResyncEvery = 1 }) // every poll reconciles
	a := f.add(t, "A", tasks.Started)
	b := f.add(t, "B", tasks.Started)
	f.poll(t) // baseline
	if err := f.api.Delete(a.UUID); err != nil {
		t.Fatal(err)
	}
	f.set(t, b, tasks.Completed, tasks.ResultError)
	f.poll(t)
	rec, ok, err := f.store.Sighting(a.UUID)
	if err != nil || !ok || rec.MissingSince.IsZero() {
		t.Fatalf("record of the deleted task: %+v, %v, %v; want kept and marked missing", rec, ok, err)
	}
	if got := strings.Join(f.queued(t), " "); got != "B:failed" {
		t.Fatalf("queued %q, want only B:failed (a vanished task is not news)", got)
	}
	missingSince := rec.MissingSince
	f.poll(t)
	if rec, _, _ := f.store.Sighting(a.UUID); !rec.MissingSince.Equal(missingSince) {
		t.Errorf("missing since moved from %v to %v on the next poll", missingSince, rec.MissingSince)
	}
}

// TestReadyStaleAfterAtLeastAMinute: with a short poll interval, three intervals would make
// /readyz flap on every slow poll; the floor is a minute.
func TestReadyStaleAfterAtLeastAMinute(t *testing.T) {
	now := time.Now()
	f := newPollerFixture(t, nil, func(c *announce.PollerConfig) {
		c.Now = func() time.Time { return now }
		c.Interval = time.Second
	})
	f.poll(t)
	now = now.Add(59 * time.Second)
	if ok, why := f.poller.Ready(); !ok {
		t.Fatalf("unready 59s after a poll with a 1s interval: %s", why)
	}
	now = now.Add(2 * time.Second)
	if ok, why := f.poller.Ready(); ok || !strings.Contains(why, "no successful poll for 1m1s") {
		t.Fatalf("Ready() = %v, %q after 61s; want unready saying so", ok, why)
	}
}

// downAPI is a Task Manager that is down: every List fails at once, and the times of the
// calls are kept. (The backoff test runs in a synctest bubble, where an HTTP fake's blocked
// connections would stop the fake clock, so the API is faked at the tasks.Lister boundary.)
type downAPI struct {
	mu    sync.Mutex
	calls []time.Time
}

func (d *downAPI) List(ctx context.Context, q tasks.Query) (*tasks.ListResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, time.Now())
	return nil, errors.New("GET /tasks: 503 Service Unavailable")
}

func (d *downAPI) Each(ctx context.Context, q tasks.Query, _ func(tasks.Page) error) (*tasks.ListResult, error) {
	return d.List(ctx, q)
}

func (d *downAPI) Task(ctx context.Context, key string) (*tasks.Task, error) {
	return nil, errors.New("GET /tasks/{id}: 503 Service Unavailable")
}

func (d *downAPI) times() []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

// TestFailedPollsBackOffToAMinute: while the API is down, polls are retried after
// Interval·2^n with ±20% jitter, never more than a minute apart (so taskbot notices within a
// minute that the API is back), and never faster than the interval.
func TestFailedPollsBackOffToAMinute(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		store, err := state.Open(filepath.Join(dir, "taskbot.db"), state.Options{Logger: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		api := &downAPI{}
		p := announce.NewPoller(announce.PollerConfig{API: api, Store: store, Interval: 5 * time.Second,
			Rules: announce.Rules{Channel: "C1"}, Logger: discardLogger()})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { p.Run(ctx); close(done) }()
		for len(api.times()) < 12 {
			time.Sleep(time.Second) // fake time: the bubble's clock jumps to the next wake-up
		}
		cancel()
		<-done
		calls := api.times()
		var gaps []time.Duration
		for i := 1; i < len(calls); i++ {
			gaps = append(gaps, calls[i].Sub(calls[i-1]))
		}
		for i, g := range gaps {
			nominal := min(5*time.Second<<i, time.Minute)
			if g < nominal*8/10 || g > nominal*12/10 {
				t.Errorf("wait %d = %v, want %v ± 20%% (all: %v)", i+1, g, nominal, gaps)
			}
		}
		if last := gaps[len(gaps)-1]; last > 72*time.Second || last < 48*time.Second {
			t.Errorf("the longest wait is %v, want about a minute", last)
		}
	})
}

// TestPollerSkipsAMalformedTaskAndCountsIt: one task the API sends malformed does not fail the
// poll; the others are announced and the skipped one is counted.
func TestPollerSkipsAMalformedTaskAndCountsIt(t *testing.T) {
	f := newPollerFixture(t, nil)
	a := f.add(t, "A", tasks.Started)
	f.poll(t) // baseline
	f.api.SetRawItems(`{"id":"not-a-number","uuid":"0b7e3c4d-9999-4000-8000-000000000009","state":"paused","updatedAt":"2026-12-01T10:00:00Z"}`)
	f.set(t, a, tasks.Paused, "")
	f.poll(t)
	if got := strings.Join(f.queued(t), " "); got != "A:paused" {
		t.Fatalf("queued %q, want A:paused", got)
	}
	if n := testutil.ToFloat64(f.metrics.TasksSkipped); n < 1 {
		t.Errorf("taskbot_tasks_skipped_total = %v, want the malformed task counted", n)
	}
}

// TestPollerDoesNotTakeAnIgnoredUUIDFilterForGone: when the API ignores the uuid filter of the
// reconciliation's lookup, a task missing from its answer is looked up alone before it is
// taken for gone; one that completed is announced.
func TestPollerDoesNotTakeAnIgnoredUUIDFilterForGone(t *testing.T) {
	f := newPollerFixture(t, []string{"started", "paused", "completed", "failed"}, func(c *announce.PollerConfig) {
		c.ResyncEvery = 1
		c.Overlap = time.Nanosecond
	})
	a := f.add(t, "A", tasks.Started)
	for range 5 {
		f.add(t, "other", tasks.Completed)
	}
	f.poll(t) // baseline
	f.set(t, a, tasks.Completed, tasks.ResultOK)
	// Hide the completion from the incremental poll: only the reconciliation's lookups see it.
	f.hideFromIncrementalPolls(t)
	f.api.IgnoreParams("uuid")
	f.poll(t)
	if got := strings.Join(f.queued(t), " "); got != "A:completed" {
		t.Fatalf("queued %q, want A:completed", got)
	}
	if rec, _, _ := f.store.Sighting(a.UUID); !rec.MissingSince.IsZero() {
		t.Errorf("A was taken for gone: %+v", rec)
	}
}

// TestPollerRecoversFromAnAPIClockThatRanAhead: while the API's clock ran three hours ahead,
// the watermark followed it; once the clock is put right, a task that fails now is announced
// within two polls, not three hours later.
func TestPollerRecoversFromAnAPIClockThatRanAhead(t *testing.T) {
	f := newPollerFixture(t, nil)
	f.add(t, "A", tasks.Started)
	f.api.SetClockOffset(3 * time.Hour)
	f.poll(t) // baseline, on the API's wrong clock
	f.poll(t)
	if wm, _ := f.store.Watermark(); time.Until(wm) < 2*time.Hour {
		t.Fatalf("watermark %v: the test meant it to follow the API's clock ahead", wm)
	}
	f.api.SetClockOffset(0)
	now := time.Now().UTC().Format(time.RFC3339)
	f.api.SetRawItems(`{"id":944455285181779001,"uuid":"0b7e3c4d-7777-4a2b-8c3d-9e8f7a6b5c4d","state":"completed",` +
		`"result":{"code":"error"},"context":{"title":"B"},"issuer":{"id":"x"},"assignCount":1,` +
		`"enqueuedAt":"` + now + `","updatedAt":"` + now + `","completedAt":"` + now + `"}`)
	f.poll(t)
	f.poll(t)
	if got := strings.Join(f.queued(t), " "); got != "B:failed" {
		t.Fatalf("queued %q after the API's clock was put right, want B:failed", got)
	}
}

// TestPollerQuietAfterABurst: the watermark follows the API's clock (the Date header of a
// poll's first answer), so once the overlap has passed after a burst, a quiet poll is one
// request that returns nothing, instead of fetching the burst again on every poll (30 tasks in
// pages of two: 15 requests each) until a newer update comes.
func TestPollerQuietAfterABurst(t *testing.T) {
	f := newPollerFixture(t, nil)
	f.poll(t) // baseline
	for i := range 30 {
		f.add(t, fmt.Sprintf("T%d", i), tasks.Started)
	}
	f.poll(t) // the burst
	f.api.SetClockOffset(3 * time.Minute)
	f.poll(t) // still within the overlap of the last update: the burst is listed once more
	n := f.api.TaskRequests()
	f.poll(t)
	if got := f.api.TaskRequests() - n; got != 1 {
		t.Errorf("a quiet poll after the overlap made %d requests, want 1", got)
	}
	reqs := f.api.Requests()
	if q := reqs[len(reqs)-1].RawQuery; !strings.Contains(q, "updatedAt=gt") {
		t.Errorf("the quiet poll asked %s", q)
	}
}

// BenchmarkReconcile measures one reconciliation of 10,000 tasks in progress against the fake
// Task Manager (pages of 100, as in production) beside a bare fetch-and-decode of the same
// pages with the same client, in one run: the difference is what diffing and recording cost.
// Nothing changes between runs, as in most reconciliations.
//
//	go test -run '^$' -bench Reconcile -benchtime 5x ./tasks/announce/
func BenchmarkReconcile(b *testing.B) {
	const n = 10000
	api := taskstest.NewServer()
	defer api.Close()
	for i := range n {
		st := tasks.Started
		if i%5 == 0 {
			st = tasks.Paused
		}
		api.Add(tasks.Task{State: st, Type: "MachineBackup", Tenant: &tasks.Tenant{ID: "1001", Name: "Acme"},
			Context: map[string]any{"title": fmt.Sprintf("Backup plan 'Daily' on machine-%06d", i)}})
	}
	store, err := state.Open(filepath.Join(b.TempDir(), "taskbot.db"), state.Options{Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	client, err := acronis.NewClient(acronis.Config{BaseURL: api.URL, ClientID: api.ClientID, ClientSecret: api.ClientSecret,
		Timeout: 30 * time.Second, Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	p := announce.NewPoller(announce.PollerConfig{API: client, Store: store, ResyncEvery: 1, PageSize: 100,
		Rules: announce.Rules{Channel: "C1", Announce: mustSetB(b, "paused", "failed")}, Logger: discardLogger()})
	ctx := context.Background()
	if err := p.Poll(ctx); err != nil { // the baseline
		b.Fatal(err)
	}
	// The API's clock moves past the incremental listing's overlap (2 minutes) with the tasks'
	// updates: one poll lists them once more and moves the watermark, then an incremental
	// listing is empty, and each measured poll is a quiet one plus the reconciliation.
	api.SetClockOffset(5 * time.Minute)
	if err := p.Poll(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("fetch-and-decode", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := client.Each(ctx, tasks.Query{States: []tasks.State{tasks.Enqueued, tasks.Assigned, tasks.Started, tasks.Paused}, Limit: 100},
				func(tasks.Page) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reconcile", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			if err := p.Poll(ctx); err != nil { // a quiet incremental poll and the reconciliation
				b.Fatal(err)
			}
		}
	})
}

// reportCPU, deferred at the start of a benchmark, reports the CPU time (user and system) the
// whole process spent per operation as cpu-ms/op: the client and the fake API it asks, which
// does the same work for both sub-benchmarks of BenchmarkReconcile.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64(cpu()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

func mustSetB(b *testing.B, names ...string) tasks.AnnounceSet {
	set, err := tasks.ParseAnnounceSet(names)
	if err != nil {
		b.Fatal(err)
	}
	return set
}

// TestPollerPacesReconciliation: with PagePace, a reconciliation of P pages is followed by the
// next one only after P·PagePace (and ResyncEvery polls): a big account's reconciliations
// average at most one request per PagePace.
func TestPollerPacesReconciliation(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	f := newPollerFixture(t, nil, func(c *announce.PollerConfig) {
		c.ResyncEvery, c.PagePace = 2, time.Minute
		c.Now = func() time.Time { return now }
	})
	for i := range 10 {
		f.add(t, fmt.Sprintf("T%d", i), tasks.Started) // 5 pages of 2
	}
	inProgressLists := func() int {
		n := 0
		for _, r := range f.api.Requests() {
			if strings.Contains(r.RawQuery, "state=") {
				n++
			}
		}
		return n
	}
	f.poll(t) // the baseline: lists the tasks in progress (5 pages)
	base := inProgressLists()
	for range 6 { // two minutes later, six polls: the pace (5 pages · 1 min) holds them back
		now = now.Add(20 * time.Second)
		f.poll(t)
	}
	if got := inProgressLists() - base; got != 0 {
		t.Fatalf("%d in-progress pages listed within 5 minutes of the baseline's 5 pages, want none", got)
	}
	now = now.Add(3 * time.Minute)
	f.poll(t)
	if got := inProgressLists() - base; got != 1 {
		t.Errorf("after 5 minutes the reconciliation listed %d first pages, want its first page (1)", got)
	}
}
