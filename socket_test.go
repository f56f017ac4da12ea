package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

func TestSocketMode(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.set("SLACK_APP_TOKEN", "xapp-1-test-app-token")
	e.set("SLACK_SIGNING_SECRET", "")
	e.api.Add(tasks.Task{State: tasks.Paused, Context: map[string]any{"title": "Paused over the socket"}})
	e.api.Add(tasks.Task{State: tasks.Started, Context: map[string]any{"title": "Running elsewhere"}})
	stop, logs := e.start(t)
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := e.slack.SocketSend(ctx, "slash_commands", map[string]string{
		"command": "/tasks", "text": "paused", "response_url": e.resp.URL, "user_id": "U0000USER", "channel_id": "C0000CHAN",
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	got := strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(string(ack))
	if !strings.Contains(got, "Paused over the socket") || strings.Contains(got, "Running elsewhere") {
		t.Fatalf("acknowledgement payload: %s", got)
	}
	if !strings.Contains(e.slack.SocketAppToken(), "xapp-1-test-app-token") {
		t.Errorf("apps.connections.open was not called with the app-level token")
	}

	// The Refresh button over the socket: acknowledged at once, answer through response_url.
	refresh := buttonValue(t, ack, "tasks_refresh")
	if _, err := e.slack.SocketSend(ctx, "interactive", map[string]any{
		"type": "block_actions", "response_url": e.resp.URL,
		"channel": map[string]string{"id": "C0000CHAN"}, "user": map[string]string{"id": "U0000USER"},
		"actions": []map[string]string{{"block_id": "b", "action_id": "tasks_refresh", "value": refresh, "type": "button"}},
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refreshed answer", func() bool {
		for _, p := range e.resp.Posts() {
			if strings.Contains(string(p), "Paused over the socket") {
				return true
			}
		}
		return false
	})

	// Without a signing secret, the HTTP door for Slack is shut.
	resp, err := http.Post("http://"+e.addr+"/slack/commands", "application/x-www-form-urlencoded", strings.NewReader("text=paused"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /slack/commands in Socket Mode: %d, want 404", resp.StatusCode)
	}
}

// TestSocketModeNotConnectedIsNotReady: while the WebSocket cannot be opened no slash command
// can arrive; /readyz says so, and the log says why.
func TestSocketModeNotConnectedIsNotReady(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.set("SLACK_APP_TOKEN", "xapp-1-test-app-token")
	e.set("SLACK_SIGNING_SECRET", "")
	e.set("SLACK_API_URL", refusingSlack(t, http.StatusInternalServerError, ""))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, e.getenv, strings.NewReader(""), logs, logs) }()
	readyzSays(t, e, "socket mode is not connected: http_500")
	waitFor(t, "the reason in the log", func() bool {
		return strings.Contains(logs.String(), "socket mode connection failed") && strings.Contains(logs.String(), "err=http_500")
	})
	resp, err := http.Get("http://" + e.addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d, want 503", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
