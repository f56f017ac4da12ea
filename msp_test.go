package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks"
)

// End-to-end tests of the MSP features (issue "Built for MSPs") through run, against the fake
// Task Manager and the fake Slack.

const (
	chanOps  = "C0123ABCDEF" // SLACK_CHANNEL of newTestEnv
	chanBeta = "C0BETAALERTS"
	userOps  = "U0OPS00001"
)

// slash sends a signed /tasks text typed by user in channel and returns the HTTP status and
// the answer's JSON body: the acknowledgement, or the answer that replaced a progress note.
func (e *testEnv) slash(t *testing.T, channel, user, text string) (int, string) {
	t.Helper()
	n := len(e.resp.Posts())
	code, body := postSlash(t, e.addr, e.resp.URL, channel, user, text)
	if strings.Contains(body, "the answer follows here") {
		// The API took longer than the answer's budget (a long listing under -race): the answer
		// replaces the progress note through response_url, as the user sees it in Slack.
		var late string
		waitFor(t, "the answer at response_url", func() bool {
			if posts := e.resp.Posts(); len(posts) > n {
				late = slackText(posts[n])
				return true
			}
			return false
		})
		return code, late
	}
	return code, body
}

// postSlash sends a signed /tasks text typed by user in channel to the taskbot listening on
// addr, with responseURL for later answers, and returns the HTTP status and the answer's body.
func postSlash(t *testing.T, addr, responseURL, channel, user, text string) (int, string) {
	t.Helper()
	v := url.Values{"team_id": {"T0000TEAM"}, "channel_id": {channel}, "user_id": {user}, "command": {"/tasks"},
		"text": {text}, "response_url": {responseURL}, "trigger_id": {fmt.Sprintf("%d.trigger", time.Now().UnixNano())}}
	body := []byte(v.Encode())
	req, _ := http.NewRequest("POST", "http://"+addr+"/slack/commands", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	bottest.Sign(req, testSecret, body, time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, slackText(b)
}

// click sends a signed click of the button actionID with value, by user in channel, and returns
// the HTTP status; the answer goes to e.resp.
func (e *testEnv) click(t *testing.T, channel, user, actionID, value string) int {
	t.Helper()
	p, _ := json.Marshal(map[string]any{"type": "block_actions", "response_url": e.resp.URL,
		"channel": map[string]string{"id": channel}, "user": map[string]string{"id": user},
		"actions": []map[string]string{{"block_id": "b", "action_id": actionID, "value": value, "type": "button"}}})
	body := []byte(url.Values{"payload": {string(p)}}.Encode())
	req, _ := http.NewRequest("POST", "http://"+e.addr+"/slack/interactions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	bottest.Sign(req, testSecret, body, time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// slackText is a Slack message payload with Go's JSON escapes of < > & undone, for assertions.
func slackText(b []byte) string {
	return strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(string(b))
}

// responseAfter waits for a response_url post after the first n that contains want, and returns it.
func (e *testEnv) responseAfter(t *testing.T, n int, want string) string {
	t.Helper()
	var got string
	waitFor(t, "a response_url post saying "+want, func() bool {
		for _, p := range e.resp.Posts()[n:] {
			if s := slackText(p); strings.Contains(s, want) {
				got = s
				return true
			}
		}
		return false
	})
	return got
}

// postsIn are the texts of the announcements Slack accepted in channel.
func postsIn(s *bottest.Slack, channel string) []bottest.Post {
	var out []bottest.Post
	for _, m := range s.Messages() {
		if m.Channel == channel {
			out = append(out, m)
		}
	}
	return out
}

// twoTenants adds tasks of two customers: Acme (paused, started) and Beta (started).
func twoTenants(e *testEnv) (acmePaused, acmeRunning, betaRunning tasks.Task) {
	acme := &tasks.Tenant{ID: "1001", Name: "Acme Corp"}
	beta := &tasks.Tenant{ID: "2002", Name: "Beta Industries"}
	acmePaused = e.api.Add(tasks.Task{State: tasks.Paused, Tenant: acme, Context: map[string]any{"title": "Acme nightly"},
		Resource: &tasks.Reference{Name: "ACME-SQL"}, Policy: &tasks.Reference{Name: "Acme daily"}})
	acmeRunning = e.api.Add(tasks.Task{State: tasks.Started, Tenant: acme, Context: map[string]any{"title": "Acme files"}})
	betaRunning = e.api.Add(tasks.Task{State: tasks.Started, Tenant: beta, Context: map[string]any{"title": "Beta mailboxes"},
		Resource: &tasks.Reference{Name: "BETA-EXCH"}, Policy: &tasks.Reference{Name: "Beta hourly"}})
	return
}

func TestTenantFiltersAndShow(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	acmePaused, _, betaRunning := twoTenants(e)
	stop, logs := e.start(t)
	defer stop()
	for _, tc := range []struct {
		name, text string
		want, not  []string
	}{
		{"by name, any case", `tenant:"acme corp"`, []string{"Acme nightly", "Acme files"}, []string{"Beta mailboxes"}},
		{"curly quotes and a state", "paused tenant:“Acme Corp”", []string{"Acme nightly"}, []string{"Acme files", "Beta"}},
		{"by ID", "tenant:2002", []string{"Beta mailboxes"}, []string{"Acme"}},
		{"two tenants", `tenant:1001 tenant:"Beta Industries"`, []string{"Acme nightly", "Beta mailboxes"}, nil},
		{"a tenant with no tasks", `tenant:Gamma`, []string{"No tasks in progress"}, []string{"Acme", "Beta"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.slash(t, chanOps, userOps, tc.text)
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("answer lacks %q: %s", w, body)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("answer shows %q: %s", n, body)
				}
			}
		})
	}
	// show, by the console's id and by uuid: what on-call needs.
	for _, id := range []string{acmePaused.IDString, acmePaused.UUID} {
		_, body := e.slash(t, chanOps, userOps, "show "+id)
		for _, w := range []string{"Acme nightly", "ACME-SQL", "Acme daily", "Acme Corp", "aused"} {
			if !strings.Contains(body, w) {
				t.Errorf("show %s lacks %q: %s", id, w, body)
			}
		}
	}
	_, body := e.slash(t, chanOps, userOps, "show 944455285181779999")
	if !strings.Contains(body, "944455285181779999") || strings.Contains(body, "Acme") {
		t.Errorf("show of an unknown id: %s", body)
	}
	_ = betaRunning
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", logs)
	}
}

// TestTenantListingSearchWindow: a tenant listing searches the 2,000 most recently updated tasks
// of a state; when the tenant has none among them, the answer says older ones were not searched
// and offers no Next page, which would search the same window again.
func TestTenantListingSearchWindow(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	old := time.Now().Add(-time.Hour)
	e.api.Add(tasks.Task{State: tasks.Paused, UpdatedAt: old, Tenant: &tasks.Tenant{ID: "1001", Name: "Acme Corp"}, Context: map[string]any{"title": "Acme nightly"}})
	flood := &tasks.Tenant{ID: "3003", Name: "Flood Co"}
	for i := range 2100 {
		e.api.Add(tasks.Task{State: tasks.Paused, UpdatedAt: old.Add(time.Duration(i+1) * time.Second), Tenant: flood})
	}
	stop, _ := e.start(t)
	defer stop()
	_, body := e.slash(t, chanOps, userOps, `paused tenant:"Acme Corp"`)
	if !strings.Contains(body, "No tasks paused for Acme Corp among the 2,000 most recently updated tasks") || strings.Contains(body, "tasks_next") {
		t.Errorf("a tenant listing beyond its search window: %.600s", body)
	}
	// Within the window, the answer says which window it searched.
	_, body = e.slash(t, chanOps, userOps, `paused tenant:"Flood Co"`)
	if !strings.Contains(body, "among the 2,000 most recently updated tasks") || !strings.Contains(body, "tasks_next") {
		t.Errorf("a tenant listing of the window: %.600s", body)
	}
}

func TestSubscriptionsFanOutAndDrainPerChannel(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	acmePaused, acmeRunning, betaRunning := twoTenants(e)
	e.slack.SetChannel(chanBeta, "beta-alerts", true)
	e.slack.SetChannel("C0NOTMEMBER", "elsewhere", false)
	stop, logs := e.start(t)

	// Where the bot cannot post, a subscription is refused.
	if _, body := e.slash(t, "C0NOTMEMBER", userOps, "subscribe"); !strings.Contains(body, "/invite") {
		t.Errorf("subscribe where the bot is no member: %s", body)
	}
	_, body := e.slash(t, chanBeta, userOps, `subscribe started paused failed tenant:"Beta Industries"`)
	if !strings.Contains(body, `"response_type":"in_channel"`) || !strings.Contains(body, "<@"+userOps+">") || !strings.Contains(body, "Beta Industries") {
		t.Fatalf("subscribe confirmation: %s", body)
	}
	if _, body := e.slash(t, chanBeta, userOps, "subscriptions"); !strings.Contains(body, "Beta Industries") || !strings.Contains(body, "paused") {
		t.Errorf("subscriptions: %s", body)
	}

	// Beta pauses: the ops channel and Beta's channel; Acme resumes: the ops channel only.
	e.api.SetState(betaRunning.UUID, tasks.Paused, "")
	e.api.SetState(acmePaused.UUID, tasks.Started, "")
	waitFor(t, "both channels announced", func() bool {
		return len(postsIn(e.slack, chanBeta)) >= 1 && len(postsIn(e.slack, chanOps)) >= 2
	})
	pollsAfter(t, e.api, 3)
	beta := postsIn(e.slack, chanBeta)
	if len(beta) != 1 || !strings.Contains(beta[0].Text, "Beta mailboxes") || !strings.Contains(string(beta[0].Blocks), "BETA-EXCH") {
		t.Fatalf("Beta's channel got %+v", beta)
	}
	// A second transition is a reply in each channel's own thread.
	e.api.SetState(betaRunning.UUID, tasks.Started, "")
	waitFor(t, "the resume in Beta's thread", func() bool { return len(postsIn(e.slack, chanBeta)) >= 2 })
	if got := postsIn(e.slack, chanBeta); got[1].ThreadTS != got[0].TS {
		t.Errorf("Beta's second announcement is not a reply in its thread: %+v", got)
	}

	// Beta's channel refuses posts: the ops channel keeps draining.
	e.slack.Fail(bottest.Fault{Method: "chat.postMessage", Channel: chanBeta, Error: "not_in_channel"})
	e.api.SetState(betaRunning.UUID, tasks.Paused, "")
	e.api.SetState(acmeRunning.UUID, tasks.Paused, "")
	waitFor(t, "the ops channel drained past Beta's blocked channel", func() bool {
		for _, p := range postsIn(e.slack, chanOps) {
			if strings.Contains(p.Text, "Acme files") {
				return true
			}
		}
		return false
	})
	e.slack.ClearFaults()
	waitFor(t, "Beta's channel drained after the fix", func() bool { return len(postsIn(e.slack, chanBeta)) >= 3 })

	// Unsubscribed, the channel gets nothing more; the subscription survived a restart.
	if err := stop(); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	stop, _ = e.start(t)
	defer stop()
	if _, body := e.slash(t, chanBeta, userOps, "subscriptions"); !strings.Contains(body, "Beta Industries") {
		t.Errorf("subscriptions after a restart: %s", body)
	}
	if _, body := e.slash(t, chanBeta, userOps, `unsubscribe tenant:"beta industries"`); !strings.Contains(body, "unsubscribed") {
		t.Fatalf("unsubscribe: %s", body)
	}
	before := len(postsIn(e.slack, chanBeta))
	e.api.SetState(betaRunning.UUID, tasks.Completed, tasks.ResultError)
	waitFor(t, "the failure in the ops channel", func() bool {
		for _, p := range postsIn(e.slack, chanOps) {
			if strings.Contains(p.Text, "failed") && strings.Contains(p.Text, "Beta mailboxes") {
				return true
			}
		}
		return false
	})
	pollsAfter(t, e.api, 3)
	if n := len(postsIn(e.slack, chanBeta)); n != before {
		t.Errorf("Beta's channel got %d more posts after unsubscribing", n-before)
	}
}

func TestMutesAndAdmins(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.set("TASKBOT_ADMINS", "U0ADMIN001")
	_, acmeRunning, betaRunning := twoTenants(e)
	stop, logs := e.start(t)
	defer stop()

	// Not an admin: refused, naming who may; nothing stored.
	if _, body := e.slash(t, chanOps, "U0STRANGER", "mute tenant:2002 2h"); !strings.Contains(body, "<@U0ADMIN001>") || strings.Contains(body, "in_channel") {
		t.Fatalf("mute by a non-admin: %s", body)
	}
	if _, body := e.slash(t, chanOps, "U0STRANGER", "mutes"); !strings.Contains(body, "No ") && strings.Contains(body, "2002") {
		t.Errorf("a refused mute was stored: %s", body)
	}
	_, body := e.slash(t, chanOps, "U0ADMIN001", `mute tenant:"Beta Industries" 2h maintenance window`)
	if !strings.Contains(body, `"response_type":"in_channel"`) || !strings.Contains(body, "<@U0ADMIN001>") || !strings.Contains(body, "maintenance window") {
		t.Fatalf("mute confirmation: %s", body)
	}
	if _, body := e.slash(t, chanOps, userOps, "mutes"); !strings.Contains(body, "Beta Industries") || !strings.Contains(body, "#1") {
		t.Errorf("mutes: %s", body)
	}

	// Beta pauses (muted) and Acme pauses (announced).
	e.api.SetState(betaRunning.UUID, tasks.Paused, "")
	e.api.SetState(acmeRunning.UUID, tasks.Paused, "")
	waitFor(t, "Acme's pause", func() bool { return len(postsIn(e.slack, chanOps)) >= 1 })
	pollsAfter(t, e.api, 3)
	for _, p := range postsIn(e.slack, chanOps) {
		if strings.Contains(p.Text, "Beta") {
			t.Errorf("a muted announcement was posted: %+v", p)
		}
	}
	if !strings.Contains(logs.String(), "muted an announcement") || !strings.Contains(metricsOf(t, e), `taskbot_announcements_total{result="muted"} 1`) {
		t.Errorf("the muted announcement was not logged and counted:\n%s", metricsOf(t, e))
	}

	// Unmuted: Beta's next transition is announced.
	if _, body := e.slash(t, chanOps, "U0ADMIN001", "unmute 1"); !strings.Contains(body, "ended mute 1") {
		t.Fatalf("unmute: %s", body)
	}
	e.api.SetState(betaRunning.UUID, tasks.Started, "")
	waitFor(t, "Beta's resume", func() bool {
		for _, p := range postsIn(e.slack, chanOps) {
			if strings.Contains(p.Text, "Beta") {
				return true
			}
		}
		return false
	})
}

func metricsOf(t *testing.T, e *testEnv) string {
	t.Helper()
	resp, err := http.Get("http://" + e.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestButtons(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	for i := range 50 {
		e.api.Add(tasks.Task{State: tasks.Paused, Context: map[string]any{"title": fmt.Sprintf("paused %02d", i)}})
	}
	running := e.api.Add(tasks.Task{State: tasks.Started, Context: map[string]any{"title": "to be paused"}})
	stop, _ := e.start(t)
	defer stop()

	_, body := e.slash(t, chanOps, userOps, "paused")
	next := buttonValue(t, []byte(body), "tasks_next")
	share := buttonValue(t, []byte(body), "tasks_share")

	// Next page: tasks 46 to 50, replacing the answer.
	n := len(e.resp.Posts())
	if s := e.click(t, chanOps, userOps, "tasks_next", next); s != 200 {
		t.Fatalf("next page: %d", s)
	}
	page2 := e.responseAfter(t, n, "46–50")
	if !strings.Contains(page2, `"replace_original":true`) {
		t.Errorf("the next page does not replace the answer: %s", page2)
	}
	// Share: the answer in the channel, for everyone.
	n = len(e.resp.Posts())
	e.click(t, chanOps, userOps, "tasks_share", share)
	if shared := e.responseAfter(t, n, "shared this"); !strings.Contains(shared, `"response_type":"in_channel"`) {
		t.Errorf("share: %s", shared)
	}
	// A value from another channel, an edited one, a made-up one: refused, no API call.
	requests := len(e.api.Requests())
	for _, bad := range []struct{ channel, value string }{
		{"C0OTHERCHAN", next},
		{chanOps, strings.Replace(next, "|1|", "|2|", 1)},
		{chanOps, "v1|" + chanOps + "|l|3|paused|AAAAAAAAAAAAAAAAAAAAAA"},
		{chanOps, strings.Repeat("x", 3000)},
	} {
		n = len(e.resp.Posts())
		if s := e.click(t, bad.channel, userOps, "tasks_next", bad.value); s != 200 {
			t.Errorf("a forged button: HTTP %d, want 200 and a refusal", s)
		}
		e.responseAfter(t, n, "not made for this channel")
	}
	pollsAfter(t, e.api, 2) // let polls run: they may call the API, the clicks must not
	for _, r := range e.api.Requests()[requests:] {
		if strings.Contains(r.RawQuery, "state=paused") && !strings.Contains(r.RawQuery, "updatedAt") {
			t.Errorf("a forged button made an API call: %s", r.RawQuery)
		}
	}

	// An announcement's Details and Mute task 24h.
	e.api.SetState(running.UUID, tasks.Paused, "")
	waitFor(t, "the announcement", func() bool { return len(postsIn(e.slack, chanOps)) >= 1 })
	ann := postsIn(e.slack, chanOps)[0].Blocks
	n = len(e.resp.Posts())
	e.click(t, chanOps, userOps, "task_details", buttonValue(t, ann, "task_details"))
	if d := e.responseAfter(t, n, "to be paused"); strings.Contains(d, "in_channel") {
		t.Errorf("details went to the channel: %s", d)
	}
	// Mute task 24h names the task by the id announcements show, with its title; a second
	// click (a double click) makes no second mute.
	n = len(e.resp.Posts())
	e.click(t, chanOps, userOps, "task_mute", buttonValue(t, ann, "task_mute"))
	if m := e.responseAfter(t, n, "muted task:"+running.IDString+" (to be paused)"); !strings.Contains(m, `"response_type":"in_channel"`) {
		t.Errorf("mute confirmation: %s", m)
	}
	n = len(e.resp.Posts())
	e.click(t, chanOps, userOps, "task_mute", buttonValue(t, ann, "task_mute"))
	if m := e.responseAfter(t, n, "is already muted until"); strings.Contains(m, "in_channel") || !strings.Contains(m, "mute 1") {
		t.Errorf("a second click: %s", m)
	}
	if _, body := e.slash(t, chanOps, userOps, "mutes"); !strings.Contains(body, "task:"+running.IDString) || strings.Contains(body, "#2") {
		t.Errorf("the button's mute is not listed once: %s", body)
	}
	// A typed mute of a task that does not exist mutes nothing.
	if _, body := e.slash(t, chanOps, userOps, "mute task:999999999999 1h"); !strings.Contains(body, "nothing was muted") || strings.Contains(body, "in_channel") {
		t.Errorf("mute of a task that does not exist: %s", body)
	}
	// A longer mute of the same task replaces the first.
	if _, body := e.slash(t, chanOps, userOps, "mute task:"+running.UUID+" 3d"); !strings.Contains(body, "replacing mute 1") {
		t.Errorf("a longer mute of the same task: %s", body)
	}
}

func TestThreadsOff(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.set("TASKBOT_THREADS", "off")
	tk := e.api.Add(tasks.Task{State: tasks.Started, Context: map[string]any{"title": "threadless"}})
	stop, _ := e.start(t)
	defer stop()
	e.api.SetState(tk.UUID, tasks.Paused, "")
	waitFor(t, "the pause", func() bool { return len(postsIn(e.slack, chanOps)) >= 1 })
	e.api.SetState(tk.UUID, tasks.Started, "")
	waitFor(t, "the resume", func() bool { return len(postsIn(e.slack, chanOps)) >= 2 })
	pollsAfter(t, e.api, 3)
	for _, p := range e.slack.Posts() {
		if p.ThreadTS != "" || p.Method == "chat.update" {
			t.Errorf("TASKBOT_THREADS=off, yet %s in thread %q", p.Method, p.ThreadTS)
		}
	}
}

// TestMSPBadInput: every new word and button value is parsed strictly: a clear reply or a 4xx,
// never a 5xx, a panic, a stored change, or an API call with the user's text in it.
func TestMSPBadInput(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	stop, logs := e.start(t)
	defer stop()
	before := len(e.api.Requests())
	for _, tc := range []struct{ text, want string }{
		{"mute tenant:Acme 10y", "30"},
		{"mute tenant:Acme 100000d", "30"},
		{"mute tenant: 2h", "tenant:"},
		{`paused tenant:"Acme`, "quote"},
		{"tenant:", "tenant:"},
		{"show " + strings.Repeat("9", 10000), "id"},
		{"show ../../tasks?state=paused", "id"},
		{"unmute -1", "unmute"},
		{"unmute 99999999999999999999", "unmute"},
		{"subscribe nonsense", "nonsense"},
		{"mute plan:\"Daily\" soon", "soon"},
	} {
		status, body := e.slash(t, chanOps, userOps, tc.text)
		if status != 200 || !strings.Contains(strings.ToLower(body), strings.ToLower(tc.want)) || strings.Contains(body, "in_channel") {
			t.Errorf("/tasks %.60s: %d %.300s; want a reply to the user mentioning %q", tc.text, status, body, tc.want)
		}
	}
	for _, r := range e.api.Requests()[before:] {
		if strings.Contains(r.Path, "..") || strings.Contains(r.RawQuery, "Acme") || strings.Contains(r.Path, "99999999") {
			t.Errorf("user text reached the API: %s?%s", r.Path, r.RawQuery)
		}
	}
	if _, body := e.slash(t, chanOps, userOps, "mutes"); strings.Contains(body, "#1") {
		t.Errorf("a refused mute was stored: %s", body)
	}
	// A user_id that is no user ID never becomes a mention (it would ping the channel): no
	// organization can be checked for it, so nothing is done.
	if _, body := e.slash(t, chanOps, "<!channel>", "mute tenant:q 1h"); strings.Contains(body, "<@<") || strings.Contains(body, "<!channel>") || strings.Contains(body, "in_channel") {
		t.Errorf("a mute by user_id <!channel>: %s", body)
	}
	// In a direct message there is nothing to subscribe: said as such, not "invite it first".
	if _, body := e.slash(t, "D0DIRECT01", userOps, "subscribe"); !strings.Contains(body, "Subscriptions are for channels") {
		t.Errorf("subscribe in a DM: %s", body)
	}
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("panic in the log:\n%s", logs)
	}
}
