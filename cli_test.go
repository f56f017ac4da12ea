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
	"os"
	"regexp"
	"slices"
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
	acme := &tasks.Tenant{ID: "1496265", Name: "Customer A Ltd"}
	beta := &tasks.Tenant{ID: "1496330", Name: "Beta Industries"}
	e.api.Add(tasks.Task{State: tasks.Paused, Type: "MachineBackup", Tenant: acme, Context: map[string]any{"title": "Paused <b>backup</b> & co"}})
	e.api.Add(tasks.Task{State: tasks.Started, Type: "MachineBackup", Tenant: acme, Context: map[string]any{"title": "Running backup"}})
	betaTask := e.api.Add(tasks.Task{State: tasks.Paused, Type: "MachineBackup", Tenant: beta, Context: map[string]any{"title": "Beta's paused backup"},
		Resource: &tasks.Reference{ID: "r1", Name: "WEB-03", Type: "resource.machine"}, Policy: &tasks.Reference{ID: "p1", Name: "Nightly", Type: "policy.backup.machine"}})
	done := e.api.Add(tasks.Task{State: tasks.Started, Type: "MachineBackup", Tenant: acme, Context: map[string]any{"title": "Broken backup"}})
	if _, err := e.api.SetState(done.UUID, tasks.Completed, tasks.ResultError); err != nil {
		t.Fatal(err)
	}
	// Only ACRONIS_* are needed for `taskbot tasks`.
	e.set("SLACK_BOT_TOKEN", "")
	e.set("SLACK_CHANNEL", "")
	tasksRun := func(args ...string) (code int, stdout, stderr string) {
		t.Helper()
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"tasks"}, args...), e.getenv, strings.NewReader(""), &out, &errOut)
		return exitCode(err, &errOut), out.String(), errOut.String()
	}

	t.Run("text", func(t *testing.T) {
		code, out, errOut := tasksRun("PAUSED")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		if !strings.Contains(out, "Paused <b>backup</b> & co") || !strings.Contains(out, "Beta's paused backup") || strings.Contains(out, "Running backup") {
			t.Fatalf("output:\n%s", out)
		}
		if strings.Contains(out, `"blocks"`) {
			t.Fatalf("text output is JSON:\n%s", out)
		}
	})
	t.Run("json payload", func(t *testing.T) {
		code, out, errOut := tasksRun("-json", "failed")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		var m struct {
			Text   string            `json:"text"`
			Blocks []json.RawMessage `json:"blocks"`
		}
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if m.Text == "" || len(m.Blocks) == 0 || !strings.Contains(out, "Broken backup") || strings.Contains(out, "Running backup") {
			t.Fatalf("payload:\n%s", out)
		}
	})
	t.Run("tenant filters", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args []string
		}{
			{"a name with a space as the shell passes it", []string{"paused", "started", "tenant:Beta Industries"}},
			{"a quoted name", []string{"paused", "started", `tenant:"Beta Industries"`}},
			{"curly quotes and another case", []string{"paused", "started", "TENANT:\u201cbeta industries\u201d"}},
			{"the tenant id", []string{"paused", "started", "tenant:1496330"}},
			{"two tenants, one unknown", []string{"paused", "started", "tenant:Nobody", "tenant:Beta Industries"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, out, errOut := tasksRun(tc.args...)
				if code != 0 {
					t.Fatalf("exit %d\n%s", code, errOut)
				}
				if !strings.Contains(out, "Beta's paused backup") || strings.Contains(out, "Customer A Ltd") || strings.Contains(out, "Running backup") {
					t.Errorf("output:\n%s", out)
				}
			})
		}
		code, out, _ := tasksRun("failed", "tenant:Beta Industries")
		if code != 0 || !strings.Contains(out, "No tasks failed for Beta Industries") || strings.Contains(out, "Broken backup") {
			t.Errorf("a tenant without failures: exit %d\n%s", code, out)
		}
	})
	t.Run("show", func(t *testing.T) {
		for _, id := range []string{betaTask.IDString, betaTask.UUID, strings.ToUpper(betaTask.UUID)} {
			code, out, errOut := tasksRun("show", id)
			if code != 0 {
				t.Fatalf("show %s: exit %d\n%s", id, code, errOut)
			}
			for _, want := range []string{"Beta's paused backup\n", "Paused", "Tenant: Beta Industries (1496330)", "Machine: WEB-03", "Plan: Nightly",
				"Task id " + betaTask.IDString + " · uuid " + betaTask.UUID} {
				if !strings.Contains(out, want) {
					t.Errorf("show %s lacks %q:\n%s", id, want, out)
				}
			}
		}
		code, out, errOut := tasksRun("show", betaTask.IDString, "-json")
		if code != 0 || !strings.HasPrefix(out, "{") || !strings.Contains(out, `"blocks"`) || !strings.Contains(out, "Beta's paused backup") {
			t.Errorf("show -json: exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("show of an unknown task is exit 1 with the reason", func(t *testing.T) {
		code, out, errOut := tasksRun("show", "944455285181779999")
		if code != 1 || out != "" || !strings.Contains(errOut, "no task 944455285181779999 was found") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("a bad task ID is a usage error", func(t *testing.T) {
		code, _, errOut := tasksRun("show", "12x")
		if code != 2 || !strings.Contains(errOut, `"12x" is not a task ID`) {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("the verbs of a channel are done in Slack", func(t *testing.T) {
		before := len(e.api.Requests())
		for _, args := range [][]string{
			{"subscribe", "tenant:Beta Industries"}, {"unsubscribe"}, {"subscriptions"},
			{"mute", "tenant:Beta Industries", "2h", "maintenance"}, {"mutes"}, {"unmute", "1"},
		} {
			code, out, errOut := tasksRun(args...)
			if code != 2 || out != "" || !strings.Contains(errOut, "are made in Slack, in the channel they are for") ||
				!strings.Contains(errOut, "usage: taskbot tasks") {
				t.Errorf("tasks %q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
			}
		}
		if n := len(e.api.Requests()) - before; n != 0 {
			t.Errorf("%d requests to the API for commands that are refused", n)
		}
	})
	t.Run("help", func(t *testing.T) {
		code, out, _ := tasksRun("help")
		if code != 0 || !strings.HasPrefix(out, "usage: taskbot tasks") || !strings.Contains(out, "/tasks show ID") || strings.Contains(out, "`") {
			t.Errorf("exit %d\n%s", code, out)
		}
	})
	t.Run("API failure is exit 1 with the reason", func(t *testing.T) {
		e.set("ACRONIS_CLIENT_SECRET", "wrong-secret-Zq99")
		for _, args := range [][]string{nil, {"show", betaTask.IDString}, {"tenant:Beta Industries"}} {
			code, out, errOut := tasksRun(args...)
			if code != 1 || out != "" || !strings.Contains(errOut, "401") || strings.Contains(errOut, "wrong-secret-Zq99") {
				t.Errorf("tasks %q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
			}
		}
	})
}

func TestCommandText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"states", []string{"paused", "failed"}, "paused failed"},
		{"a bare tenant", []string{"tenant:Acme"}, "tenant:Acme"},
		{"a tenant with a space", []string{"failed", "tenant:Acme Corp"}, `failed tenant:"Acme Corp"`},
		{"a tenant with a comma", []string{"tenant:Acme, Inc"}, `tenant:"Acme, Inc"`},
		{"a key in capitals", []string{"Tenant:Acme Corp"}, `Tenant:"Acme Corp"`},
		{"already quoted", []string{`tenant:"Acme Corp"`}, `tenant:"Acme Corp"`},
		{"already curly", []string{"tenant:\u201cAcme Corp\u201d"}, "tenant:\u201cAcme Corp\u201d"},
		{"a plan", []string{"mute", "plan:Weekly full", "1h"}, `mute plan:"Weekly full" 1h`},
		{"another key is left alone", []string{"task:1 2"}, "task:1 2"},
		{"words with spaces", []string{"paused failed"}, "paused failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := commandText(tc.args); got != tc.want {
				t.Errorf("commandText(%q) = %q, want %q", tc.args, got, tc.want)
			}
		})
	}
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

// demoMessage is a message the demo printed as posted in a channel: an announcement, or a
// confirmation everyone in the channel sees.
type demoMessage struct {
	channel string
	text    string // its indented lines
}

// demoHeader is the first line of a message the demo prints in a channel (bot.TerminalNotifier
// and the demo's confirmations): "[15:04:05] #beta", maybe "(in thread …)" after it.
var demoHeader = regexp.MustCompile(`^\[\d\d:\d\d:\d\d\] (#[a-z0-9_-]+)(?: \(in thread [^)]*\))?$`)

// demoMessages reads the messages posted in channels from the demo's output.
func demoMessages(out string) []demoMessage {
	var ms []demoMessage
	var cur *demoMessage
	for line := range strings.SplitSeq(out, "\n") {
		if m := demoHeader.FindStringSubmatch(line); m != nil {
			ms = append(ms, demoMessage{channel: m[1]})
			cur = &ms[len(ms)-1]
			continue
		}
		if cur != nil && strings.HasPrefix(line, "  ") {
			cur.text += line + "\n"
			continue
		}
		cur = nil
	}
	return ms
}

// demoAnswer is the demo's answer to the command echoed as echo ("> #demo /tasks …"): the lines
// after the echo up to the blank line that ends it; "" while there is none.
func demoAnswer(out, echo string) string {
	_, after, ok := strings.Cut(out, echo+"\n")
	if !ok {
		return ""
	}
	answer, _, ok := strings.Cut(after, "\n\n")
	if !ok {
		return ""
	}
	return answer
}

// TestDemo runs `taskbot demo` as a user would: listings, a usage error, a second channel
// subscribed to the second tenant, a mute, /tasks mutes, a tenant listing and /tasks show of a
// task taken from an announcement. It waits for output, never for time.
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
	const wait = 30 * time.Second
	waitUntil(t, wait, "the demo's banner", func() bool { return strings.Contains(out.String(), "Ctrl-C quits") })
	if b := out.String(); !strings.Contains(b, "the tasks of Customer A Ltd and Beta Industries") || !strings.Contains(b, "You are U0DEMO") {
		t.Errorf("the banner does not name the tenants and the user:\n%s", b)
	}
	typeLine := func(line string) {
		t.Helper()
		if _, err := io.WriteString(w, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}

	typeLine("/tasks\n/tasks pausd\nhello\n#Bad! /tasks")
	waitUntil(t, wait, "an announcement in #demo and the answers to four lines", func() bool {
		o := out.String()
		return slices.ContainsFunc(demoMessages(o), func(m demoMessage) bool { return m.channel == "#demo" && strings.Contains(m.text, "Tenant: ") }) &&
			strings.Contains(demoAnswer(o, "> #demo /tasks"), "Tasks in progress") &&
			strings.Contains(demoAnswer(o, "> #demo /tasks pausd"), `I don't understand "pausd"`) &&
			strings.Contains(o, "(type /tasks and its words") && strings.Contains(o, "(a channel is # and a name")
	})

	// A second channel subscribes to the second tenant: the change is confirmed in #beta, for
	// everyone, naming the user; then #beta gets that tenant's announcements.
	typeLine(`#beta /tasks subscribe tenant:"Beta Industries"`)
	waitUntil(t, wait, "an announcement about Beta Industries in #beta", func() bool {
		return slices.ContainsFunc(demoMessages(out.String()), func(m demoMessage) bool {
			return m.channel == "#beta" && strings.Contains(m.text, "Tenant: Beta Industries")
		})
	})
	if !slices.Contains(demoMessages(out.String()), demoMessage{"#beta", "    @U0DEMO subscribed this channel to started, paused, failed, stuck of Beta Industries.\n"}) {
		t.Errorf("no confirmation of the subscription in #beta:\n%s", out.String())
	}

	// A mute of the first tenant (in curly quotes, as Slack on a Mac sends them) is confirmed
	// in #demo, listed by /tasks mutes, and drops that tenant's announcements.
	typeLine("/tasks mute tenant:\u201cCustomer A Ltd\u201d 1h maintenance window")
	waitUntil(t, wait, "the mute's confirmation", func() bool {
		return slices.ContainsFunc(demoMessages(out.String()), func(m demoMessage) bool {
			return m.channel == "#demo" && strings.HasPrefix(m.text, `    @U0DEMO muted tenant:"Customer A Ltd" until `) &&
				strings.Contains(m.text, "(mute 1; `/tasks unmute 1` ends it). Reason: maintenance window")
		})
	})
	typeLine("/tasks mutes")
	waitUntil(t, wait, "/tasks mutes listing the mute, and a muted announcement", func() bool {
		o := out.String()
		return strings.Contains(demoAnswer(o, "> #demo /tasks mutes"), `*#1* tenant:"Customer A Ltd" — `) &&
			strings.Contains(o, "#demo — muted, not posted: ")
	})
	if a := demoAnswer(out.String(), "> #demo /tasks mutes"); !strings.Contains(a, "by U0DEMO: maintenance window") {
		t.Errorf("/tasks mutes:\n%s", a)
	}

	// A listing of one tenant, typed in #beta with curly quotes, shows only that tenant's tasks.
	typeLine("#beta /tasks started paused failed tenant:\u201cBeta Industries\u201d")
	waitUntil(t, wait, "the tenant listing", func() bool {
		return demoAnswer(out.String(), "> #beta /tasks started paused failed tenant:\u201cBeta Industries\u201d") != ""
	})
	listing := demoAnswer(out.String(), "> #beta /tasks started paused failed tenant:\u201cBeta Industries\u201d")
	if !strings.Contains(listing, "Tasks started, paused or failed for Beta Industries — ") || strings.Contains(listing, "Customer A Ltd") {
		t.Errorf("tenant listing:\n%s", listing)
	}

	// #beta scoped to Beta Industries: a listing of every state shows no other tenant, and a
	// tenant: word naming another is refused.
	typeLine(`#beta /tasks scope tenant:"Beta Industries"`)
	typeLine("#beta /tasks enqueued assigned started paused completed")
	typeLine(`#beta /tasks completed tenant:"Customer A Ltd"`)
	waitUntil(t, wait, "the scoped channel's answers", func() bool {
		o := out.String()
		return demoAnswer(o, "> #beta /tasks enqueued assigned started paused completed") != "" &&
			demoAnswer(o, `> #beta /tasks completed tenant:"Customer A Ltd"`) != ""
	})
	if !slices.ContainsFunc(demoMessages(out.String()), func(m demoMessage) bool {
		return m.channel == "#beta" && strings.Contains(m.text, "@U0DEMO scoped this channel to Beta Industries")
	}) {
		t.Errorf("no confirmation of the scope in #beta:\n%s", out.String())
	}
	if a := demoAnswer(out.String(), "> #beta /tasks enqueued assigned started paused completed"); !strings.Contains(a, "for Beta Industries") || strings.Contains(a, "Customer A Ltd") {
		t.Errorf("a listing in the scoped #beta:\n%s", a)
	}
	if a := demoAnswer(out.String(), `> #beta /tasks completed tenant:"Customer A Ltd"`); !strings.Contains(a, "This channel is scoped to Beta Industries") {
		t.Errorf("another tenant in the scoped #beta:\n%s", a)
	}

	// /tasks show of a task named in an announcement.
	m := regexp.MustCompile(`— Task (\d+) · updated`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no task id in the announcements:\n%s", out.String())
	}
	typeLine("/tasks show " + m[1])
	waitUntil(t, wait, "the answer to /tasks show", func() bool { return demoAnswer(out.String(), "> #demo /tasks show "+m[1]) != "" })
	if a := demoAnswer(out.String(), "> #demo /tasks show "+m[1]); !strings.Contains(a, "Task id "+m[1]+" · uuid ") || !strings.Contains(a, "Tenant: ") {
		t.Errorf("/tasks show %s:\n%s", m[1], a)
	}

	// The seeded paused task waits for a tape nobody inserts: stuck within the first minute.
	waitUntil(t, time.Minute, "a stuck announcement in #demo", func() bool {
		return slices.ContainsFunc(demoMessages(out.String()), func(m demoMessage) bool {
			return m.channel == "#demo" && strings.Contains(m.text, "*Stuck*") && strings.Contains(m.text, "paused for ") &&
				strings.Contains(m.text, "Insert the next tape")
		})
	})

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, msg := range demoMessages(got) {
		if msg.channel == "#beta" && strings.Contains(msg.text, "Customer A Ltd") {
			t.Errorf("#beta, subscribed to Beta Industries only, got a message about Customer A Ltd:\n%s", msg.text)
		}
	}
	if !strings.HasSuffix(got, "demo finished\n") {
		t.Errorf("demo output does not end with \"demo finished\":\n%s", got)
	}
	if strings.Contains(got, `"blocks"`) || strings.Contains(got, `{"type"`) || strings.Contains(got, "v1|") {
		t.Errorf("demo prints raw JSON or button values:\n%s", got)
	}
}

func TestDemoLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, line            string
		wantChannel, wantText string
		wantProblem           string // a part of it
	}{
		{"a command without a channel is typed in #demo", "/tasks paused", "#demo", " paused", ""},
		{"tasks without the slash", "  TASKS failed", "#demo", " failed", ""},
		{"a channel first", `#beta /tasks subscribe tenant:"Beta Industries"`, "#beta", ` subscribe tenant:"Beta Industries"`, ""},
		{"a channel in capitals, and tabs", "\t#Customer-A_1\t/tasks subscriptions", "#customer-a_1", " subscriptions", ""},
		{"the bare command", "#beta /tasks", "#beta", "", ""},
		{"a blank line", "   ", "", "", ""},
		{"a channel alone", "#beta", "", "", "type /tasks"},
		{"a bare #", "# /tasks", "", "", "a channel is #"},
		{"a channel name with a bang", "#bad! /tasks", "", "", "a channel is #"},
		{"a channel name too long", "#" + strings.Repeat("a", 81) + " /tasks", "", "", "a channel is #"},
		{"no command after the channel", "#beta hello", "", "", "type /tasks"},
		{"something else", "hello", "", "", "type /tasks"},
		{"a command glued to more", "/tasksx", "", "", "type /tasks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, text, problem := demoLine(tc.line)
			if ch != tc.wantChannel || text != tc.wantText || (tc.wantProblem == "") != (problem == "") || !strings.Contains(problem, tc.wantProblem) {
				t.Errorf("demoLine(%q) = %q, %q, %q; want %q, %q, a problem with %q", tc.line, ch, text, problem, tc.wantChannel, tc.wantText, tc.wantProblem)
			}
		})
	}
}

// TestManifests: both Slack app manifests offer the same /tasks (every verb of the README's
// command table in the usage hint), interactivity for the buttons, and the same five bot
// scopes — the Slack methods taskbot calls need no more (chat.postMessage and chat.update:
// chat:write; conversations.info in `taskbot check` and /tasks subscribe: channels:read and
// groups:read; users.info, to tell a user of another organization (Slack Connect): users:read;
// answers go through response_url, which needs none).
func TestManifests(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"deploy/slack-app-manifest.yaml", "deploy/slack-app-manifest.socket-mode.yaml"} {
		t.Run(path, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			hint := regexp.MustCompile(`(?m)^\s+usage_hint: "(.*)"$`).FindStringSubmatch(text)
			if hint == nil {
				t.Fatalf("no usage_hint:\n%s", text)
			}
			for _, verb := range []string{"[STATE…]", "[failed]", "tenant:NAME", "show ID", "subscribe [EVENT…]", "| unsubscribe",
				"| subscriptions", "mute TARGET DURATION", "| mutes", "unmute N", "scope [tenant:NAME", "help"} {
				if !strings.Contains(hint[1], verb) {
					t.Errorf("usage_hint %q lacks %q", hint[1], verb)
				}
			}
			if len(hint[1]) > 1000 { // https://github.com/slackapi/manifest-schema: usage_hint maxLength
				t.Errorf("usage_hint is %d characters, Slack takes at most 1000", len(hint[1]))
			}
			var scopes []string
			for _, m := range regexp.MustCompile(`(?m)^      - ([a-z:]+)`).FindAllStringSubmatch(text, -1) {
				scopes = append(scopes, m[1])
			}
			if want := []string{"commands", "chat:write", "channels:read", "groups:read", "users:read"}; !slices.Equal(scopes, want) {
				t.Errorf("bot scopes %q, want %q", scopes, want)
			}
			if !regexp.MustCompile(`(?m)^  interactivity:\n    is_enabled: true`).MatchString(text) {
				t.Errorf("interactivity is not enabled:\n%s", text)
			}
		})
	}
}
