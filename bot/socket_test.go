package bot

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// socketFixture is a Server answering over Socket Mode from the fake Slack, asking the fake
// Task Manager API through the real client, with response_url on its own fake.
type socketFixture struct {
	api   *taskstest.Server
	slack *bottest.Slack
	resp  *bottest.ResponseURL
	srv   *Server
	logs  *logBuffer
}

func newSocketFixture(t *testing.T) *socketFixture {
	t.Helper()
	f := &socketFixture{api: taskstest.NewServer(), slack: bottest.NewSlack(), resp: bottest.NewResponseURL(), logs: &logBuffer{}}
	t.Cleanup(f.api.Close)
	t.Cleanup(f.slack.Close)
	t.Cleanup(f.resp.Close)
	f.api.Add(tasks.Task{State: tasks.Paused, Context: map[string]any{"title": "Paused over the socket"}})
	client, err := acronis.NewClient(acronis.Config{BaseURL: f.api.URL, ClientID: f.api.ClientID, ClientSecret: f.api.ClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(f.logs, nil))
	f.srv = NewServer(ServerConfig{Answerer: NewAnswerer(AnswererConfig{API: client, Logger: log}), Logger: log, AckWithin: 300 * time.Millisecond})
	api := slack.New("xoxb-test-token", slack.OptionAPIURL(f.slack.URL()), slack.OptionAppLevelToken("xapp-1-test-app-token"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunSocketMode(ctx, api, f.srv) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunSocketMode: %v", err)
		}
	})
	return f
}

// command is a /tasks slash command payload as Slack sends it over Socket Mode; trigger is its
// trigger_id, the same in every delivery of one command.
func (f *socketFixture) command(text, trigger string) map[string]string {
	return map[string]string{"command": "/tasks", "text": text, "response_url": f.resp.URL,
		"user_id": "U0000USER", "channel_id": "C0000CHAN", "trigger_id": trigger}
}

// deliver sends env and returns the text Slack would show for its acknowledgement.
func (f *socketFixture) deliver(t *testing.T, env bottest.Envelope) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ack, err := f.slack.SocketDeliver(ctx, env)
	if err != nil {
		t.Fatalf("%v\n%s", err, f.logs)
	}
	return unescapeJSON(string(ack))
}

// TestSocketModeRedelivery: an envelope Slack delivers again (retry_attempt > 0, because it saw
// no acknowledgement in time) is acknowledged with the first delivery's answer and runs the
// command once; a redelivery whose first delivery never arrived is answered once.
func TestSocketModeRedelivery(t *testing.T) {
	t.Run("while the first delivery is being answered, with a new envelope_id", func(t *testing.T) {
		f := newSocketFixture(t)
		// The API answers after AckWithin: the first delivery is acknowledged with a progress
		// note and its answer goes to response_url.
		f.api.Fail(taskstest.Fault{Delay: time.Second})
		firstAck := make(chan string, 1)
		go func() {
			firstAck <- f.deliver(t, bottest.Envelope{ID: "env-first", Type: "slash_commands", Payload: f.command("paused", "trig-1")})
		}()
		waitUntil(t, "the first delivery's API call", func() bool { return f.api.TaskRequests() == 1 })
		again := f.deliver(t, bottest.Envelope{ID: "env-retry", Type: "slash_commands", Payload: f.command("paused", "trig-1"),
			RetryAttempt: 1, RetryReason: "timeout"})
		first := <-firstAck
		if !strings.Contains(first, "answer follows") || again != first {
			t.Errorf("acknowledgements: first %s, redelivery %s; want the same progress note", first, again)
		}
		if err := f.srv.Drain(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := f.api.TaskRequests(); n != 1 {
			t.Errorf("the API was asked %d times, want 1", n)
		}
		posts := f.resp.Posts()
		if len(posts) != 1 || !strings.Contains(unescapeJSON(string(posts[0])), "Paused over the socket") {
			t.Errorf("response_url got %d posts (%s), want the answer once", len(posts), posts)
		}
		if f.slack.SocketAcks("env-first") != 1 || f.slack.SocketAcks("env-retry") != 1 {
			t.Errorf("acknowledgements: env-first %d, env-retry %d; want 1 each", f.slack.SocketAcks("env-first"), f.slack.SocketAcks("env-retry"))
		}
		if logs := f.logs.String(); !strings.Contains(logs, "not run again") || !strings.Contains(logs, "retry_attempt=1 retry_reason=timeout") {
			t.Errorf("the redelivery is not logged with its retry_attempt:\n%s", logs)
		}
	})

	t.Run("after the answer, with the same envelope_id", func(t *testing.T) {
		f := newSocketFixture(t)
		first := f.deliver(t, bottest.Envelope{ID: "env-7", Type: "slash_commands", Payload: f.command("paused", "trig-7")})
		again := f.deliver(t, bottest.Envelope{ID: "env-7", Type: "slash_commands", Payload: f.command("paused", "trig-7"),
			RetryAttempt: 2, RetryReason: "timeout"})
		if !strings.Contains(first, "Paused over the socket") || again != first {
			t.Errorf("acknowledgements: first %s, redelivery %s; want the same answer", first, again)
		}
		f.srv.Drain(t.Context())
		if n := f.api.TaskRequests(); n != 1 {
			t.Errorf("the API was asked %d times, want 1", n)
		}
		if n := f.slack.SocketAcks("env-7"); n != 2 {
			t.Errorf("env-7 acknowledged %d times, want once per delivery (2)", n)
		}
	})

	t.Run("first delivery never arrived", func(t *testing.T) {
		f := newSocketFixture(t)
		ack := f.deliver(t, bottest.Envelope{ID: "env-late", Type: "slash_commands", Payload: f.command("paused", "trig-late"),
			RetryAttempt: 1, RetryReason: "timeout"})
		f.srv.Drain(t.Context())
		if !strings.Contains(ack, "Paused over the socket") || f.api.TaskRequests() != 1 {
			t.Errorf("acknowledgement %s after %d API calls; want the answer after one", ack, f.api.TaskRequests())
		}
		if !strings.Contains(f.logs.String(), "first delivery never arrived") {
			t.Errorf("the unseen redelivery is not logged:\n%s", f.logs)
		}
	})

	t.Run("a Refresh click redelivered", func(t *testing.T) {
		f := newSocketFixture(t)
		click := map[string]any{"type": "block_actions", "trigger_id": "trig-click", "response_url": f.resp.URL,
			"actions": []map[string]string{{"block_id": "b", "action_id": RefreshActionID, "value": "paused", "type": "button"}}}
		f.deliver(t, bottest.Envelope{ID: "env-click", Type: "interactive", Payload: click})
		f.deliver(t, bottest.Envelope{ID: "env-click-2", Type: "interactive", Payload: click, RetryAttempt: 1, RetryReason: "timeout"})
		// The first click's answer follows its acknowledgement; the redelivery was decided on
		// before it was acknowledged.
		waitUntil(t, "the refreshed answer", func() bool { return len(f.resp.Posts()) >= 1 })
		if err := f.srv.Drain(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n, posts := f.api.TaskRequests(), f.resp.Posts(); n != 1 || len(posts) != 1 {
			t.Errorf("%d API calls and %d response_url posts, want 1 each", n, len(posts))
		}
	})

	t.Run("two commands with their own trigger_ids both run", func(t *testing.T) {
		f := newSocketFixture(t)
		for _, trig := range []string{"trig-a", "trig-b"} {
			if ack := f.deliver(t, bottest.Envelope{Type: "slash_commands", Payload: f.command("paused", trig)}); !strings.Contains(ack, "Paused over the socket") {
				t.Errorf("%s: acknowledgement %s", trig, ack)
			}
		}
		if n := f.api.TaskRequests(); n != 2 {
			t.Errorf("the API was asked %d times, want 2", n)
		}
	})
}

// TestDeliveriesWindow: a delivery is recognised by either key within redeliveryWindow and
// forgotten after it.
func TestDeliveriesWindow(t *testing.T) {
	var ds deliveries
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	first, isFirst := ds.claim(t0, "envelope:e1", "trigger:t1")
	first.settle("answer")
	for _, tc := range []struct {
		name      string
		at        time.Time
		keys      []string
		wantFirst bool
	}{
		{"same envelope_id a minute later", t0.Add(time.Minute), []string{"envelope:e1"}, false},
		{"new envelope_id, same trigger_id, five minutes later", t0.Add(5 * time.Minute), []string{"envelope:e2", "trigger:t1"}, false},
		{"another command", t0.Add(5 * time.Minute), []string{"envelope:e3", "trigger:t3"}, true},
		{"no keys at all", t0, nil, true},
		{"same trigger_id after the window", t0.Add(redeliveryWindow + time.Second), []string{"envelope:e4", "trigger:t1"}, true},
	} {
		d, isFirst := ds.claim(tc.at, tc.keys...)
		if isFirst != tc.wantFirst || (!isFirst && d != first) {
			t.Errorf("%s: first = %v, want %v", tc.name, isFirst, tc.wantFirst)
		}
	}
	if !isFirst || first.ack != "answer" {
		t.Errorf("the first claim: first = %v, ack %v", isFirst, first.ack)
	}
}
