package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

const testSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// syncBuffer collects a running bot's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// env is a complete environment for serve against the fakes.
type testEnv struct {
	mu    sync.Mutex
	vars  map[string]string // the environment run sees, through getenv
	api   *taskstest.Server
	slack *bottest.Slack
	resp  *bottest.ResponseURL
	addr  string
	db    string
}

func newTestEnv(t *testing.T) *testEnv {
	e := &testEnv{api: taskstest.NewServer(), slack: bottest.NewSlack(), resp: bottest.NewResponseURL(),
		addr: freeAddr(t), db: filepath.Join(t.TempDir(), "taskbot.db")}
	t.Cleanup(e.api.Close)
	t.Cleanup(e.slack.Close)
	t.Cleanup(e.resp.Close)
	e.vars = map[string]string{
		"ACRONIS_URL":             e.api.URL,
		"ACRONIS_CLIENT_ID":       e.api.ClientID,
		"ACRONIS_CLIENT_SECRET":   e.api.ClientSecret,
		"SLACK_BOT_TOKEN":         "xoxb-test-token",
		"SLACK_SIGNING_SECRET":    testSecret,
		"SLACK_APP_TOKEN":         "",
		"SLACK_CHANNEL":           "C0123ABCDEF",
		"SLACK_API_URL":           e.slack.URL(),
		"TASKBOT_LISTEN_ADDR":     e.addr,
		"TASKBOT_DB_PATH":         e.db,
		"TASKBOT_POLL_INTERVAL":   "150ms",
		"TASKBOT_ANNOUNCE_STATES": "",
		"TASKBOT_LOG_LEVEL":       "debug",
	}
	return e
}

// set sets an environment variable of the runs to come.
func (e *testEnv) set(k, v string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.vars[k] = v
}

// getenv is run's getenv: e's variables, nothing of the test process's environment.
func (e *testEnv) getenv(k string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.vars[k]
}

// noEnv is the getenv of commands that read no variables.
func noEnv(string) string { return "" }

// start runs the bot until the returned stop is called; stop returns run's error.
func (e *testEnv) start(t *testing.T) (stop func() error, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, e.getenv, strings.NewReader(""), logs, logs) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + e.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("run ended before it was ready: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not ready after 15s\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				err = fmt.Errorf("run did not stop within 20s")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop, logs
}

func (e *testEnv) command(t *testing.T, text string, at time.Time, secret string) (*http.Response, []byte) {
	t.Helper()
	body := bottest.CommandForm(text, e.resp.URL)
	req, _ := http.NewRequest("POST", "http://"+e.addr+"/slack/commands", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	bottest.Sign(req, secret, body, at)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// announcementsOf returns the channel messages whose fallback text names title.
func announcementsOf(s *bottest.Slack, title string) []bottest.Post {
	var out []bottest.Post
	for _, p := range s.Messages() {
		if strings.Contains(p.Text, title) {
			out = append(out, p)
		}
	}
	return out
}

// pollsAfter waits until the bot has polled the API n more times.
func pollsAfter(t *testing.T, api *taskstest.Server, n int) {
	t.Helper()
	start := api.TaskRequests()
	waitFor(t, fmt.Sprintf("%d more polls", n), func() bool { return api.TaskRequests() >= start+n })
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	nightly := e.api.Add(tasks.Task{State: tasks.Started, Type: "MachineBackup", Context: map[string]any{"title": "Nightly backup of SQL-01"}})
	rnd := e.api.Add(tasks.Task{State: tasks.Paused, Type: "MachineBackup", Context: map[string]any{"title": "Backup plan 'R&D <nightly>' on FS-02"}})
	repl := e.api.Add(tasks.Task{State: tasks.Started, Type: "ArchiveReplication", Context: map[string]any{"title": "Replicating archive to cloud"}})
	e.api.Add(tasks.Task{State: tasks.Completed, Type: "MachineBackup", Context: map[string]any{"title": "Old finished backup"}})

	stop, logs := e.start(t)

	t.Run("signed /tasks paused answers with exactly the paused tasks", func(t *testing.T) {
		resp, body := e.command(t, "  PAUSED ", time.Now(), testSecret)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var msg struct {
			ResponseType string            `json:"response_type"`
			Text         string            `json:"text"`
			Blocks       []json.RawMessage `json:"blocks"`
		}
		if err := json.Unmarshal(body, &msg); err != nil {
			t.Fatalf("answer is not JSON: %v: %s", err, body)
		}
		all := strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(string(body))
		if !strings.Contains(all, "R&amp;D &lt;nightly&gt;") {
			t.Errorf("answer lacks the paused task's escaped title: %s", all)
		}
		for _, other := range []string{"Nightly backup of SQL-01", "Replicating archive", "Old finished backup"} {
			if strings.Contains(all, other) {
				t.Errorf("answer to /tasks paused lists %q, which is not paused", other)
			}
		}
		if len(msg.Blocks) == 0 || msg.Text == "" {
			t.Errorf("answer has no blocks or no fallback text: %s", all)
		}
	})

	// commandQueries counts API requests a /tasks paused command makes (the poller never asks
	// for paused tasks alone).
	commandQueries := func() int {
		n := 0
		for _, r := range e.api.Requests() {
			if strings.Contains(r.RawQuery, "state=paused") && !strings.Contains(r.RawQuery, "state=started") {
				n++
			}
		}
		return n
	}

	t.Run("forged and stale requests get 401 and no API call", func(t *testing.T) {
		before := commandQueries()
		for _, tc := range []struct {
			name   string
			at     time.Time
			secret string
		}{
			{"wrong secret", time.Now(), "not-the-signing-secret"},
			{"six minutes old", time.Now().Add(-6 * time.Minute), testSecret},
		} {
			resp, body := e.command(t, "paused", tc.at, tc.secret)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: status %d (%s), want 401", tc.name, resp.StatusCode, body)
			}
		}
		// Unsigned.
		resp, err := http.Post("http://"+e.addr+"/slack/commands", "application/x-www-form-urlencoded",
			strings.NewReader(string(bottest.CommandForm("paused", e.resp.URL))))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("unsigned: status %d, want 401", resp.StatusCode)
		}
		if n := commandQueries() - before; n != 0 {
			t.Errorf("%d rejected requests reached the API", n)
		}
	})

	t.Run("a task moved started to paused is announced once, with its title", func(t *testing.T) {
		if _, err := e.api.SetState(nightly.UUID, tasks.Paused, ""); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the pause announcement", func() bool { return len(announcementsOf(e.slack, "Nightly backup of SQL-01")) > 0 })
		pollsAfter(t, e.api, 5)
		got := announcementsOf(e.slack, "Nightly backup of SQL-01")
		if len(got) != 1 {
			t.Fatalf("announced %d times, want once: %+v", len(got), got)
		}
		if !strings.Contains(got[0].Text, "paused") || got[0].Channel != "C0123ABCDEF" {
			t.Errorf("announcement %+v does not say paused in the configured channel", got[0])
		}
		if !strings.Contains(string(got[0].Blocks), "Nightly backup of SQL-01") {
			t.Errorf("announcement blocks lack the title: %s", got[0].Blocks)
		}
	})

	t.Run("health, readiness, metrics and healthcheck", func(t *testing.T) {
		for path, want := range map[string]string{
			"/healthz": "ok",
			"/readyz":  "last poll succeeded",
			"/metrics": `taskbot_polls_total{result="ok"}`,
		} {
			resp, err := http.Get("http://" + e.addr + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
				t.Errorf("GET %s: %d, body lacks %q", path, resp.StatusCode, want)
			}
			for _, secret := range []string{testSecret, e.api.ClientSecret, "xoxb-test-token"} {
				if strings.Contains(string(b), secret) {
					t.Errorf("GET %s shows a secret", path)
				}
			}
		}
		if err := run(context.Background(), []string{"healthcheck"}, e.getenv, strings.NewReader(""), io.Discard, io.Discard); err != nil {
			t.Errorf("healthcheck against a running bot: %v", err)
		}
	})

	t.Run("metrics alert rules rely on exist before the first error", func(t *testing.T) {
		resp, err := http.Get("http://" + e.addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`taskbot_polls_total{result="error"} 0`,
			`taskbot_announcements_total{result="dropped"} 0`,
			`taskbot_slack_errors_total{code="not_in_channel"} 0`,
			`taskbot_slack_errors_total{code="invalid_auth"} 0`,
			`taskbot_slack_errors_total{code="network"} 0`,
			`taskbot_task_manager_errors_total{status="other"} 0`,
			`taskbot_tasks_skipped_total 0`,
			"taskbot_response_url_errors_total 0",
			"taskbot_outbox_pending 0",
			"taskbot_outbox_oldest_age_seconds 0",
		} {
			if !strings.Contains(string(b), want+"\n") {
				t.Errorf("/metrics lacks %q", want)
			}
		}
	})

	if err := stop(); err != nil {
		t.Fatalf("first run: %v\n%s", err, logs)
	}
	for _, secret := range []string{testSecret, e.api.ClientSecret, "xoxb-test-token"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log contains a secret")
		}
	}
	if !strings.Contains(logs.String(), "state file closed") {
		t.Errorf("shutdown did not close the state file:\n%s", logs)
	}
	if err := run(context.Background(), []string{"healthcheck"}, e.getenv, strings.NewReader(""), io.Discard, io.Discard); err == nil {
		t.Errorf("healthcheck succeeded with the bot stopped")
	}
	before := len(e.slack.Messages())

	t.Run("a restart on the same state file announces nothing again", func(t *testing.T) {
		stop, logs := e.start(t)
		pollsAfter(t, e.api, 6)
		if n := len(e.slack.Messages()); n != before {
			t.Fatalf("restart posted %d new messages: %+v\n%s", n-before, e.slack.Messages()[before:], logs)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a change made while the bot was stopped is announced once after it starts", func(t *testing.T) {
		if _, err := e.api.SetState(repl.UUID, tasks.Paused, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.api.SetState(rnd.UUID, tasks.Started, ""); err != nil { // resumed
			t.Fatal(err)
		}
		stop, logs := e.start(t)
		waitFor(t, "announcements of changes made while stopped", func() bool {
			return len(announcementsOf(e.slack, "Replicating archive to cloud")) > 0 && len(announcementsOf(e.slack, "R&amp;D")) > 0
		})
		pollsAfter(t, e.api, 5)
		if got := announcementsOf(e.slack, "Replicating archive to cloud"); len(got) != 1 || !strings.Contains(got[0].Text, "paused") {
			t.Errorf("replication pause announced as %+v, want once as paused\n%s", got, logs)
		}
		if got := announcementsOf(e.slack, "R&amp;D"); len(got) != 1 || !strings.Contains(got[0].Text, "resumed") {
			t.Errorf("R&D resume announced as %+v, want once as resumed", got)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestCorruptStateFileStartsANewBaseline(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	a := e.api.Add(tasks.Task{State: tasks.Started, Context: map[string]any{"title": "Running before the damage"}})
	if err := os.WriteFile(e.db, []byte(strings.Repeat("not a bbolt file\n", 600)), 0o600); err != nil {
		t.Fatal(err)
	}
	stop, logs := e.start(t)
	pollsAfter(t, e.api, 3)
	if n := len(e.slack.Messages()); n != 0 {
		t.Fatalf("a new baseline after a corrupt file posted %d messages", n)
	}
	aside, _ := filepath.Glob(e.db + ".corrupt-*")
	if len(aside) != 1 || !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), aside[0]) {
		t.Fatalf("corrupt file not moved aside loudly: %v\n%s", aside, logs)
	}
	// And the bot works on the new file.
	if _, err := e.api.SetState(a.UUID, tasks.Paused, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pause announcement", func() bool { return len(announcementsOf(e.slack, "Running before the damage")) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestSlackOutageQueuesAndDrainsInOrder(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	var ts []tasks.Task
	for _, title := range []string{"outage-1", "outage-2", "outage-3"} {
		ts = append(ts, e.api.Add(tasks.Task{State: tasks.Started, Context: map[string]any{"title": title}}))
	}
	stop, logs := e.start(t)
	e.slack.Fail(bottest.Fault{Method: "chat.postMessage", Status: 503})
	for _, tk := range ts {
		if _, err := e.api.SetState(tk.UUID, tasks.Paused, ""); err != nil {
			t.Fatal(err)
		}
		pollsAfter(t, e.api, 2)
	}
	// Polling goes on while Slack is down, and the outbox holds all three.
	pollsAfter(t, e.api, 5)
	var metrics string
	waitFor(t, "three pending announcements in /metrics", func() bool {
		resp, err := http.Get("http://" + e.addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		metrics = string(b)
		return strings.Contains(metrics, "taskbot_outbox_pending 3")
	})
	// The oldest announcement has waited at least since two polls after its transition.
	if m := regexp.MustCompile(`taskbot_outbox_oldest_age_seconds ([0-9.e+-]+)`).FindStringSubmatch(metrics); m == nil {
		t.Errorf("/metrics lacks taskbot_outbox_oldest_age_seconds")
	} else if age, _ := strconv.ParseFloat(m[1], 64); age <= 0 {
		t.Errorf("taskbot_outbox_oldest_age_seconds = %s during the outage, want > 0", m[1])
	}
	if n := len(e.slack.Messages()); n != 0 {
		t.Fatalf("%d messages accepted during the outage", n)
	}
	e.slack.ClearFaults()
	waitFor(t, "the backlog to drain", func() bool { return len(e.slack.Messages()) >= 3 })
	msgs := e.slack.Messages()
	for i, want := range []string{"outage-1", "outage-2", "outage-3"} {
		if !strings.Contains(msgs[i].Text, want) || !strings.Contains(msgs[i].Text, "paused") {
			t.Errorf("message %d = %q, want %s paused (in order)", i, msgs[i].Text, want)
		}
	}
	pollsAfter(t, e.api, 3)
	if n := len(e.slack.Messages()); n != 3 {
		t.Errorf("%d messages after the backlog drained, want 3", n)
	}
	if err := stop(); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
}

// TestSlashCommandsAreAnsweredWhileThePollerFollowsEmptyPages: an API that sends empty pages
// with a next cursor (seen: about 48 a second, up to 10,000 pages) neither keeps the poller
// paging for minutes nor keeps /tasks from being answered.
func TestSlashCommandsAreAnsweredWhileThePollerFollowsEmptyPages(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.api.Add(tasks.Task{State: tasks.Paused, Context: map[string]any{"title": "paused behind empty pages"}})
	stop, logs := e.start(t)
	e.api.SetEmptyPages(10000)
	before := e.api.TaskRequests()
	resp, body := e.command(t, "paused", time.Now(), testSecret)
	// The API cut the list short: the answer must not claim there are no paused tasks.
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Tasks paused") || !strings.Contains(string(body), "may be incomplete") {
		t.Fatalf("answer %d %s", resp.StatusCode, body)
	}
	pollsAfter(t, e.api, 3)
	// Each list stops after three empty pages in a row: a handful of requests per poll, not
	// thousands.
	if n := e.api.TaskRequests() - before; n > 60 {
		t.Errorf("%d list requests for a command and three polls over empty pages", n)
	}
	if err := stop(); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
}

// buttonValue is the value of the button with actionID in a Slack message payload
// ({"blocks":[…]} or an acknowledgement {"payload":{…}}); the test fails when there is none.
func buttonValue(t *testing.T, payload []byte, actionID string) string {
	t.Helper()
	var find func(v any) (string, bool)
	find = func(v any) (string, bool) {
		switch v := v.(type) {
		case map[string]any:
			if v["action_id"] == actionID {
				s, ok := v["value"].(string)
				return s, ok
			}
			for _, c := range v {
				if s, ok := find(c); ok {
					return s, true
				}
			}
		case []any:
			for _, c := range v {
				if s, ok := find(c); ok {
					return s, true
				}
			}
		}
		return "", false
	}
	var doc any
	if err := json.Unmarshal(payload, &doc); err != nil {
		t.Fatalf("payload is not JSON: %v", err)
	}
	s, ok := find(doc)
	if !ok {
		t.Fatalf("no %s button in %s", actionID, payload)
	}
	return s
}
