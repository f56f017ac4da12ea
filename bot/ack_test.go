package bot

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// slowAPI is the fake Task Manager with one paused task, whose list answers are held until the
// test closes gate, and a real client of it.
func slowAPI(t *testing.T) (api *taskstest.Server, client *acronis.Client, gate chan struct{}) {
	t.Helper()
	api = taskstest.NewServer()
	t.Cleanup(api.Close)
	api.Add(tasks.Task{State: tasks.Paused, Context: map[string]any{"title": "Slow backup"}})
	client, err := acronis.NewClient(acronis.Config{BaseURL: api.URL, ClientID: api.ClientID, ClientSecret: api.ClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	gate = make(chan struct{})
	api.Fail(taskstest.Fault{Until: gate})
	return api, client, gate
}

// checkLateAnswer checks that response_url got the answer once, replacing the progress note.
func checkLateAnswer(t *testing.T, ru *bottest.ResponseURL) {
	t.Helper()
	waitUntil(t, "the answer at response_url", func() bool { return len(ru.Posts()) > 0 })
	posts := ru.Posts()
	var m struct {
		ReplaceOriginal bool   `json:"replace_original"`
		ResponseType    string `json:"response_type"`
	}
	json.Unmarshal(posts[0], &m)
	if len(posts) != 1 || !m.ReplaceOriginal || m.ResponseType != "ephemeral" || !strings.Contains(string(posts[0]), "Slow backup") {
		t.Fatalf("response_url got %s, want the task list once, replacing the note, for the user alone", posts)
	}
}

// TestASlowAPIIsAnsweredThroughResponseURL: while the Task Manager has not answered, the slash
// command is already acknowledged with a progress note (over HTTP and over Socket Mode alike),
// and the answer follows at response_url once the API answers. The API is released only after
// the acknowledgement arrived, so the order of events is the proof, not a clock.
func TestASlowAPIIsAnsweredThroughResponseURL(t *testing.T) {
	t.Run("HTTP, with the default budget", func(t *testing.T) {
		api, client, gate := slowAPI(t)
		s := NewServer(ServerConfig{SigningSecret: secret, Answerer: NewAnswerer(AnswererConfig{API: client}), Logger: discardLogger()})
		hs := httptest.NewServer(s.Handler())
		defer hs.Close()
		ru := bottest.NewResponseURL()
		defer ru.Close()

		code, body := post(t, hs.URL+"/slack/commands", "application/x-www-form-urlencoded", bottest.CommandForm("paused", ru.URL), true)
		if code != 200 || !strings.Contains(body, "follows") || !strings.Contains(body, `"response_type":"ephemeral"`) {
			t.Fatalf("ack = %d %s, want a progress note for the user alone", code, body)
		}
		if n := api.TaskRequests(); n != 1 || len(ru.Posts()) != 0 {
			t.Fatalf("before the API answered: %d API requests, %d posts; want 1 held request, no post", n, len(ru.Posts()))
		}
		close(gate)
		checkLateAnswer(t, ru)
		if err := s.Drain(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Socket Mode", func(t *testing.T) {
		f := newSocketFixture(t)
		gate := make(chan struct{})
		f.api.Fail(taskstest.Fault{Until: gate})
		ack := f.deliver(t, bottest.Envelope{ID: "env-slow", Type: "slash_commands", Payload: f.command("paused", "trig-slow")})
		if !strings.Contains(ack, "follows") || f.api.TaskRequests() != 1 || len(f.resp.Posts()) != 0 {
			t.Fatalf("ack %s with %d API requests and %d posts; want a progress note while the API holds its one request", ack, f.api.TaskRequests(), len(f.resp.Posts()))
		}
		close(gate)
		waitUntil(t, "the answer at response_url", func() bool { return len(f.resp.Posts()) > 0 })
		if posts := f.resp.Posts(); len(posts) != 1 || !strings.Contains(string(posts[0]), "Paused over the socket") || !strings.Contains(string(posts[0]), `"replace_original":true`) {
			t.Fatalf("response_url got %s, want the answer once, replacing the note", posts)
		}
	})
}

// TestResponseURLErrorsAreLoggedAndCounted: a late answer that response_url refuses, or that
// cannot reach it, is logged (naming its host, never the rest of the URL, which lets anyone
// answer as the user) and counted in taskbot_response_url_errors_total.
func TestResponseURLErrorsAreLoggedAndCounted(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "expired_url", http.StatusNotFound)
	}))
	defer refusing.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // connection refused: net/http's error would name the whole URL
	for _, tc := range []struct {
		name, base, wantLog string
	}{
		{"refused", refusing.URL, "404"},
		{"unreachable", gone.URL, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, client, gate := slowAPI(t)
			logs := &logBuffer{}
			m := NewMetrics(nil)
			s := NewServer(ServerConfig{SigningSecret: secret, Answerer: NewAnswerer(AnswererConfig{API: client}),
				Logger: slog.New(slog.NewTextHandler(logs, nil)), Metrics: m})
			hs := httptest.NewServer(s.Handler())
			defer hs.Close()
			responseURL := tc.base + "/commands/T0000TEAM/1234567890/Zx9SecretPartOfTheURL"
			if code, body := post(t, hs.URL+"/slack/commands", "application/x-www-form-urlencoded", bottest.CommandForm("paused", responseURL), true); !strings.Contains(body, "follows") {
				t.Fatalf("ack = %d %s, want a progress note", code, body)
			}
			close(gate)
			if err := s.Drain(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := testutil.ToFloat64(m.ResponseURLErrors); n != 1 {
				t.Errorf("taskbot_response_url_errors_total = %v, want 1", n)
			}
			host := strings.TrimPrefix(tc.base, "http://")
			if l := logs.String(); !strings.Contains(l, "could not deliver a late /tasks answer") || !strings.Contains(l, "response_url "+host) || !strings.Contains(l, tc.wantLog) {
				t.Errorf("log lacks the failure, its host or its cause %q:\n%s", tc.wantLog, l)
			}
			if l := logs.String(); strings.Contains(l, "Zx9Secret") || strings.Contains(l, "/commands/") {
				t.Errorf("log holds the response_url's path:\n%s", l)
			}
		})
	}
}

// TestAnAnswerWaitingToBeRenderedDoesNotHoldTheAck: an answer the API has given but that
// waits for a render slot (every slot busy, as when a shared listing answers hundreds of
// commands at once) is not waited for: the command is acknowledged with a progress note when its
// budget ends, and the answer follows at response_url once a slot is free.
func TestAnAnswerWaitingToBeRenderedDoesNotHoldTheAck(t *testing.T) {
	api := taskstest.NewServer()
	t.Cleanup(api.Close)
	api.Add(tasks.Task{State: tasks.Paused, Context: map[string]any{"title": "Quick backup"}})
	client, err := acronis.NewClient(acronis.Config{BaseURL: api.URL, ClientID: api.ClientID, ClientSecret: api.ClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	a := NewAnswerer(AnswererConfig{API: client})
	for range cap(a.renders) {
		a.renders <- struct{}{} // every slot busy
	}
	s := NewServer(ServerConfig{SigningSecret: secret, Answerer: a, AckWithin: 50 * time.Millisecond, Logger: discardLogger()})
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	ru := bottest.NewResponseURL()
	defer ru.Close()

	code, body := post(t, hs.URL+"/slack/commands", "application/x-www-form-urlencoded", bottest.CommandForm("paused", ru.URL), true)
	if code != 200 || !strings.Contains(body, "follows") {
		t.Fatalf("ack = %d %s, want a progress note while the answer waits for a slot", code, body)
	}
	waitUntil(t, "the API to be asked", func() bool { return api.TaskRequests() == 1 })
	if n := len(ru.Posts()); n != 0 {
		t.Fatalf("%d posts at response_url while every render slot is busy, want none", n)
	}
	<-a.renders // one slot free
	waitUntil(t, "the answer at response_url", func() bool { return len(ru.Posts()) > 0 })
	if posts := ru.Posts(); len(posts) != 1 || !strings.Contains(string(posts[0]), "Quick backup") {
		t.Fatalf("response_url got %s, want the task list once", posts)
	}
	if err := s.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
}
