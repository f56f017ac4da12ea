package bot

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/state"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

var base = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// announcerFixture is a real store and the pipeline's real announcer posting through a
// SlackNotifier to a fake Slack.
type announcerFixture struct {
	store    *state.Store
	slack    *bottest.Slack
	cfg      announce.AnnouncerConfig
	ann      *announce.Announcer
	metrics  *Metrics          // the notifier's: Slack errors
	pipeline *announce.Metrics // the announcer's: announcements
	logs     *logBuffer
	stop     func()
}

// allEvents announces every event, one entry per transition: these tests are about delivery.
var allEvents = announce.Rules{Channel: "C0123ABCDEF", Burst: -1, Announce: mustAnnounceSet("enqueued", "assigned", "started", "paused", "completed", "failed")}

func mustAnnounceSet(names ...string) tasks.AnnounceSet {
	set, err := tasks.ParseAnnounceSet(names)
	if err != nil {
		panic(err)
	}
	return set
}

func applyPoll(t *testing.T, store *state.Store, r announce.Rules, p announce.Poll) []announce.Entry {
	t.Helper()
	q, err := store.Apply(p, func(in announce.Input) announce.Decision { return r.Decide(in, time.Now()) })
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func newAnnouncerFixture(t *testing.T) *announcerFixture {
	t.Helper()
	store, err := state.Open(filepath.Join(t.TempDir(), "taskbot.db"), state.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	applyPoll(t, store, allEvents, announce.Poll{Baseline: true})
	fs := bottest.NewSlack()
	t.Cleanup(fs.Close)
	logs := &logBuffer{}
	api := slack.New("xoxb-test", slack.OptionAPIURL(fs.URL()))
	f := &announcerFixture{store: store, slack: fs, logs: logs, metrics: NewMetrics(nil), pipeline: announce.NewMetrics(nil)}
	f.cfg = announce.AnnouncerConfig{
		Store: store, Notifier: NewSlackNotifier(api, f.metrics, nil), Channel: "C0123ABCDEF",
		Pace: 5 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Metrics: f.pipeline,
	}
	return f
}

func (f *announcerFixture) run(t *testing.T) {
	f.ann = announce.NewAnnouncer(f.cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.ann.Run(ctx); close(done) }()
	f.stop = func() { cancel(); <-done }
	t.Cleanup(f.stop)
}

func (f *announcerFixture) transition(t *testing.T, key string, st tasks.State, at time.Duration) {
	t.Helper()
	tk := tasks.Task{UUID: key, State: st, UpdatedAt: base.Add(at), Context: map[string]any{"title": "Backup " + key}}
	applyPoll(t, f.store, allEvents, announce.Poll{Tasks: []tasks.Task{tk}})
	if f.ann != nil {
		f.ann.Wake()
	}
}

func (f *announcerFixture) pending(t *testing.T) int {
	n, _, err := f.store.Backlog()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAnnouncerThreadsAndOrder(t *testing.T) {
	f := newAnnouncerFixture(t)
	f.transition(t, "a", tasks.Started, 0)
	f.transition(t, "a", tasks.Paused, time.Second)
	f.transition(t, "b", tasks.Started, 2*time.Second)
	f.transition(t, "a", tasks.Started, 3*time.Second)
	f.run(t)
	waitUntil(t, "outbox drained", func() bool { return f.pending(t) == 0 })
	f.stop()

	msgs := f.slack.Messages()
	var got []string
	for _, m := range msgs {
		got = append(got, fmt.Sprintf("%s|thread=%v|broadcast=%v", firstWord(m.Text), m.ThreadTS != "", m.Broadcast))
	}
	want := []string{"started|thread=false|broadcast=false", "paused|thread=true|broadcast=true",
		"started|thread=false|broadcast=false", "resumed|thread=true|broadcast=false"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("posts %v\nwant %v", got, want)
	}
	if msgs[1].ThreadTS != msgs[0].TS || msgs[3].ThreadTS != msgs[0].TS {
		t.Errorf("replies are not in the first message's thread: %+v", msgs)
	}
	var updates int
	for _, p := range f.slack.Posts() {
		if p.Method == "chat.update" && p.TS == msgs[0].TS {
			updates++
		}
	}
	if updates != 2 {
		t.Errorf("thread parent updated %d times, want 2 (after each reply)", updates)
	}
}

// firstWord extracts the event word from an announcement's fallback text ("Task paused: …").
func firstWord(text string) string {
	for _, ev := range []string{"resumed", "started", "paused", "failed", "completed", "enqueued", "assigned"} {
		if strings.Contains(text, ev) {
			return ev
		}
	}
	return text
}

func TestAnnouncerSlackFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     bottest.Fault
		wantMin   time.Duration // least time before the post went through
		wantLog   string
		wantCount string // SlackErrors label
	}{
		{"429 with Retry-After", bottest.Fault{Method: "chat.postMessage", Status: 429, RetryAfter: 1, Times: 1}, time.Second, "retry", "ratelimited"},
		{"429 without Retry-After", bottest.Fault{Method: "chat.postMessage", Status: 429, Times: 2}, 0, "retry", "ratelimited"},
		{"503", bottest.Fault{Method: "chat.postMessage", Status: 503, Times: 3}, 0, "retry", "http_503"},
		{"connection reset", bottest.Fault{Method: "chat.postMessage", Reset: true, Times: 3}, 0, "will retry", "network"},
		{"timeout", bottest.Fault{Method: "chat.postMessage", Delay: 5 * time.Second, Times: 1}, time.Second, "retry", "network"},
		{"not_in_channel", bottest.Fault{Method: "chat.postMessage", Error: "not_in_channel", Times: 3}, 0, "/invite", "not_in_channel"},
		{"channel_not_found", bottest.Fault{Method: "chat.postMessage", Error: "channel_not_found", Times: 2}, 0, "channel ID", "channel_not_found"},
		{"invalid_auth", bottest.Fault{Method: "chat.postMessage", Error: "invalid_auth", Times: 2}, 0, "SLACK_BOT_TOKEN", "invalid_auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAnnouncerFixture(t)
			f.cfg.PostTimeout = time.Second
			f.slack.Fail(tc.fault)
			f.transition(t, "a", tasks.Started, 0)
			f.transition(t, "b", tasks.Paused, time.Second)
			start := time.Now()
			f.run(t)
			waitUntilFor(t, "outbox drained after the fault passed", 40*time.Second, func() bool { return f.pending(t) == 0 })
			took := time.Since(start)
			f.stop()
			msgs := f.slack.Messages()
			if len(msgs) != 2 || !strings.Contains(msgs[0].Text, "Backup a") || !strings.Contains(msgs[1].Text, "Backup b") {
				t.Fatalf("posts after the fault: %+v, want a then b, once each", msgs)
			}
			if took < tc.wantMin {
				t.Errorf("delivered after %v, before the %v Slack asked for", took, tc.wantMin)
			}
			if !strings.Contains(f.logs.String(), tc.wantLog) {
				t.Errorf("log lacks %q:\n%s", tc.wantLog, f.logs)
			}
			if n := testutil.ToFloat64(f.metrics.SlackErrors.WithLabelValues(tc.wantCount)); n < 1 {
				t.Errorf("taskbot_slack_errors_total{code=%q} = %v", tc.wantCount, n)
			}
			if tc.fault.Reset {
				if calls := f.slack.Calls(); calls != 2+tc.fault.Times {
					t.Errorf("%d calls to chat.postMessage, want %d (%d reset, 2 accepted)", calls, 2+tc.fault.Times, tc.fault.Times)
				}
				if n := testutil.ToFloat64(f.metrics.SlackErrors.WithLabelValues("network")); n != float64(tc.fault.Times) {
					t.Errorf("network errors counted %v, want %d", n, tc.fault.Times)
				}
			}
			if tc.fault.Error != "" {
				if n := strings.Count(f.logs.String(), "cannot post announcements"); n != 1 {
					t.Errorf("blocking error logged %d times, want once:\n%s", n, f.logs)
				}
				// Never a hot loop: a few attempts in the time, spaced by the backoff.
				if calls := f.slack.Calls(); calls > tc.fault.Times+4 {
					t.Errorf("%d calls to Slack for %d failures", calls, tc.fault.Times)
				}
			}
		})
	}
}

func TestAnnouncerShortensRejectedMessages(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refused int  // posts Slack refuses with msg_too_long before one goes through
		blocks  bool // the accepted post has blocks (the shortened form) or only text
	}{
		{"the shortened form", 1, true},
		{"the text alone", 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newAnnouncerFixture(t)
			f.slack.Fail(bottest.Fault{Method: "chat.postMessage", Error: "msg_too_long", Times: tc.refused})
			f.transition(t, "a", tasks.Paused, 0)
			f.run(t)
			waitUntil(t, "outbox drained", func() bool { return f.pending(t) == 0 })
			f.stop()
			msgs := f.slack.Messages()
			if len(msgs) != 1 || (len(msgs[0].Blocks) != 0) != tc.blocks || !strings.Contains(msgs[0].Text, "Backup a") {
				t.Fatalf("posts %+v, want one announcement with blocks=%v", msgs, tc.blocks)
			}
			if n := testutil.ToFloat64(f.pipeline.Announcements.WithLabelValues("shortened")); n != 1 {
				t.Errorf("shortened = %v, want 1", n)
			}
		})
	}
}

func TestAnnouncerSummarizesFloods(t *testing.T) {
	f := newAnnouncerFixture(t)
	var poll []tasks.Task
	for i := range 25 {
		poll = append(poll, tasks.Task{UUID: fmt.Sprintf("t%02d", i), State: tasks.Started, UpdatedAt: base.Add(time.Duration(i) * time.Second),
			Context: map[string]any{"title": fmt.Sprintf("Backup %02d", i)}})
	}
	flood := allEvents
	flood.Burst = 10
	applyPoll(t, f.store, flood, announce.Poll{Tasks: poll})
	f.run(t)
	waitUntil(t, "outbox drained", func() bool { return f.pending(t) == 0 })
	f.stop()
	msgs := f.slack.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d posts for a flood of 25, want one summary", len(msgs))
	}
	if !strings.Contains(msgs[0].Text, "25 started") || !strings.Contains(string(msgs[0].Blocks), "Backup 00") ||
		!strings.Contains(string(msgs[0].Blocks), "and 20 more") {
		t.Errorf("summary %q / %s does not count 25 started, name the first, and say and 20 more", msgs[0].Text, msgs[0].Blocks)
	}
	// A backlog that built up slowly (Slack was down) is still posted one by one.
	for i := range 12 {
		f.transition(t, fmt.Sprintf("late%02d", i), tasks.Paused, time.Hour+time.Duration(i)*time.Second)
	}
	f.run(t)
	waitUntil(t, "backlog drained", func() bool { return f.pending(t) == 0 })
	f.stop()
	if n := len(f.slack.Messages()); n != 13 {
		t.Errorf("%d posts after a 12-entry backlog, want 1 + 12", n)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUntilFor(t, what, 10*time.Second, cond)
}

func waitUntilFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
