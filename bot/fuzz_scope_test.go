package bot

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/state"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
	"github.com/taskbot/taskbot/tasks/announce"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// Words of the other tenant's data, unlikely to be typed: the fuzzer must never see them in an
// answer in the scoped channel unless it typed them itself (an answer may echo what was typed).
var otherTenantWords = []string{"Zyx Other Industries", "4242", "ZYX-EXCH-77", "Zyx hourly", "Zyx mailboxes"}

// FuzzScopedChannel: whatever is typed in a channel scoped to Acme, by a colleague or by a
// customer of another organization, the answer shows nothing of another tenant; a customer
// changes no setting, and outside the scoped channel is refused without asking the API.
func FuzzScopedChannel(f *testing.F) {
	for _, s := range []string{"", "paused", "started paused failed", "show 1", `tenant:"Zyx Other Industries"`, "tenant:4242",
		"scope", "scope all", `scope tenant:"Zyx Other Industries"`, "subscribe", `subscribe tenant:"Zyx Other Industries"`,
		"subscriptions", "mutes", "mute plan:x 1h", "mute task:1 1h", `mute tenant:"Acme Corp" 1h`, "unmute 1",
		"scope tenant:Acme Corp", "failed tenant:acme\u00a0corp", "help", "show 6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69"} {
		f.Add(s, true, true)
		f.Add(s, false, true)
		f.Add(s, true, false)
	}
	api := taskstest.NewServer()
	f.Cleanup(api.Close)
	acme := &tasks.Tenant{ID: "1001", Name: "Acme Corp"}
	other := &tasks.Tenant{ID: "4242", Name: "Zyx Other Industries"}
	api.Add(tasks.Task{ID: 1, State: tasks.Paused, Tenant: other, Context: map[string]any{"title": "Zyx mailboxes"},
		Resource: &tasks.Reference{Name: "ZYX-EXCH-77"}, Policy: &tasks.Reference{Name: "Zyx hourly"}})
	api.Add(tasks.Task{State: tasks.Started, Tenant: other, Context: map[string]any{"title": "Zyx mailboxes"}})
	api.Add(tasks.Task{State: tasks.Completed, Tenant: other, Result: &tasks.Result{Code: tasks.ResultError}, Context: map[string]any{"title": "Zyx mailboxes"}})
	api.Add(tasks.Task{State: tasks.Paused, Tenant: acme, Context: map[string]any{"title": "Acme nightly"}})
	client, err := acronis.NewClient(acronis.Config{BaseURL: api.URL, ClientID: api.ClientID, ClientSecret: api.ClientSecret,
		Timeout: 5 * time.Second, Retries: -1, Logger: discardLogger()})
	if err != nil {
		f.Fatal(err)
	}
	store, err := state.Open(filepath.Join(f.TempDir(), "taskbot.db"), state.Options{Channel: "C0OPS0001"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	key, _ := store.ButtonKey()
	slackAPI := bottest.NewSlack()
	f.Cleanup(slackAPI.Close)
	slackAPI.SetUser("U0CUSTOMER", "T0ACMEORG1")
	// A clock a minute on at each reading: the per-person meter of scoped channels never
	// turns the fuzzer's requests away.
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Minute)
		return clock
	}
	a := NewAnswerer(AnswererConfig{API: client, Settings: store, Announce: []string{"started", "paused", "failed"}, Now: now,
		ButtonKey: key, External: NewOrgs(slack.New("xoxb-test", slack.OptionAPIURL(slackAPI.URL()))).External, Logger: discardLogger(), Metrics: NewMetrics(nil)})
	const shared, ops = "C0SHARED01", "C0OPS0001"
	scope := announce.Scope{Channel: shared, Tenants: []string{"Acme Corp"}, By: "U0ADMIN001"}

	f.Fuzz(func(t *testing.T, text string, customer, inShared bool) {
		// Earlier inputs of the admin's may have scoped or unscoped either channel.
		if _, err := store.SetScope(scope); err != nil {
			t.Fatal(err)
		}
		if _, err := store.ClearScope(ops); err != nil {
			t.Fatal(err)
		}
		user, channel := "U0ADMIN001", ops
		if customer {
			user = "U0CUSTOMER"
		}
		if inShared {
			channel = shared
		}
		before := settingsOf(t, store)
		calls := api.TaskRequests()
		m := a.Handle(context.Background(), Request{Text: text, Channel: channel, User: user})
		raw, _ := json.Marshal(m)
		answer := slackText(raw)
		if inShared {
			for _, w := range otherTenantWords {
				if strings.Contains(answer, w) && !strings.Contains(strings.ToLower(text), strings.ToLower(w)) {
					t.Fatalf("typed %q in the scoped channel (customer %v): the answer shows %q:\n%s", text, customer, w, answer)
				}
			}
		}
		if customer && settingsOf(t, store) != before {
			t.Fatalf("the customer's %q changed the settings:\n%s\n→\n%s", text, before, settingsOf(t, store))
		}
		if customer && !inShared {
			if n := api.TaskRequests() - calls; n != 0 {
				t.Fatalf("the customer's %q outside the scoped channel made %d API calls: %s", text, n, answer)
			}
			if _, err := ParseCommand(text); err == nil && !strings.Contains(answer, "only in a channel set up for them") &&
				!strings.Contains(answer, "cannot change") && !strings.Contains(answer, "*Usage*") {
				t.Fatalf("the customer's %q outside the scoped channel was answered:\n%s", text, answer)
			}
		}
	})
}

// settingsOf is the store's subscriptions, mutes and scopes, for comparison.
func settingsOf(t *testing.T, s *state.Store) string {
	t.Helper()
	subs, err1 := s.Subscriptions()
	mutes, err2 := s.Mutes()
	scopes, err3 := s.Scopes()
	if err := cmpErr(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(scopes, func(a, b announce.Scope) int { return strings.Compare(a.Channel, b.Channel) })
	b, _ := json.Marshal([]any{subs, mutes, scopes})
	return string(b)
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// slackText is a payload with Go's JSON escapes of < > & undone.
func slackText(b []byte) string {
	return strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(string(b))
}
