package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// Recognisable secret values for the runs below. The Acronis client secret is the fake's own
// (taskstest chooses it; it is 48 random hex digits, recognisable enough) or leakWrongSecret.
const (
	leakBotToken      = "xoxb-7001-7002-leakBotTokenQ7v8"
	leakSigningSecret = "leak-signing-secret-Q7v8w9x0"
	leakAppToken      = "xapp-1-A0000APP-7003-leakAppTokenQ7v8"
	leakWrongSecret   = "leak-wrong-acronis-secret-Q7v8"
	leakUserToken     = "xoxp-7004-7005-leakUserTokenQ7v8"
)

// leakWatch knows the secrets of one run and checks everything the run showed for them.
type leakWatch struct {
	mu      sync.Mutex
	secrets map[string]string // name → value
	shown   []shownText
}

// shownText is one thing a user or operator could see: an output stream, an HTTP answer, a
// Slack message.
type shownText struct{ where, text string }

func newLeakWatch() *leakWatch { return &leakWatch{secrets: map[string]string{}} }

func (l *leakWatch) secret(name, value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secrets[name] = value
}

func (l *leakWatch) show(where, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.shown = append(l.shown, shownText{where, text})
}

// all is every text shown so far, for assertions about what the run said.
func (l *leakWatch) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, s := range l.shown {
		b.WriteString(s.text)
		b.WriteString("\n")
	}
	return b.String()
}

// leaks lists every secret found in a shown text: the whole value, a 12-character piece of its
// middle (a cut or wrapped value), or its JSON-, URL- or base64-encoded form; one line each,
// naming where it was shown.
func (l *leakWatch) leaks() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for name, value := range l.secrets {
		for _, needle := range secretForms(value) {
			for _, s := range l.shown {
				if i := strings.Index(s.text, needle); i >= 0 {
					lo, hi := max(0, i-80), min(len(s.text), i+len(needle)+80)
					out = append(out, fmt.Sprintf("%s shows %s (as %q): …%s…", s.where, name, needle, s.text[lo:hi]))
				}
			}
		}
	}
	return out
}

// check fails t for every leak, and when nothing was captured at all.
func (l *leakWatch) check(t *testing.T) {
	t.Helper()
	if l.all() == "" {
		t.Fatal("nothing was captured")
	}
	for _, leak := range l.leaks() {
		t.Error(leak)
	}
}

// secretForms are the forms in which a secret value could leak.
func secretForms(v string) []string {
	forms := []string{v, url.QueryEscape(v), base64.StdEncoding.EncodeToString([]byte(v))}
	if b, err := json.Marshal(v); err == nil {
		forms = append(forms, strings.Trim(string(b), `"`))
	}
	if len(v) >= 24 {
		mid := len(v) / 3
		forms = append(forms, v[mid:mid+12])
	}
	return forms
}

// tokenSpy is a reverse proxy in front of the fake Task Manager that notes every access token
// the token endpoint issues, so that the runs can be checked for them too.
type tokenSpy struct {
	*httptest.Server
	mu     sync.Mutex
	tokens []string
}

func newTokenSpy(t *testing.T, target string) *tokenSpy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	s := &tokenSpy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != taskstest.TokenPath {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var tok struct {
			AccessToken string `json:"access_token"`
			IDToken     string `json:"id_token"`
		}
		if json.Unmarshal(b, &tok) == nil && tok.AccessToken != "" {
			s.mu.Lock()
			s.tokens = append(s.tokens, tok.AccessToken, tok.IDToken)
			s.mu.Unlock()
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return nil
	}
	s.Server = httptest.NewServer(rp)
	t.Cleanup(s.Close)
	return s
}

// Tokens returns the access and ID tokens issued so far.
func (s *tokenSpy) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens...)
}

// refusingSlack is a Slack Web API whose every method fails: with HTTP status when it is not
// 200, else with {"ok":false,"error":slackErr}. It returns the API base URL.
func refusingSlack(t *testing.T, status int, slackErr string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if status != http.StatusOK {
			http.Error(w, http.StatusText(status), status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":false,"error":%q}`, slackErr)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// newLeakEnv is newTestEnv with recognisable Slack secrets, ACRONIS_URL pointing at a token
// spy in front of the fake Task Manager, and a watch that knows every secret.
// verify adds the access and ID tokens the fake issued to the secrets (failing when wantToken
// and none was issued), checks that the run said every want (so the failure really happened),
// and that no secret appears anywhere.
func (w *leakWatch) verify(t *testing.T, spy *tokenSpy, wantToken bool, want []string) {
	t.Helper()
	tokens := spy.Tokens()
	if wantToken && len(tokens) == 0 {
		t.Fatal("the fake issued no access token, so none could be looked for")
	}
	for i, tok := range tokens {
		w.secret(fmt.Sprintf("access or ID token %d", i), tok)
	}
	all := w.all()
	for _, wt := range want {
		if !strings.Contains(all, wt) {
			t.Errorf("the run never said %q, so the failure was not exercised:\n%s", wt, all)
		}
	}
	w.check(t)
}

func newLeakEnv(t *testing.T) (*testEnv, *tokenSpy, *leakWatch) {
	t.Helper()
	e := newTestEnv(t)
	spy := newTokenSpy(t, e.api.URL)
	e.set("ACRONIS_URL", spy.URL)
	e.set("SLACK_BOT_TOKEN", leakBotToken)
	e.set("SLACK_SIGNING_SECRET", leakSigningSecret)
	w := newLeakWatch()
	w.secret("ACRONIS_CLIENT_SECRET", e.api.ClientSecret)
	w.secret("the Basic credentials of the token request", url.QueryEscape(e.api.ClientID)+":"+url.QueryEscape(e.api.ClientSecret))
	w.secret("SLACK_BOT_TOKEN", leakBotToken)
	w.secret("SLACK_SIGNING_SECRET", leakSigningSecret)
	w.secret("SLACK_APP_TOKEN", leakAppToken)
	w.secret("the wrong ACRONIS_CLIENT_SECRET", leakWrongSecret)
	w.secret("a user token in SLACK_BOT_TOKEN", leakUserToken)
	return e, spy, w
}

// runOnce runs one taskbot command to its end and shows its streams and what main would print
// for its error. It returns the exit status main would give.
func runOnce(t *testing.T, e *testEnv, w *leakWatch, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, e.getenv, strings.NewReader(""), &stdout, &stderr)
	code := exitCode(err, &stderr)
	name := strings.Join(append([]string{"taskbot"}, args...), " ")
	w.show(name+": stdout", stdout.String())
	w.show(name+": stderr", stderr.String())
	if err != nil {
		w.show(name+": error", fmt.Sprintf("%v %+v %#v", err, err, err))
	}
	return code
}

// serveOnce runs `taskbot serve` with e's environment. It waits until /healthz answers (or run
// ends), calls during, then shows /metrics, /readyz, the answers to signed, unsigned and stale
// slash commands and a Refresh click, stops the bot and shows its log, its error, the
// response_url posts and the messages Slack received.
func serveOnce(t *testing.T, e *testEnv, w *leakWatch, during func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, e.getenv, strings.NewReader(""), logs, logs) }()
	var runErr error
	ended := false
	deadline := time.Now().Add(15 * time.Second)
	for !ended {
		if resp, err := http.Get("http://" + e.addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case runErr = <-done:
			ended = true
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up within 15s:\n%s", logs)
		}
	}
	if !ended {
		during()
		for _, path := range []string{"/metrics", "/readyz", "/healthz"} {
			resp, err := http.Get("http://" + e.addr + path)
			if err != nil {
				select {
				case runErr = <-done: // it stopped on its own meanwhile (a refused app token)
					ended = true
				case <-time.After(5 * time.Second):
					t.Fatal(err)
				}
				break
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			w.show("GET "+path, string(b))
		}
	}
	// In Socket Mode the HTTP slash paths are not served, and a refused app token stops serve
	// at any moment: posting commands there tests nothing and races the exit.
	socket := e.getenv("SLACK_APP_TOKEN") != ""
	if !ended && socket {
		cancel()
		select {
		case runErr = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("serve did not stop within 30s:\n%s", logs)
		}
		ended = true
	}
	if !ended {
		for _, c := range []struct {
			name, text string
			at         time.Time
			secret     string
		}{
			{"signed /tasks paused", "paused", time.Now(), leakSigningSecret},
			{"signed /tasks", "", time.Now(), leakSigningSecret},
			{"signed /tasks with a mention", "<!channel> " + leakBotToken, time.Now(), leakSigningSecret},
			{"badly signed /tasks", "paused", time.Now(), "not-the-signing-secret"},
			{"stale /tasks", "paused", time.Now().Add(-10 * time.Minute), leakSigningSecret},
		} {
			resp, body := e.command(t, c.text, c.at, c.secret)
			w.show(c.name+": answer", fmt.Sprintf("%d %v %s", resp.StatusCode, resp.Header, body))
		}
		refresh := `{"type":"block_actions","response_url":"` + e.resp.URL + `","actions":[{"block_id":"tasks_actions","action_id":"tasks_refresh","value":"paused","type":"button"}]}`
		body := []byte(url.Values{"payload": {refresh}}.Encode())
		req, _ := http.NewRequest(http.MethodPost, "http://"+e.addr+"/slack/interactions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		bottest.Sign(req, leakSigningSecret, body, time.Now())
		if resp, err := http.DefaultClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			w.show("Refresh click: answer", fmt.Sprintf("%d %v %s", resp.StatusCode, resp.Header, b))
		}
		cancel()
		select {
		case runErr = <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("serve did not stop within 30s:\n%s", logs)
		}
	}
	var main bytes.Buffer
	exitCode(runErr, &main)
	w.show("serve: what main prints", main.String())
	w.show("serve: log", logs.String())
	posts := e.resp.Posts()
	if !ended && len(posts) == 0 {
		t.Error("the Refresh click posted nothing to response_url")
	}
	for i, p := range posts {
		w.show(fmt.Sprintf("response_url post %d", i), string(p))
	}
	for i, p := range e.slack.Posts() {
		w.show(fmt.Sprintf("Slack %s %d", p.Method, i), p.Text+"\n"+string(p.Blocks))
	}
}

// readyzSays waits until GET /readyz answers with a body containing want.
func readyzSays(t *testing.T, e *testEnv, want string) {
	t.Helper()
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + e.addr + "/readyz"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			if strings.Contains(last, want) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("/readyz never said %q; last: %s", want, last)
}

// gatewayPage is the HTML error page gateways in front of Acronis send.
func gatewayPage(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/acronis/error-gateway.html")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestServeFailuresShowNoSecrets runs the service while Acronis or Slack fail and checks that
// nothing it shows — log, exit message, /metrics, /readyz, slash command answers,
// response_url posts, Slack messages — contains a secret or the access token.
func TestServeFailuresShowNoSecrets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// setup changes the environment before the start; during runs once the service is up.
		setup  func(t *testing.T, e *testEnv)
		during func(t *testing.T, e *testEnv)
		// want is what the run must have said about the failure, so the test sees it happen.
		want []string
		// token: the fake issued an access token in this run.
		token bool
	}{
		{
			name:   "wrong Acronis secret",
			setup:  func(t *testing.T, e *testEnv) { e.set("ACRONIS_CLIENT_SECRET", leakWrongSecret) },
			during: func(t *testing.T, e *testEnv) { readyzSays(t, e, "last poll failed") },
			want:   []string{"401", "access_denied"},
		},
		{
			name: "Task Manager answers 500",
			setup: func(t *testing.T, e *testEnv) {
				e.api.Fail(taskstest.Fault{Status: 500, ContentType: "application/json",
					Body: `{"domain":"TaskManager","code":"internalError","reason":"database unavailable"}`})
			},
			during: func(t *testing.T, e *testEnv) { readyzSays(t, e, "last poll failed") },
			want:   []string{"500", "database unavailable"},
			token:  true,
		},
		{
			name: "Task Manager answers an HTML error page",
			setup: func(t *testing.T, e *testEnv) {
				e.api.Fail(taskstest.Fault{Status: 502, ContentType: "text/html", Body: gatewayPage(t)})
			},
			during: func(t *testing.T, e *testEnv) { readyzSays(t, e, "last poll failed") },
			want:   []string{"502 Bad Gateway"},
			token:  true,
		},
		{
			name: "Task Manager answers 403",
			setup: func(t *testing.T, e *testEnv) {
				e.api.Fail(taskstest.Fault{Status: 403, ContentType: "application/json",
					Body: `{"domain":"TaskManager","code":"forbidden","reason":"access denied"}`})
			},
			during: func(t *testing.T, e *testEnv) { readyzSays(t, e, "last poll failed") },
			want:   []string{"403"},
			token:  true,
		},
		{
			name: "Slack refuses announcements: invalid_auth, not_in_channel, 500",
			setup: func(t *testing.T, e *testEnv) {
				e.api.Add(tasks.Task{State: tasks.Started, Context: map[string]any{"title": "Backup that will pause"}})
			},
			during: func(t *testing.T, e *testEnv) {
				readyzSays(t, e, "last poll succeeded") // the silent baseline is recorded
				e.slack.Fail(bottest.Fault{Method: "chat.postMessage", Error: "invalid_auth", Times: 1})
				e.slack.Fail(bottest.Fault{Method: "chat.postMessage", Error: "not_in_channel", Times: 1})
				e.slack.Fail(bottest.Fault{Method: "chat.postMessage", Status: 500, Times: 1})
				for _, tk := range e.api.Tasks() {
					if _, err := e.api.SetState(tk.UUID, tasks.Paused, ""); err != nil {
						t.Fatal(err)
					}
				}
				waitFor(t, "three refused posts", func() bool { return e.slack.Calls() >= 3 })
			},
			want:  []string{"invalid_auth", "not_in_channel"},
			token: true,
		},
		{
			name: "Socket Mode: Slack refuses the app-level token",
			setup: func(t *testing.T, e *testEnv) {
				e.set("SLACK_APP_TOKEN", leakAppToken)
				e.set("SLACK_SIGNING_SECRET", "")
				e.set("SLACK_API_URL", refusingSlack(t, http.StatusOK, "invalid_auth"))
			},
			during: func(t *testing.T, e *testEnv) {},
			want:   []string{"invalid_auth"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, spy, w := newLeakEnv(t)
			tc.setup(t, e)
			serveOnce(t, e, w, func() { tc.during(t, e) })
			w.verify(t, spy, tc.token, tc.want)
		})
	}
}

// TestCommandFailuresShowNoSecrets runs `taskbot check` and `taskbot tasks` against failing
// services and checks their output, error and exit message for secrets.
func TestCommandFailuresShowNoSecrets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, e *testEnv)
		args  []string
		code  int
		want  []string
		token bool
	}{
		{
			name:  "check: wrong Acronis secret, Slack refuses the token, with an app-level token",
			setup: checkSetup(leakWrongSecret, http.StatusOK, "invalid_auth", nil),
			args:  []string{"check"}, code: 1, want: []string{"FAIL Acronis sign-in", "401", "invalid_auth"},
		},
		{
			name: "check: Task Manager 403, the bot is not in the channel",
			setup: func(t *testing.T, e *testEnv) {
				e.api.Fail(taskstest.Fault{Status: 403, ContentType: "application/json", Body: `{"domain":"TaskManager","code":"forbidden"}`})
				e.slack.SetChannel("C0123ABCDEF", "ops-alerts", false)
			},
			args: []string{"check"}, code: 1, want: []string{"FAIL Task Manager API", "403", "/invite"}, token: true,
		},
		{
			name: "check: Task Manager HTML page, Slack answers 500",
			setup: checkSetup("", http.StatusInternalServerError, "", func(t *testing.T, e *testEnv) {
				e.api.Fail(taskstest.Fault{Status: 502, ContentType: "text/html", Body: gatewayPage(t)})
			}),
			args: []string{"check"}, code: 1, want: []string{"502 Bad Gateway", "FAIL Slack bot token"}, token: true,
		},
		{
			name:  "tasks: wrong Acronis secret",
			setup: func(t *testing.T, e *testEnv) { e.set("ACRONIS_CLIENT_SECRET", leakWrongSecret) },
			args:  []string{"tasks", "paused"}, code: 1, want: []string{"401"},
		},
		{
			name: "tasks -json: Task Manager 500",
			setup: func(t *testing.T, e *testEnv) {
				e.api.Fail(taskstest.Fault{Status: 500, ContentType: "application/json", Body: `{"error":{"code":1006,"message":"internal failure"}}`})
			},
			args: []string{"tasks", "-json", "failed"}, code: 1, want: []string{"500", "internal failure"}, token: true,
		},
		{
			name: "tasks: Task Manager 403",
			setup: func(t *testing.T, e *testEnv) {
				e.api.Fail(taskstest.Fault{Status: 403, ContentType: "application/json", Body: `{"domain":"TaskManager","code":"forbidden"}`})
			},
			args: []string{"tasks"}, code: 1, want: []string{"403"}, token: true,
		},
		{
			name: "tasks: a login page answered with 200",
			setup: func(t *testing.T, e *testEnv) {
				e.api.Fail(taskstest.Fault{Status: 200, ContentType: "text/html", Body: "<html><title>Sign in</title></html>"})
			},
			args: []string{"tasks", "-json"}, code: 1, want: []string{"text/html"}, token: true,
		},
		{
			name:  "tasks: an unknown word",
			setup: func(t *testing.T, e *testEnv) {},
			args:  []string{"tasks", "<!channel>", leakBotToken}, code: 2, want: []string{"I don't understand"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, spy, w := newLeakEnv(t)
			tc.setup(t, e)
			if code := runOnce(t, e, w, tc.args...); code != tc.code {
				t.Errorf("exit status %d, want %d:\n%s", code, tc.code, w.all())
			}
			w.verify(t, spy, tc.token, tc.want)
		})
	}
}

// checkSetup sets a wrong Acronis secret (when not empty), a Slack that refuses everything
// with status and slackErr, and an app-level token, then runs more.
func checkSetup(wrongSecret string, status int, slackErr string, more func(*testing.T, *testEnv)) func(*testing.T, *testEnv) {
	return func(t *testing.T, e *testEnv) {
		if wrongSecret != "" {
			e.set("ACRONIS_CLIENT_SECRET", wrongSecret)
		}
		e.set("SLACK_API_URL", refusingSlack(t, status, slackErr))
		e.set("SLACK_APP_TOKEN", leakAppToken)
		if more != nil {
			more(t, e)
		}
	}
}

// TestConfigErrorsShowNoSecrets: a bad configuration is reported with exit status 2 by every
// command that reads it, and the report never repeats a secret, wherever the secret was put.
func TestConfigErrorsShowNoSecrets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
		// slackOnly: only Slack's variables are wrong, which `taskbot tasks` does not read.
		slackOnly bool
	}{
		{"other variables are wrong", map[string]string{"SLACK_CHANNEL": "general", "TASKBOT_POLL_INTERVAL": "soon"},
			"SLACK_CHANNEL must be a channel ID", false},
		{"a user token in SLACK_BOT_TOKEN", map[string]string{"SLACK_BOT_TOKEN": leakUserToken},
			"SLACK_BOT_TOKEN must be a bot token", true},
		{"the bot token in SLACK_APP_TOKEN", map[string]string{"SLACK_APP_TOKEN": leakBotToken, "SLACK_BOT_TOKEN": leakBotToken},
			"SLACK_APP_TOKEN must be an app-level token", true},
		{"secrets in quotes", map[string]string{"ACRONIS_CLIENT_SECRET": `"` + leakWrongSecret + `"`, "SLACK_SIGNING_SECRET": "'" + leakSigningSecret + "'"},
			"is wrapped in quotes", false},
		{"credentials in ACRONIS_URL", map[string]string{"ACRONIS_URL": "https://client:" + leakWrongSecret + "@eu2-cloud.acronis.com"},
			"ACRONIS_URL must not contain credentials", false},
		{"the secret in ACRONIS_URL", map[string]string{"ACRONIS_URL": leakWrongSecret},
			"ACRONIS_URL needs a scheme", false},
		{"the signing secret in SLACK_CHANNEL (swapped variables)", map[string]string{"SLACK_CHANNEL": leakSigningSecret},
			"SLACK_CHANNEL holds something that looks like a token", true},
		{"the Acronis secret in TASKBOT_POLL_INTERVAL and TASKBOT_LOG_LEVEL", map[string]string{"TASKBOT_POLL_INTERVAL": "x" + leakWrongSecret,
			"ACRONIS_CLIENT_SECRET": leakWrongSecret, "TASKBOT_LOG_LEVEL": leakWrongSecret}, "TASKBOT_POLL_INTERVAL (a value", false},
		{"an empty required variable beside the secrets", map[string]string{"ACRONIS_CLIENT_ID": " "},
			"ACRONIS_CLIENT_ID is missing", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, spy, w := newLeakEnv(t)
			e.set("SLACK_APP_TOKEN", "")
			for k, v := range tc.env {
				e.set(k, v)
			}
			for _, args := range [][]string{nil, {"check"}, {"tasks", "paused"}} {
				want := 2
				if tc.slackOnly && len(args) > 0 && args[0] == "tasks" {
					want = 0
				}
				if code := runOnce(t, e, w, args...); code != want {
					t.Errorf("taskbot %v: exit status %d, want %d", args, code, want)
				}
			}
			if n := e.api.TokenRequests() + e.api.TaskRequests(); n != 0 && !tc.slackOnly {
				t.Errorf("%d requests reached Acronis with a bad configuration", n)
			}
			w.verify(t, spy, false, []string{tc.want})
		})
	}
}

// TestLeakWatchFindsSecrets: the watch is not blind — it finds a secret in each form it looks
// for, and nothing in text without one.
func TestLeakWatchFindsSecrets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		shown string
		leaks bool
	}{
		{"token=" + leakBotToken, true},
		{"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(leakBotToken)), true},
		{"secret=" + url.QueryEscape(leakBotToken) + "&x", true},
		{"cut: …" + leakBotToken[10:24] + "…", true},
		{"slack: invalid_auth (SLACK_BOT_TOKEN is not valid; copy the Bot User OAuth Token (xoxb-…) again)", false},
	} {
		w := newLeakWatch()
		w.secret("SLACK_BOT_TOKEN", leakBotToken)
		w.show("output", tc.shown)
		if got := len(w.leaks()) > 0; got != tc.leaks {
			t.Errorf("leaks in %q: %v, want %v", tc.shown, got, tc.leaks)
		}
	}
}
