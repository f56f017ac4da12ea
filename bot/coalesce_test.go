package bot

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/state"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
	"github.com/taskbot/taskbot/tasks/announce"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// TestIdenticalCommandsShareOneListing: slash commands that ask for the same listing while the
// Task Manager has not answered it yet share one API request, and each gets the whole answer at
// its response_url; commands with other tenant: words or from a scoped channel are never
// answered from another's listing, even where their API queries are the same. The API is held
// until every command has joined a listing (Answerer.joined), so the request counts are exact,
// not a race against a clock.
func TestIdenticalCommandsShareOneListing(t *testing.T) {
	const acme, beta = "Acme Corp", "Beta Industries"
	api := taskstest.NewServer()
	t.Cleanup(api.Close)
	for i := range 3 {
		api.Add(tasks.Task{State: tasks.Paused, Tenant: &tasks.Tenant{ID: "acme-0001", Name: acme},
			Context: map[string]any{"title": fmt.Sprintf("Acme backup %d", i)}})
		api.Add(tasks.Task{State: tasks.Paused, Tenant: &tasks.Tenant{ID: "beta-0002", Name: beta},
			Context: map[string]any{"title": fmt.Sprintf("Beta backup %d", i)}})
	}
	client, err := acronis.NewClient(acronis.Config{BaseURL: api.URL, ClientID: api.ClientID, ClientSecret: api.ClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(filepath.Join(t.TempDir(), "taskbot.db"), state.Options{Channel: "C0OPS00001"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := store.SetScope(announce.Scope{Channel: "C0SHARED01", Tenants: []string{acme},
		Resolved: []announce.ScopeTenant{{Word: acme, ID: "acme-0001", Name: acme}}}); err != nil {
		t.Fatal(err)
	}

	type group struct {
		name, channel, text string
		n                   int
		want, notWant       []string // titles the answer must and must not show
		ru                  *bottest.ResponseURL
	}
	tests := []struct {
		name     string
		groups   []*group
		requests int // list requests the API gets
	}{
		{
			name: "twenty identical commands, one request",
			groups: []*group{{name: "paused", channel: "C0OPS00001", text: "paused", n: 20,
				want: []string{"Acme backup 0", "Acme backup 2", "Beta backup 0", "Beta backup 2"}}},
			requests: 1,
		},
		{
			name: "other tenants and scopes are listed apart",
			groups: []*group{
				{name: "Acme's", channel: "C0OPS00001", text: `paused tenant:"Acme Corp"`, n: 5,
					want: []string{"Acme backup 0", "Acme backup 2"}, notWant: []string{"Beta backup"}},
				{name: "Beta's", channel: "C0OPS00001", text: `paused tenant:"Beta Industries"`, n: 5,
					want: []string{"Beta backup 0", "Beta backup 2"}, notWant: []string{"Acme backup"}},
				// The same API query as the tenant: listings (a scope searches as far back), but
				// only ever answered from a listing made for this scope.
				{name: "the scoped channel's", channel: "C0SHARED01", text: "paused", n: 5,
					want: []string{"Acme backup 0", "Acme backup 2"}, notWant: []string{"Beta backup"}},
				{name: "everyone's", channel: "C0OPS00001", text: "paused", n: 5,
					want: []string{"Acme backup 0", "Beta backup 0"}},
			},
			requests: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gate := make(chan struct{})
			api.Fail(taskstest.Fault{Until: gate})
			defer api.ClearFaults()
			before := api.TaskRequests()

			a := NewAnswerer(AnswererConfig{API: client, Settings: store})
			var joined atomic.Int64
			a.joined = func() { joined.Add(1) }
			s := NewServer(ServerConfig{SigningSecret: secret, Answerer: a, AckWithin: 100 * time.Millisecond, Logger: discardLogger()})
			hs := httptest.NewServer(s.Handler())
			defer hs.Close()

			var wg sync.WaitGroup
			total := 0
			for _, g := range tt.groups {
				g.ru = bottest.NewResponseURL()
				defer g.ru.Close()
				for i := range g.n {
					total++
					form := url.Values{"command": {"/tasks"}, "text": {g.text}, "channel_id": {g.channel},
						"user_id": {fmt.Sprintf("U0USER%04d", i)}, "response_url": {g.ru.URL}}
					wg.Go(func() {
						code, body := post(t, hs.URL+"/slack/commands", "application/x-www-form-urlencoded", []byte(form.Encode()), true)
						if code != 200 || !strings.Contains(body, "follows") {
							t.Errorf("%s: ack = %d %s, want a progress note", g.name, code, body)
						}
					})
				}
			}
			waitUntil(t, "every command to join a listing", func() bool { return joined.Load() == int64(total) })
			wg.Wait() // every command acknowledged with a progress note while the API holds its answer
			close(gate)
			for _, g := range tt.groups {
				waitUntil(t, g.name+" answers at response_url", func() bool { return len(g.ru.Posts()) == g.n })
				for _, p := range g.ru.Posts() {
					body := unescapeJSON(string(p))
					for _, w := range g.want {
						if !strings.Contains(body, w) {
							t.Errorf("%s: an answer lacks %q: %s", g.name, w, body)
						}
					}
					for _, w := range g.notWant {
						if strings.Contains(body, w) {
							t.Errorf("%s: an answer shows %q: %s", g.name, w, body)
						}
					}
				}
			}
			if err := s.Drain(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := api.TaskRequests() - before; got != tt.requests {
				t.Errorf("%d commands made %d list requests, want %d", total, got, tt.requests)
			}
		})
	}
}
