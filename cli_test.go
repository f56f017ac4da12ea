package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks"
)

func TestTasksCommand(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.api.Add(tasks.Task{State: tasks.Paused, Type: "MachineBackup", Context: map[string]any{"title": "Paused <b>backup</b> & co"}})
	e.api.Add(tasks.Task{State: tasks.Started, Type: "MachineBackup", Context: map[string]any{"title": "Running backup"}})
	done := e.api.Add(tasks.Task{State: tasks.Started, Type: "MachineBackup", Context: map[string]any{"title": "Broken backup"}})
	if _, err := e.api.SetState(done.UUID, tasks.Completed, tasks.ResultError); err != nil {
		t.Fatal(err)
	}
	// Only ACRONIS_* are needed for `taskbot tasks`.
	e.set("SLACK_BOT_TOKEN", "")
	e.set("SLACK_CHANNEL", "")

	t.Run("text", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"tasks", "PAUSED"}, e.getenv, strings.NewReader(""), &out, &errOut)
		if err != nil {
			t.Fatalf("%v\n%s", err, errOut.String())
		}
		if !strings.Contains(out.String(), "Paused <b>backup</b> & co") || strings.Contains(out.String(), "Running backup") {
			t.Fatalf("output:\n%s", out.String())
		}
		if strings.Contains(out.String(), `"blocks"`) {
			t.Fatalf("text output is JSON:\n%s", out.String())
		}
	})
	t.Run("json payload", func(t *testing.T) {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"tasks", "-json", "failed"}, e.getenv, strings.NewReader(""), &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		var m struct {
			Text   string            `json:"text"`
			Blocks []json.RawMessage `json:"blocks"`
		}
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out.String())
		}
		if m.Text == "" || len(m.Blocks) == 0 || !strings.Contains(out.String(), "Broken backup") || strings.Contains(out.String(), "Running backup") {
			t.Fatalf("payload:\n%s", out.String())
		}
	})
	t.Run("API failure is exit 1 with the reason", func(t *testing.T) {
		e.set("ACRONIS_CLIENT_SECRET", "wrong-secret-Zq99")
		var out bytes.Buffer
		err := run(context.Background(), []string{"tasks"}, e.getenv, strings.NewReader(""), &out, &out)
		if code := exitCode(err, &out); code != 1 || !strings.Contains(out.String(), "401") || strings.Contains(out.String(), "wrong-secret-Zq99") {
			t.Fatalf("exit %d, output %q", code, out.String())
		}
	})
}

// TestCheckNamesTheScopeTheChannelCheckLacks: conversations.info needs channels:read (and
// groups:read for private channels), not chat:write.
func TestCheckNamesTheScopeTheChannelCheckLacks(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.slack.Fail(bottest.Fault{Method: "conversations.info", Error: "missing_scope"})
	var out bytes.Buffer
	err := run(context.Background(), []string{"check"}, e.getenv, strings.NewReader(""), &out, &out)
	if code := exitCode(err, &out); code != 1 || !strings.Contains(out.String(), "FAIL Slack channel C0123ABCDEF: missing_scope") ||
		!strings.Contains(out.String(), "channels:read and groups:read") || strings.Contains(out.String(), "chat:write") {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
}

func TestCheckCommand(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.api.Add(tasks.Task{State: tasks.Started, Context: map[string]any{"title": "x"}})

	var out bytes.Buffer
	err := run(context.Background(), []string{"check"}, e.getenv, strings.NewReader(""), &out, &out)
	if code := exitCode(err, &out); code != 1 || !strings.Contains(out.String(), "FAIL Slack channel C0123ABCDEF") {
		t.Fatalf("unknown channel: exit %d\n%s", code, out.String())
	}

	e.slack.SetChannel("C0123ABCDEF", "ops-alerts", false)
	out.Reset()
	err = run(context.Background(), []string{"check"}, e.getenv, strings.NewReader(""), &out, &out)
	if code := exitCode(err, &out); code != 1 || !strings.Contains(out.String(), "/invite") {
		t.Fatalf("bot not in channel: exit %d\n%s", code, out.String())
	}

	e.slack.SetChannel("C0123ABCDEF", "ops-alerts", true)
	out.Reset()
	err = run(context.Background(), []string{"check"}, e.getenv, strings.NewReader(""), &out, &out)
	if err != nil {
		t.Fatalf("all good: %v\n%s", err, out.String())
	}
	for _, w := range []string{"ok   Acronis sign-in", "ok   Task Manager API: list tasks: 1 task in progress", "ok   Host clock vs Acronis",
		"ok   Slack bot token", "ok   Slack channel C0123ABCDEF", "ok   Host clock vs Slack", "all checks passed"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	if n := len(e.slack.Posts()); n != 0 || e.slack.Joins() != 0 {
		t.Errorf("check posted %d messages and joined %d times; it must be read-only", n, e.slack.Joins())
	}
}

// silentServer is a TCP server that accepts connections and never answers (a hung API behind a
// load balancer); it returns its http:// URL.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// TestCheckHangingAcronis: an ACRONIS_URL that accepts connections and never answers fails the
// Acronis checks on their own time limit, and the Slack checks still run and pass. Before each
// check had its own limit, the Acronis sign-in used up the whole minute and Slack was reported
// as failing.
func TestCheckHangingAcronis(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.slack.SetChannel("C0123ABCDEF", "ops-alerts", true)
	e.set("ACRONIS_URL", silentServer(t))

	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"check"}, e.getenv, strings.NewReader(""), &out, &out)
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(50 * time.Second): // the limit is 15 s a check; the old whole-check limit was 60 s
		t.Fatalf("check still running after 50s:\n%s", out.String())
	}
	code := exitCode(err, &out)
	got := out.String()
	if code != 1 {
		t.Errorf("exit %d, want 1\n%s", code, got)
	}
	for _, w := range []string{
		"FAIL Acronis sign-in at " + e.getenv("ACRONIS_URL") + ": no answer within 15s (token: context deadline exceeded)\n",
		"skip the task list check and the Acronis clock check",
		"ok   Slack bot token: signed in as @",
		"ok   Slack channel C0123ABCDEF: the bot is a member of #ops-alerts",
		"ok   Host clock vs Slack",
		"1 check failed",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
}

// skewedProxy is a reverse proxy to target whose answers carry a Date header off by offset
// (the rest of each answer is target's).
func skewedProxy(t *testing.T, target string, offset time.Duration) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) },
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set("Date", time.Now().Add(offset).UTC().Format(http.TimeFormat))
			return nil
		},
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCheckClockSkew: Acronis or Slack answering with a Date header hours away from the host
// clock fails that service's clock check with the fix; a few seconds pass.
func TestCheckClockSkew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                 string
		acronisOff, slackOff time.Duration // of the server's clock from the host's
		wantFail             string        // the failing line, up to the offset
		wantSide             string        // and after it
		wantOK               []string
	}{
		{"Acronis 3 hours ahead", 3 * time.Hour, 0,
			"FAIL Host clock vs Acronis at http://127.0.0.1:", "off (behind the server's); enable time synchronisation (NTP)",
			[]string{"ok   Host clock vs Slack", "ok   Acronis sign-in", "ok   Task Manager API", "ok   Slack bot token", "ok   Slack channel"}},
		{"Slack 3 hours behind", 0, -3 * time.Hour,
			"FAIL Host clock vs Slack at http://127.0.0.1:", "off (ahead of the server's); enable time synchronisation (NTP)",
			[]string{"ok   Host clock vs Acronis", "ok   Acronis sign-in", "ok   Task Manager API", "ok   Slack bot token", "ok   Slack channel"}},
		{"20 seconds either way pass", 20 * time.Second, -20 * time.Second,
			"", "",
			[]string{"ok   Host clock vs Acronis", "ok   Host clock vs Slack", "all checks passed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			e.slack.SetChannel("C0123ABCDEF", "ops-alerts", true)
			e.set("ACRONIS_URL", skewedProxy(t, e.api.URL, tc.acronisOff))
			e.set("SLACK_API_URL", skewedProxy(t, e.slack.URL(), tc.slackOff)+"/")

			var out bytes.Buffer
			err := run(context.Background(), []string{"check"}, e.getenv, strings.NewReader(""), &out, &out)
			code := exitCode(err, &out)
			got := out.String()
			wantCode := 0
			if tc.wantFail != "" {
				wantCode = 1
				// The Date header has whole seconds: the offset read is 3h give or take a second.
				m := regexp.MustCompile(regexp.QuoteMeta(tc.wantFail) + `.*: the host clock is (\S+) ` + regexp.QuoteMeta(tc.wantSide)).FindStringSubmatch(got)
				if m == nil {
					t.Errorf("output lacks %q … the host clock is … %q:\n%s", tc.wantFail, tc.wantSide, got)
				} else if d, err := time.ParseDuration(m[1]); err != nil || (d-3*time.Hour).Abs() > 2*time.Second {
					t.Errorf("the host clock is %s off, want about 3h:\n%s", m[1], got)
				}
			}
			if code != wantCode {
				t.Errorf("exit %d, want %d\n%s", code, wantCode, got)
			}
			for _, w := range tc.wantOK {
				if !strings.Contains(got, w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
			if n := len(e.slack.Posts()); n != 0 || e.slack.Joins() != 0 {
				t.Errorf("check posted %d messages and joined %d times; it must be read-only", n, e.slack.Joins())
			}
		})
	}
}

func TestDemo(t *testing.T) {
	t.Parallel()
	stdin, w := io.Pipe()
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"demo", "-every", "300ms"}, noEnv, stdin, &out, io.Discard)
	}()
	waitUntil(t, 30*time.Second, "the demo's banner", func() bool { return strings.Contains(out.String(), "Ctrl-C quits") })
	io.WriteString(w, "/tasks\n/tasks pausd\nhello\n")
	// The demo runs until its context ends: end it once it has announced and answered.
	waitUntil(t, 30*time.Second, "an announcement and the three answers", func() bool {
		o := out.String()
		return strings.Contains(o, "] #demo") && strings.Contains(o, "Tasks in progress") &&
			strings.Contains(o, `I don't understand "pausd"`) && strings.Contains(o, "type /tasks")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"taskbot demo", "] #demo", "> /tasks", "Tasks in progress", `I don't understand "pausd"`, "type /tasks", "demo finished"} {
		if !strings.Contains(got, want) {
			t.Errorf("demo output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, `"blocks"`) || strings.Contains(got, `{"type"`) {
		t.Errorf("demo prints raw JSON:\n%s", got)
	}
}
