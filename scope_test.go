package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks"
)

// End-to-end tests of scopes and people of another Slack organization (issue "Customer channels
// see only their own tenant") through run, against the fake Task Manager and the fake Slack.

const (
	chanShared   = "C0ACMESHARED" // shared with Acme (Slack Connect), scoped to Acme Corp
	userCustomer = "U0CUSTOMER1"  // of Acme's own Slack organization
	teamCustomer = "T0ACMEORG1"
)

// clickFrom sends a signed click like click, by a user whose payload names their team
// (user.team_id, as Slack sends it; "" for none).
func (e *testEnv) clickFrom(t *testing.T, channel, user, team, actionID, value string) int {
	t.Helper()
	u := map[string]string{"id": user}
	if team != "" {
		u["team_id"] = team
	}
	p, _ := json.Marshal(map[string]any{"type": "block_actions", "response_url": e.resp.URL,
		"channel": map[string]string{"id": channel}, "user": u,
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

// commandCalls are the Task Manager requests since the first from that a command made: a GET of
// one task, or a listing without the updatedAt filter of the poller's polls.
func commandCalls(e *testEnv, from int) []string {
	var out []string
	for _, r := range e.api.Requests()[from:] {
		if !strings.HasPrefix(r.Path, "/api/task_manager/v2/tasks") {
			continue
		}
		if strings.Count(strings.TrimSuffix(r.Path, "/"), "/") > 4 || !strings.Contains(r.RawQuery, "updatedAt") {
			out = append(out, r.Path+"?"+r.RawQuery)
		}
	}
	return out
}

// betaWords are what must never show in Acme's channel: Beta's tenant name and id, its task's
// title, machine and plan. (A task id the user typed or clicked may be echoed.)
func betaWords(beta tasks.Task) []string {
	return []string{"Beta", "BETA-EXCH", "2002"}
}

// TestScopedChannel is the table of attempts of the issue: each is asserted to reveal nothing of
// another tenant and to make no API call it should not.
func TestScopedChannel(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.set("TASKBOT_ADMINS", userOps)
	acmePaused, _, betaRunning := twoTenants(e)
	e.slack.SetChannel(chanShared, "acme-shared", true)
	e.slack.SetUser(userCustomer, teamCustomer)
	stop, logs := e.start(t)
	defer stop()

	// Before the scope: the channel subscribes to every tenant, a Beta announcement reaches it
	// (with Details and Mute buttons signed for it), and a listing of every tenant gives a
	// Refresh value signed for it. Both outlive the scope.
	if _, body := e.slash(t, chanShared, userOps, "subscribe"); !strings.Contains(body, "subscribed this channel") {
		t.Fatalf("subscribe before the scope: %s", body)
	}
	e.api.SetState(betaRunning.UUID, tasks.Paused, "")
	waitFor(t, "Beta's announcement in the shared channel", func() bool { return len(postsIn(e.slack, chanShared)) >= 1 })
	betaAnn := postsIn(e.slack, chanShared)[0].Blocks
	_, body := e.slash(t, chanShared, userOps, "paused")
	if !strings.Contains(body, "Beta mailboxes") {
		t.Fatalf("an unscoped listing: %s", body)
	}
	oldRefresh := buttonValue(t, []byte(body), "tasks_refresh")
	_, opsBody := e.slash(t, chanOps, userOps, "paused")
	opsRefresh := buttonValue(t, []byte(opsBody), "tasks_refresh")
	// A Beta mute made in the ops channel, which the shared channel must neither list nor end.
	if _, body := e.slash(t, chanOps, userOps, `mute tenant:"Beta Industries" 1h`); !strings.Contains(body, "(mute 1;") {
		t.Fatalf("Beta's mute: %s", body)
	}

	// The scope, by an admin: confirmed in the channel, naming who.
	_, body = e.slash(t, chanShared, userOps, `scope tenant:"Acme Corp"`)
	if !strings.Contains(body, `"response_type":"in_channel"`) || !strings.Contains(body, "<@"+userOps+"> scoped this channel to Acme Corp") {
		t.Fatalf("scope confirmation: %s", body)
	}

	notAvailable := func(id string) string { return "No task *" + id + "* is available in this channel." }
	notMuted := func(id string) string {
		return "No task *" + id + "* is available in this channel, so nothing was muted."
	}
	type attempt struct {
		name          string
		channel, user string
		text          string // a slash command, or:
		click         string // an action ID, with value (by user, of team)
		value, team   string
		want          string
		apiCalls      bool // whether the answer may ask the Task Manager
		inChannel     bool
	}
	attempts := []attempt{
		{name: "the customer lists paused tasks", channel: chanShared, user: userCustomer, text: "paused", want: "Acme nightly", apiCalls: true},
		{name: "the customer lists everything in progress", channel: chanShared, user: userCustomer, text: "started paused", want: "Acme files", apiCalls: true},
		{name: "the customer names another tenant", channel: chanShared, user: userCustomer, text: `paused tenant:"Beta Industries"`, want: "This channel is scoped to Acme Corp"},
		{name: "the customer names another tenant by id", channel: chanShared, user: userCustomer, text: `started tenant:2002`, want: "This channel is scoped to Acme Corp"},
		{name: "the customer names their tenant and another", channel: chanShared, user: userCustomer, text: `paused tenant:"Acme Corp" tenant:"Beta Industries"`, want: "This channel is scoped to Acme Corp"},
		{name: "the MSP's admin names another tenant there", channel: chanShared, user: userOps, text: `started tenant:"Beta Industries"`, want: "This channel is scoped to Acme Corp"},
		{name: "show by id of another tenant's task", channel: chanShared, user: userCustomer, text: "show " + betaRunning.IDString, want: notAvailable(betaRunning.IDString), apiCalls: true},
		{name: "show by uuid of another tenant's task", channel: chanShared, user: userCustomer, text: "show " + betaRunning.UUID, want: notAvailable(betaRunning.UUID), apiCalls: true},
		{name: "show of a task that does not exist: the same answer", channel: chanShared, user: userCustomer, text: "show 999999999999", want: notAvailable("999999999999"), apiCalls: true},
		{name: "show of their own task", channel: chanShared, user: userCustomer, text: "show " + acmePaused.IDString, want: "Acme nightly", apiCalls: true},
		{name: "the customer's Refresh made before the scope", channel: chanShared, user: userCustomer, team: teamCustomer, click: "tasks_refresh", value: oldRefresh, want: "Acme nightly", apiCalls: true},
		{name: "the customer shares a listing made before the scope", channel: chanShared, user: userCustomer, team: teamCustomer, click: "tasks_share", value: oldRefresh, want: "shared this", apiCalls: true, inChannel: true},
		{name: "another channel's Refresh", channel: chanShared, user: userCustomer, team: teamCustomer, click: "tasks_refresh", value: opsRefresh, want: "not made for this channel"},
		{name: "Details of a Beta announcement made before the scope", channel: chanShared, user: userCustomer, team: teamCustomer, click: "task_details", value: buttonValue(t, betaAnn, "task_details"), want: notAvailable(betaRunning.UUID), apiCalls: true},
		{name: "the customer's Mute button", channel: chanShared, user: userCustomer, team: teamCustomer, click: "task_mute", value: buttonValue(t, betaAnn, "task_mute"), want: "People from other organizations cannot change"},
		{name: "the admin's Mute button of a Beta task", channel: chanShared, user: userOps, click: "task_mute", value: buttonValue(t, betaAnn, "task_mute"), want: notMuted(betaRunning.UUID), apiCalls: true},
		{name: "the customer removes the scope", channel: chanShared, user: userCustomer, text: "scope all", want: "People from other organizations cannot change"},
		{name: "the customer widens the scope", channel: chanShared, user: userCustomer, text: `scope tenant:"Beta Industries"`, want: "People from other organizations cannot change"},
		{name: "the customer subscribes", channel: chanShared, user: userCustomer, text: "subscribe", want: "People from other organizations cannot change"},
		{name: "the customer mutes", channel: chanShared, user: userCustomer, text: `mute tenant:"Acme Corp" 1h`, want: "People from other organizations cannot change"},
		{name: "the customer unmutes", channel: chanShared, user: userCustomer, text: "unmute 1", want: "People from other organizations cannot change"},
		{name: "the customer reads the scope", channel: chanShared, user: userCustomer, text: "scope", want: "This channel is scoped to Acme Corp"},
		{name: "the admin subscribes beyond the scope", channel: chanShared, user: userOps, text: `subscribe tenant:"Beta Industries"`, want: "This channel is scoped to Acme Corp"},
		{name: "the admin mutes a plan there", channel: chanShared, user: userOps, text: `mute plan:"Beta hourly" 1h`, want: "not made in a scoped channel"},
		{name: "the admin mutes another tenant there", channel: chanShared, user: userOps, text: `mute tenant:"Beta Industries" 2h`, want: "This channel is scoped to Acme Corp"},
		{name: "the admin mutes another tenant's task there", channel: chanShared, user: userOps, text: "mute task:" + betaRunning.IDString + " 1h", want: notMuted(betaRunning.IDString), apiCalls: true},
		{name: "mutes there leave out Beta's", channel: chanShared, user: userCustomer, text: "mutes", want: "No active mutes of Acme Corp or of its tasks."},
		{name: "the admin ends Beta's mute from there", channel: chanShared, user: userOps, text: "unmute 1", want: "There is no mute 1"},
		{name: "the customer in an unscoped channel", channel: chanOps, user: userCustomer, text: "paused", want: "only in a channel set up for them"},
		{name: "the customer's show in an unscoped channel", channel: chanOps, user: userCustomer, text: "show " + betaRunning.IDString, want: "only in a channel set up for them"},
		{name: "the customer's subscriptions in an unscoped channel", channel: chanOps, user: userCustomer, text: "subscriptions", want: "only in a channel set up for them"},
		{name: "the customer's click in an unscoped channel", channel: chanOps, user: userCustomer, team: teamCustomer, click: "tasks_refresh", value: opsRefresh, want: "only in a channel set up for them"},
	}
	for _, a := range attempts {
		from := len(e.api.Requests())
		var got string
		if a.click != "" {
			n := len(e.resp.Posts())
			if s := e.clickFrom(t, a.channel, a.user, a.team, a.click, a.value); s != 200 {
				t.Errorf("%s: HTTP %d", a.name, s)
				continue
			}
			got = e.responseAfter(t, n, "")
		} else {
			_, got = e.slash(t, a.channel, a.user, a.text)
		}
		if !strings.Contains(got, a.want) {
			t.Errorf("%s: the answer lacks %q:\n%.700s", a.name, a.want, got)
		}
		if strings.Contains(got, `"response_type":"in_channel"`) != a.inChannel {
			t.Errorf("%s: in_channel is %v, want %v:\n%.300s", a.name, !a.inChannel, a.inChannel, got)
		}
		if a.channel == chanShared || a.user == userCustomer {
			for _, w := range betaWords(betaRunning) {
				if strings.Contains(got, w) {
					t.Errorf("%s: the answer reveals %q:\n%.700s", a.name, w, got)
				}
			}
		}
		if calls := commandCalls(e, from); len(calls) > 0 && !a.apiCalls {
			t.Errorf("%s: asked the Task Manager %v", a.name, calls)
		}
		t.Logf("%-58s → %.160s", a.name, firstText(got))
	}

	// The admin's subscribe without tenants subscribes the scope's tenants by name, so it stays
	// within them even after `scope all`.
	if _, body := e.slash(t, chanShared, userOps, "subscribe failed"); !strings.Contains(body, "failed of Acme Corp") {
		t.Errorf("subscribe in a scoped channel: %s", body)
	}
	// Announcements: Beta's next transition reaches the ops channel, not Acme's.
	sharedBefore, opsBefore := len(postsIn(e.slack, chanShared)), len(postsIn(e.slack, chanOps))
	if _, body := e.slash(t, chanOps, userOps, "unmute 1"); !strings.Contains(body, "ended mute 1") {
		t.Fatalf("unmute Beta: %s", body)
	}
	e.api.SetState(betaRunning.UUID, tasks.Started, "")
	waitFor(t, "Beta's resume in the ops channel", func() bool { return len(postsIn(e.slack, chanOps)) > opsBefore })
	pollsAfter(t, e.api, 3)
	if n := len(postsIn(e.slack, chanShared)); n != sharedBefore {
		t.Errorf("the scoped channel got %d announcements of Beta", n-sharedBefore)
	}
	// Nor was Beta's thread there, opened before the scope, updated to show the resume.
	for _, p := range e.slack.Posts() {
		if p.Channel == chanShared && p.Method == "chat.update" && strings.Contains(p.Text+string(p.Blocks), "Beta") {
			t.Errorf("Beta's thread in the scoped channel was updated: %s", p.Text)
		}
	}

	// The scope survives a restart; `scope all` ends it, confirmed in the channel.
	if err := stop(); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	stop, _ = e.start(t)
	defer stop()
	if _, body := e.slash(t, chanShared, userCustomer, "scope"); !strings.Contains(body, "scoped to Acme Corp") {
		t.Errorf("the scope after a restart: %s", body)
	}
	_, body = e.slash(t, chanShared, userOps, "scope all")
	if !strings.Contains(body, `"response_type":"in_channel"`) || !strings.Contains(body, "removed this channel's scope") {
		t.Errorf("scope all: %s", body)
	}
	if _, body := e.slash(t, chanShared, userCustomer, "paused"); !strings.Contains(body, "only in a channel set up for them") {
		t.Errorf("the customer after scope all: %s", body)
	}
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("panic in the log:\n%s", logs)
	}
}

var textField = regexp.MustCompile(`"text":"((?:[^"\\]|\\.)*)"`)

// firstText is the first "text" of a Slack payload, for the test's log of attempts.
func firstText(payload string) string {
	if m := textField.FindStringSubmatch(payload); m != nil {
		return m[1]
	}
	return payload
}

// TestOrganizationUnknown: when Slack cannot say which organization a user belongs to (users.info
// fails), taskbot refuses outside scoped channels, says why, and asks nothing of the API; in a
// scoped channel listings go on (who asks does not matter there).
func TestOrganizationUnknown(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	twoTenants(e)
	e.slack.SetChannel(chanShared, "acme-shared", true)
	stop, _ := e.start(t)
	defer stop()
	if _, body := e.slash(t, chanShared, userOps, `scope tenant:"Acme Corp"`); !strings.Contains(body, "scoped this channel") {
		t.Fatalf("scope: %s", body)
	}
	e.slack.Fail(bottest.Fault{Method: "users.info", Error: "missing_scope"})
	from := len(e.api.Requests())
	if _, body := e.slash(t, chanOps, "U0NEWUSER1", "paused"); !strings.Contains(body, "cannot check with Slack") || !strings.Contains(body, "users:read") {
		t.Errorf("an unknown organization in an unscoped channel: %s", body)
	}
	if calls := commandCalls(e, from); len(calls) > 0 {
		t.Errorf("asked the Task Manager %v", calls)
	}
	if _, body := e.slash(t, chanShared, "U0NEWUSER1", "paused"); !strings.Contains(body, "Acme nightly") || strings.Contains(body, "Beta") {
		t.Errorf("a listing in a scoped channel: %s", body)
	}
}

// TestScopedChannelOverSocketMode: the same rules over Socket Mode, for slash commands and clicks.
func TestScopedChannelOverSocketMode(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.set("SLACK_APP_TOKEN", "xapp-1-test-app-token")
	e.set("SLACK_SIGNING_SECRET", "")
	_, _, betaRunning := twoTenants(e)
	e.slack.SetChannel(chanShared, "acme-shared", true)
	e.slack.SetUser(userCustomer, teamCustomer)
	stop, _ := e.start(t)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	slash := func(channel, user, text string) string {
		t.Helper()
		ack, err := e.slack.SocketSend(ctx, "slash_commands", map[string]string{
			"command": "/tasks", "text": text, "response_url": e.resp.URL, "user_id": user, "channel_id": channel})
		if err != nil {
			t.Fatal(err)
		}
		return slackText(ack)
	}
	if got := slash(chanShared, userOps, `scope tenant:"Acme Corp"`); !strings.Contains(got, "scoped this channel to Acme Corp") {
		t.Fatalf("scope over the socket: %s", got)
	}
	from := len(e.api.Requests())
	for _, a := range []struct{ channel, text, want string }{
		{chanOps, "paused", "only in a channel set up for them"},
		{chanShared, `paused tenant:"Beta Industries"`, "This channel is scoped to Acme Corp"},
		{chanShared, "scope all", "People from other organizations cannot change"},
		{chanShared, "subscribe", "People from other organizations cannot change"},
		{chanShared, `mute tenant:"Acme Corp" 1h`, "People from other organizations cannot change"},
	} {
		if got := slash(a.channel, userCustomer, a.text); !strings.Contains(got, a.want) || strings.Contains(got, "Beta mailboxes") {
			t.Errorf("%s in %s over the socket: %.400s", a.text, a.channel, got)
		}
	}
	if calls := commandCalls(e, from); len(calls) > 0 {
		t.Errorf("refusals over the socket asked the Task Manager %v", calls)
	}
	got := slash(chanShared, userCustomer, "started paused")
	if !strings.Contains(got, "Acme files") || strings.Contains(got, "Beta mailboxes") {
		t.Errorf("the customer's listing over the socket: %.600s", got)
	}
	// A click of the customer's (user.team_id names their organization) on a listing of the
	// ops channel: refused before any API call.
	opsRefresh := buttonValue(t, []byte(slash(chanOps, userOps, "paused")), "tasks_refresh")
	n := len(e.resp.Posts())
	from = len(e.api.Requests())
	if _, err := e.slack.SocketSend(ctx, "interactive", map[string]any{
		"type": "block_actions", "response_url": e.resp.URL,
		"channel": map[string]string{"id": chanOps}, "user": map[string]string{"id": userCustomer, "team_id": teamCustomer},
		"actions": []map[string]string{{"block_id": "b", "action_id": "tasks_refresh", "value": opsRefresh, "type": "button"}},
	}); err != nil {
		t.Fatal(err)
	}
	if got := e.responseAfter(t, n, ""); !strings.Contains(got, "only in a channel set up for them") || strings.Contains(got, "Beta") {
		t.Errorf("the customer's click over the socket: %s", got)
	}
	if calls := commandCalls(e, from); len(calls) > 0 {
		t.Errorf("the refused click asked the Task Manager %v", calls)
	}
	_ = betaRunning
}

// TestCheckListsScopes: taskbot check names each scoped channel and what it shows, and checks
// that users.info works (without users:read, taskbot cannot tell a customer from a colleague).
func TestCheckListsScopes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.slack.SetChannel(chanOps, "ops-alerts", true)
	e.slack.SetChannel(chanShared, "acme-shared", true)
	e.api.Add(tasks.Task{State: tasks.Paused, Tenant: &tasks.Tenant{ID: "1001", Name: "Acme Corp"}, Context: map[string]any{"title": "Acme nightly"}})
	stop, _ := e.start(t)
	if _, body := e.slash(t, chanShared, userOps, `scope tenant:"Acme Corp" tenant:1002`); !strings.Contains(body, "scoped this channel") {
		t.Fatalf("scope: %s", body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"check"}, e.getenv, strings.NewReader(""), &out, &out); err != nil {
		t.Fatalf("check: %v\n%s", err, out.String())
	}
	for _, w := range []string{`ok   Scoped channel C0ACMESHARED: #acme-shared shows only "Acme Corp", 1002 (scoped by U0OPS00001, `,
		"ok   Slack users.info (who is from another organization)"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("check output lacks %q:\n%s", w, out.String())
		}
	}
	e.slack.Fail(bottest.Fault{Method: "users.info", Error: "missing_scope"})
	out.Reset()
	err := run(context.Background(), []string{"check"}, e.getenv, strings.NewReader(""), &out, &out)
	if code := exitCode(err, &out); code != 1 || !strings.Contains(out.String(), "FAIL Slack users.info") || !strings.Contains(out.String(), "users:read") {
		t.Errorf("check without users:read: exit %d\n%s", code, out.String())
	}
}

// TestScopeResolvesTenants: a scope holds the tenant its word named when it was set, by ID:
// another tenant of the same name, or whose ID is that word, stays out; a word naming two
// tenants is refused with their IDs; a name naming none is refused (kept, it could later let
// in whichever tenant takes that name); a tenant id naming none is kept, matched by id only,
// with a warning. The announcement channel cannot be scoped. Scoping narrows the channel's
// subscriptions; a mute of one of the scope's tasks is listed there.
func TestScopeResolvesTenants(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	acme := &tasks.Tenant{ID: "t-acme", Name: "Acme"}
	e.api.Add(tasks.Task{State: tasks.Paused, Tenant: acme, Context: map[string]any{"title": "Acme nightly"}})
	acmeRunning := e.api.Add(tasks.Task{State: tasks.Started, Tenant: acme, Context: map[string]any{"title": "Acme files"}})
	e.api.Add(tasks.Task{State: tasks.Paused, Tenant: &tasks.Tenant{ID: "acme", Name: "Zeta Evil"}, Context: map[string]any{"title": "Zeta secret"}})
	e.api.Add(tasks.Task{State: tasks.Paused, Tenant: &tasks.Tenant{ID: "t-beta", Name: "Beta"}, Context: map[string]any{"title": "Beta secret"}})
	e.slack.SetChannel(chanShared, "acme-shared", true)
	stop, _ := e.start(t)
	defer stop()

	// "acme" names two tenants: Acme by name, Zeta Evil by ID.
	if _, body := e.slash(t, chanShared, userOps, "scope tenant:acme"); !strings.Contains(body, "names 2 tenants") ||
		!strings.Contains(body, "Acme (id t-acme)") || !strings.Contains(body, "Zeta Evil (id acme)") || strings.Contains(body, "in_channel") {
		t.Fatalf("an ambiguous scope: %s", body)
	}
	if _, body := e.slash(t, chanShared, userOps, "scope"); !strings.Contains(body, "no scope") {
		t.Fatalf("a refused scope was stored: %s", body)
	}
	// Subscriptions before the scope: all tenants, and Beta.
	e.slash(t, chanShared, userOps, "subscribe paused")
	e.slash(t, chanShared, userOps, "subscribe failed tenant:Beta")
	_, body := e.slash(t, chanShared, userOps, "scope tenant:t-acme tenant:nosuch")
	if !strings.Contains(body, "The scope was not set: no recent task belongs to a tenant named nosuch") || strings.Contains(body, "in_channel") {
		t.Errorf("a scope naming an unknown tenant: %s", body)
	}
	if _, body := e.slash(t, chanOps, userOps, "scope tenant:t-acme"); !strings.Contains(body, "announcement channel (SLACK_CHANNEL)") || strings.Contains(body, "in_channel") {
		t.Errorf("scoping SLACK_CHANNEL: %s", body)
	}
	// A tenant named twice (by name and id) is in the scope once.
	_, body = e.slash(t, chanShared, userOps, "scope tenant:t-acme tenant:Acme tenant:4242")
	for _, w := range []string{"scoped this channel to Acme and 4242", "1 subscription of this channel for other tenants was removed",
		"Its subscription for all tenants now covers only t-acme and 4242", "No recent task belongs to the tenant with id 4242"} {
		if !strings.Contains(body, w) {
			t.Errorf("scope confirmation lacks %q: %s", w, body)
		}
	}
	if _, body := e.slash(t, chanShared, userOps, "subscriptions"); strings.Contains(body, "Beta") || strings.Contains(body, "All tenants") || !strings.Contains(body, "t-acme") {
		t.Errorf("subscriptions after the scope: %s", body)
	}
	// A listing: Acme's tasks, neither Zeta Evil's (ID "acme") nor anyone's named like it.
	_, body = e.slash(t, chanShared, userOps, "paused")
	if !strings.Contains(body, "Acme nightly") || strings.Contains(body, "Zeta") || strings.Contains(body, "Beta") {
		t.Errorf("a listing in the resolved scope: %s", body)
	}
	// The tenant's name, its ID and the word typed all name it in the channel.
	for _, w := range []string{"tenant:ACME", "tenant:t-acme"} {
		if _, body := e.slash(t, chanShared, userOps, "paused "+w); !strings.Contains(body, "Acme nightly") {
			t.Errorf("paused %s: %s", w, body)
		}
	}
	// A mute of one of Acme's tasks, made in the ops channel, is listed in Acme's channel.
	if _, body := e.slash(t, chanOps, userOps, "mute task:"+acmeRunning.IDString+" 1h"); !strings.Contains(body, "(mute 1;") {
		t.Fatalf("mute: %s", body)
	}
	if _, body := e.slash(t, chanShared, userOps, "mutes"); !strings.Contains(body, "task:"+acmeRunning.IDString) {
		t.Errorf("the mute of an Acme task is not listed in Acme's channel: %s", body)
	}
	_, body = e.slash(t, chanShared, userOps, "scope all")
	if !strings.Contains(body, "removed this channel's scope (Acme and 4242)") || !strings.Contains(body, "Its subscriptions stay as they were") {
		t.Errorf("scope all: %s", body)
	}
}

// TestCheckRefusesAStateFileItCannotRun: `taskbot check` fails, with serve's reason, on a state
// file serve would refuse: one from a newer taskbot, or with a damaged schema mark.
func TestCheckRefusesAStateFileItCannotRun(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.slack.SetChannel(chanOps, "ops-alerts", true)
	stop, _ := e.start(t)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ schema, want string }{
		{"99", `schema version "99", this taskbot understands "7" and older: the file is from a newer taskbot`},
		{"garbage", `schema version "garbage" was never written by taskbot: the file is damaged`},
	} {
		db, err := bolt.Open(e.db, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte(tc.schema)) })
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		err = run(context.Background(), []string{"check"}, e.getenv, strings.NewReader(""), &out, &out)
		if code := exitCode(err, &out); code != 1 || !strings.Contains(out.String(), "FAIL State file "+e.db) || !strings.Contains(out.String(), tc.want) {
			t.Errorf("check of a schema-%s file: exit %d\n%s", tc.schema, code, out.String())
		}
	}
}
