package acronis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// newClient returns a client for s with fast retries (2 retries, 1ms base) and a 2s timeout;
// mods adjust the config.
func newClient(t *testing.T, s *taskstest.Server, mods ...func(*acronis.Config)) *acronis.Client {
	t.Helper()
	cfg := acronis.Config{
		BaseURL:      s.URL,
		ClientID:     s.ClientID,
		ClientSecret: s.ClientSecret,
		Timeout:      2 * time.Second,
		Retries:      2,
		RetryBase:    time.Millisecond,
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := acronis.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newServer(t *testing.T) *taskstest.Server {
	t.Helper()
	s := taskstest.NewServer()
	t.Cleanup(s.Close)
	return s
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/acronis/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// addN adds n tasks in state st and returns them as stored.
func addN(s *taskstest.Server, n int, st tasks.State) []tasks.Task {
	var out []tasks.Task
	for i := range n {
		out = append(out, s.Add(tasks.Task{State: st, Context: map[string]any{"title": fmt.Sprintf("task %d", i)}}))
	}
	return out
}

func ids(ts []tasks.Task) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// listQueries are the query strings of the GET /tasks requests s received, in order.
func listQueries(t *testing.T, s *taskstest.Server) []url.Values {
	t.Helper()
	var out []url.Values
	for _, r := range s.Requests() {
		if r.Method == http.MethodGet && r.Path == taskstest.TasksPath {
			v, err := url.ParseQuery(r.RawQuery)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
	}
	return out
}

func TestListSendsRepeatedKeysAndAnExplicitLimit(t *testing.T) {
	since := time.Date(2020, 4, 22, 11, 0, 0, 123456789, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		name     string
		q        tasks.Query
		wantRaw  []string // substrings of the raw query, in wire form
		wantVals url.Values
	}{
		{
			name:     "empty query still sends the default limit",
			q:        tasks.Query{},
			wantRaw:  []string{"limit=100"},
			wantVals: url.Values{"limit": {"100"}},
		},
		{
			name:     "two states become a repeated key",
			q:        tasks.Query{States: []tasks.State{tasks.Started, tasks.Paused}, Limit: 5},
			wantRaw:  []string{"state=started&state=paused", "limit=5"},
			wantVals: url.Values{"state": {"started", "paused"}, "limit": {"5"}},
		},
		{
			name:     "failed: completed with result code error",
			q:        tasks.Query{States: []tasks.State{tasks.Completed}, ResultCodes: []tasks.ResultCode{tasks.ResultError, tasks.ResultWarning}},
			wantRaw:  []string{"resultCode=error&resultCode=warning"},
			wantVals: url.Values{"state": {"completed"}, "resultCode": {"error", "warning"}, "limit": {"100"}},
		},
		{
			name:    "watermark in UTC in whole seconds, truncated toward the past, ordered",
			q:       tasks.Query{UpdatedAfter: since, Order: tasks.Order{Field: "updatedAt"}, Limit: 50},
			wantRaw: []string{"updatedAt=gt%282020-04-22T09%3A00%3A00Z%29", "order=asc%28updatedAt%29"},
			wantVals: url.Values{
				"updatedAt": {"gt(2020-04-22T09:00:00Z)"},
				"order":     {"asc(updatedAt)"},
				"limit":     {"50"},
			},
		},
		{
			name: "a time a hair before the next second still goes down, in both filters",
			q: tasks.Query{UpdatedAfter: time.Date(2026, 12, 1, 10, 0, 0, 999999999, time.UTC),
				CompletedAfter: time.Date(2026, 12, 1, 4, 59, 59, 1, time.FixedZone("EST", -5*3600))},
			wantVals: url.Values{
				"updatedAt":   {"gt(2026-12-01T10:00:00Z)"},
				"completedAt": {"gt(2026-12-01T09:59:59Z)"},
				"limit":       {"100"},
			},
		},
		{
			name:     "a whole second stays as it is",
			q:        tasks.Query{UpdatedAfter: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)},
			wantVals: url.Values{"updatedAt": {"gt(2026-12-01T10:00:00Z)"}, "limit": {"100"}},
		},
		{
			name: "types and uuids",
			q: tasks.Query{
				Types: []string{"MachineBackup", "ArchiveReplication"},
				UUIDs: []string{"38045860-8901-426e-b51f-fc6d24d1cbe0", "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69"},
			},
			wantRaw: []string{"type=MachineBackup&type=ArchiveReplication", "uuid=38045860-8901-426e-b51f-fc6d24d1cbe0&uuid=6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69"},
			wantVals: url.Values{
				"type":  {"MachineBackup", "ArchiveReplication"},
				"uuid":  {"38045860-8901-426e-b51f-fc6d24d1cbe0", "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69"},
				"limit": {"100"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			c := newClient(t, s)
			if _, err := c.List(context.Background(), tt.q); err != nil {
				t.Fatal(err)
			}
			reqs := s.Requests()
			last := reqs[len(reqs)-1]
			if last.Method != http.MethodGet || last.Path != taskstest.TasksPath || last.AuthScheme != "Bearer" {
				t.Fatalf("last request = %+v, want a Bearer GET %s", last, taskstest.TasksPath)
			}
			for _, w := range tt.wantRaw {
				if !strings.Contains(last.RawQuery, w) {
					t.Errorf("query %q lacks %q", last.RawQuery, w)
				}
			}
			got, _ := url.ParseQuery(last.RawQuery)
			if fmt.Sprint(got) != fmt.Sprint(tt.wantVals) {
				t.Errorf("query values = %v, want %v", got, tt.wantVals)
			}
		})
	}
}

func TestListFollowsCursorsToTheLastPage(t *testing.T) {
	tests := []struct {
		name      string
		style     taskstest.CursorStyle
		tasks     int
		pageCap   int
		limit     int
		wantPages int
	}{
		{"paging.cursors.after, server caps the page", taskstest.CursorsInPaging, 23, 5, 0, 5},
		{"top-level cursors.after, server caps the page", taskstest.CursorsTopLevel, 23, 5, 0, 5},
		{"paging.cursors.after, client limit, exact multiple", taskstest.CursorsInPaging, 20, 0, 5, 4},
		{"top-level cursors.after, client limit", taskstest.CursorsTopLevel, 7, 0, 3, 3},
		{"single page", taskstest.CursorsInPaging, 3, 0, 0, 1},
		{"no tasks at all", taskstest.CursorsTopLevel, 0, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			s.SetCursorStyle(tt.style)
			s.SetPageSizeCap(tt.pageCap)
			added := addN(s, tt.tasks, tasks.Started)
			c := newClient(t, s)
			q := tasks.Query{States: []tasks.State{tasks.Started}, Order: tasks.Order{Field: "updatedAt"}, Limit: tt.limit}
			res, err := c.List(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ids(res.Tasks), ids(added); !slices.Equal(got, want) {
				t.Errorf("ids = %v, want %v", got, want)
			}
			if res.Pages != tt.wantPages || s.TaskRequests() != tt.wantPages {
				t.Errorf("Pages = %d, server saw %d list requests, want %d", res.Pages, s.TaskRequests(), tt.wantPages)
			}
			if res.More {
				t.Error("More = true without MaxTasks")
			}
			if res.TimeStamp.IsZero() || time.Since(res.TimeStamp) > time.Minute {
				t.Errorf("TimeStamp = %v, want the server's recent clock", res.TimeStamp)
			}
			// Every later page sends only the first page's limit and a new cursor (the OpenAPI
			// document: after "can be used only with the limit query string parameter").
			qs := listQueries(t, s)
			first := qs[0]
			if first.Has("after") {
				t.Errorf("first page sent after=%q", first.Get("after"))
			}
			seen := map[string]bool{}
			for i, v := range qs[1:] {
				after := v.Get("after")
				if after == "" || seen[after] {
					t.Errorf("page %d: cursor %q empty or repeated", i+2, after)
				}
				seen[after] = true
				v.Del("after")
				if want := (url.Values{"limit": first["limit"]}); fmt.Sprint(v) != fmt.Sprint(want) {
					t.Errorf("page %d query %v besides after, want only %v", i+2, v, want)
				}
			}
		})
	}
}

func TestListKeepsBigIDsExact(t *testing.T) {
	s := newServer(t)
	const a, b = 944455285181775872, 944455285181775999 // 2^53 < a; float64(a) == float64(a+1)
	s.Add(tasks.Task{ID: a, State: tasks.Started})
	s.Add(tasks.Task{ID: b, State: tasks.Paused})
	c := newClient(t, s)
	res, err := c.List(context.Background(), tasks.Query{Order: tasks.Order{Field: "id"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(res.Tasks); !slices.Equal(got, []int64{a, b}) {
		t.Fatalf("ids = %v, want [%d %d]", got, int64(a), int64(b))
	}
	for _, tk := range res.Tasks {
		if tk.IDString != strconv.FormatInt(tk.ID, 10) {
			t.Errorf("IDString %q does not match ID %d", tk.IDString, tk.ID)
		}
	}
}

// fixtureServer serves the two fixture pages of GET /tasks: the first names the cursor
// "0A8AAAAAAAAAAA==" under paging.cursors, the second has empty cursors. Its token answer is
// testdata/acronis/token.json, whose expires_on lies in 2020.
func fixtureServer(t *testing.T) (string, *[]string) {
	t.Helper()
	page1, page2 := readFixture(t, "tasks-in-progress.json"), readFixture(t, "tasks-completed-page2.json")
	token := readFixture(t, "token.json")
	var mu sync.Mutex
	var queries []string
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/2/idp/token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(token)
	})
	mux.HandleFunc("GET /api/task_manager/v2/tasks", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("after") {
		case "":
			w.Write(page1)
		case "0A8AAAAAAAAAAA==":
			w.Write(page2)
		default:
			http.Error(w, "bad cursor", http.StatusBadRequest)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, &queries
}

func TestListDecodesTheFixturePages(t *testing.T) {
	base, queries := fixtureServer(t)
	c, err := acronis.NewClient(acronis.Config{BaseURL: base, ClientID: "id", ClientSecret: "secret", RetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.List(context.Background(), tasks.Query{States: []tasks.State{tasks.Started, tasks.Paused, tasks.Completed}, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	ts := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	want := []tasks.Task{
		{
			ID: 944455285181775872, IDString: "944455285181775872", UUID: "38045860-8901-426e-b51f-fc6d24d1cbe0",
			Type: "A59E8BF2-39C3-42C4-B667-CB672381A214", Queue: "legacySync", Priority: "normal", State: tasks.Started,
			Tenant: &tasks.Tenant{ID: "1496265", Locator: "/1/1496262/1496265/", Name: "customer-a@example.com"},
			Context: map[string]any{
				"IsProcessRoot": true,
				"Persistent":    map[string]any{"AgentType": "agent", "ID": "f7358a00-8469-45ae-a0c3-22952e9ed12f", "Name": "WS-0001", "OwnerID": "1496265"},
				"Specific":      "Business", "UserName": `WS-0001\Backup Operator`, "isLegacy": true,
				"title": "Adding agent 'WS-0001' to the management server",
			},
			StartedByUser: `WS-0001\Backup Operator`, Cancellable: true,
			EnqueuedAt: ts("2020-04-22T11:34:03.290396913Z"), StartedAt: ts("2020-04-22T11:34:03.290396913Z"),
			UpdatedAt: ts("2020-04-22T11:34:03.294683447Z"),
		},
		{
			ID: 944455285181775999, IDString: "944455285181775999", UUID: "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69",
			Type: "MachineBackup", Queue: "backup", Priority: "high", State: tasks.Paused,
			Tenant: &tasks.Tenant{ID: "1496300", Locator: "/1/1496262/1496300/", Name: "Customer B GmbH"},
			Context: map[string]any{
				"IsProcessRoot": true, "Specific": "Business", "UserName": "R&D <nightly> operator", "isLegacy": false,
				"title": "Backup plan 'R&D <nightly> & archive' on FS-02",
			},
			StartedByUser: "scheduler", Cancellable: true,
			EnqueuedAt: ts("2020-04-22T12:00:00.000000001Z"), StartedAt: ts("2020-04-22T12:00:01.5Z"),
			UpdatedAt: ts("2020-04-22T12:07:43.000000123Z"),
		},
		{
			ID: 944455285181770001, IDString: "944455285181770001", UUID: "0b7e3c4d-1111-4a2b-8c3d-9e8f7a6b5c4d",
			Type: "MachineBackup", Queue: "backup", Priority: "normal", State: tasks.Completed,
			Result:        &tasks.Result{Code: tasks.ResultError, Error: &tasks.DomainError{Domain: "Backup", Code: "VolumeNotFound", Context: map[string]any{"volume": "D:"}}},
			Tenant:        &tasks.Tenant{ID: "1496300", Locator: "/1/1496262/1496300/", Name: "Customer B GmbH"},
			Context:       map[string]any{"IsProcessRoot": true, "title": "Backup plan 'Daily' on SQL-01"},
			StartedByUser: "scheduler",
			EnqueuedAt:    ts("2020-04-22T10:00:00Z"), StartedAt: ts("2020-04-22T10:00:02Z"),
			CompletedAt: ts("2020-04-22T10:41:17.12Z"), UpdatedAt: ts("2020-04-22T10:41:17.13Z"),
		},
		{
			ID: 944455285181770002, IDString: "944455285181770002", UUID: "0b7e3c4d-2222-4a2b-8c3d-9e8f7a6b5c4d",
			Type: "ArchiveReplication", Queue: "replication", Priority: "low", State: tasks.Completed,
			Result:        &tasks.Result{Code: tasks.ResultOK, Payload: json.RawMessage(`"Replication::Result"`)},
			Tenant:        &tasks.Tenant{ID: "1496265", Locator: "/1/1496262/1496265/", Name: "customer-a@example.com"},
			Context:       map[string]any{"IsProcessRoot": true, "title": "Replicating archive to cloud storage"},
			StartedByUser: "scheduler",
			EnqueuedAt:    ts("2020-04-22T09:00:00Z"), StartedAt: ts("2020-04-22T09:00:05Z"),
			CompletedAt: ts("2020-04-22T09:12:00Z"), UpdatedAt: ts("2020-04-22T09:12:00Z"),
		},
	}
	if len(res.Tasks) != len(want) {
		t.Fatalf("got %d tasks, want %d", len(res.Tasks), len(want))
	}
	for i := range want {
		got, _ := json.Marshal(res.Tasks[i])
		exp, _ := json.Marshal(want[i])
		if !bytes.Equal(got, exp) {
			t.Errorf("task %d:\n got %s\nwant %s", i, got, exp)
		}
		if !res.Tasks[i].UpdatedAt.Equal(want[i].UpdatedAt) || res.Tasks[i].ID != want[i].ID {
			t.Errorf("task %d: id/updatedAt %d %v, want %d %v", i, res.Tasks[i].ID, res.Tasks[i].UpdatedAt, want[i].ID, want[i].UpdatedAt)
		}
	}
	if got := res.Tasks[1].Title(); got != "Backup plan 'R&D <nightly> & archive' on FS-02" {
		t.Errorf("Title() = %q", got)
	}
	if f := tasks.DefaultFailures; !f.Failed(&res.Tasks[2]) || f.Failed(&res.Tasks[3]) {
		t.Error("Failed() should hold for the error result only")
	}
	if res.Tasks[0].AssignCount != 0 {
		t.Errorf("AssignCount = %d, want 0 when the answer has none", res.Tasks[0].AssignCount)
	}
	if want := time.Date(2020, 4, 22, 12, 8, 1, 0, time.UTC); !res.TimeStamp.Equal(want) || res.Pages != 2 || res.More {
		t.Errorf("TimeStamp %v Pages %d More %v, want %v 2 false", res.TimeStamp, res.Pages, res.More, want)
	}
	if len(*queries) != 2 || !strings.Contains((*queries)[1], "after=0A8AAAAAAAAAAA%3D%3D") || !strings.Contains((*queries)[1], "limit=2") {
		t.Errorf("queries = %q, want the second with the escaped cursor and limit=2", *queries)
	}
}

func TestListMaxTasks(t *testing.T) {
	tests := []struct {
		name      string
		tasks     int
		limit     int
		maxTasks  int
		wantN     int
		wantMore  bool
		wantPages int
	}{
		{"cut in the middle of a page", 10, 4, 6, 6, true, 2},
		{"stops at a page boundary with more pages left", 10, 4, 8, 8, true, 2},
		{"reaches the end exactly", 8, 4, 8, 8, false, 2},
		{"fewer tasks than the maximum", 5, 4, 50, 5, false, 2},
		{"maximum of one", 3, 100, 1, 1, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			added := addN(s, tt.tasks, tasks.Enqueued)
			c := newClient(t, s)
			res, err := c.List(context.Background(), tasks.Query{Limit: tt.limit, MaxTasks: tt.maxTasks})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ids(res.Tasks), ids(added[:tt.wantN]); !slices.Equal(got, want) {
				t.Errorf("ids = %v, want %v", got, want)
			}
			if res.More != tt.wantMore || res.Pages != tt.wantPages {
				t.Errorf("More %v Pages %d, want %v %d", res.More, res.Pages, tt.wantMore, tt.wantPages)
			}
		})
	}
}

func TestListFilters(t *testing.T) {
	s := newServer(t)
	// Times a second or more apart, as the time filters count whole seconds.
	at := func(sec int, nsec int) time.Time { return time.Date(2026, 12, 1, 10, 0, sec, nsec, time.UTC) }
	started := s.Add(tasks.Task{State: tasks.Started, Type: "MachineBackup", UpdatedAt: at(1, 0)})
	paused := s.Add(tasks.Task{State: tasks.Paused, Type: "ArchiveReplication", UpdatedAt: at(2, 0)})
	s.Add(tasks.Task{State: tasks.Enqueued, UpdatedAt: at(3, 0)})
	okTask := s.Add(tasks.Task{State: tasks.Completed, UpdatedAt: at(4, 500), CompletedAt: at(4, 500)})
	failed := s.Add(tasks.Task{State: tasks.Completed, Result: &tasks.Result{Code: tasks.ResultError}, UpdatedAt: at(5, 0), CompletedAt: at(5, 0)})
	c := newClient(t, s)

	tests := []struct {
		name string
		q    tasks.Query
		want []int64
	}{
		{"in progress", tasks.Query{States: []tasks.State{tasks.Started, tasks.Paused}}, []int64{started.ID, paused.ID}},
		{"failed", tasks.Query{States: []tasks.State{tasks.Completed}, ResultCodes: []tasks.ResultCode{tasks.ResultError}}, []int64{failed.ID}},
		{"type AND state", tasks.Query{States: []tasks.State{tasks.Started, tasks.Paused}, Types: []string{"ArchiveReplication"}}, []int64{paused.ID}},
		{"by uuid", tasks.Query{UUIDs: []string{okTask.UUID, started.UUID}}, []int64{started.ID, okTask.ID}},
		{"updated after a watermark, newest first", tasks.Query{UpdatedAfter: at(3, 999999999), Order: tasks.Order{Field: "updatedAt", Desc: true}}, []int64{failed.ID, okTask.ID}},
		{"updated after a fraction of a second: the whole second counts", tasks.Query{UpdatedAfter: at(4, 900)}, []int64{okTask.ID, failed.ID}},
		{"completed after", tasks.Query{CompletedAfter: at(4, 999)}, []int64{okTask.ID, failed.ID}},
		{"completed after a whole second", tasks.Query{CompletedAfter: at(5, 0)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.List(context.Background(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(res.Tasks); !slices.Equal(got, tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTaskByKey(t *testing.T) {
	s := newServer(t)
	want := s.Add(tasks.Task{State: tasks.Paused, Context: map[string]any{"title": "Backup plan 'Daily' on SQL-01"}})
	c := newClient(t, s)
	for _, key := range []string{want.UUID, want.IDString} {
		got, err := c.Task(context.Background(), key)
		if err != nil {
			t.Fatalf("Task(%q): %v", key, err)
		}
		if got.ID != want.ID || got.Title() != want.Title() || got.State != tasks.Paused {
			t.Errorf("Task(%q) = %d %q %s, want %d %q paused", key, got.ID, got.Title(), got.State, want.ID, want.Title())
		}
	}

	_, err := c.Task(context.Background(), "944455285181779999")
	var ae *acronis.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Code != "notFound" || ae.Path != "/tasks/944455285181779999" {
		t.Errorf("missing task: err = %v, want a 404 notFound APIError", err)
	}

	before := len(s.Requests())
	for _, key := range []string{"", "../tasks?state=started", "1 OR 1", "paused"} {
		if _, err := c.Task(context.Background(), key); err == nil || !strings.Contains(err.Error(), "neither a task id nor a UUID") {
			t.Errorf("Task(%q): err = %v, want a refusal", key, err)
		}
	}
	if n := len(s.Requests()) - before; n != 0 {
		t.Errorf("refused keys caused %d requests", n)
	}
}

func TestTokenIsRenewedAcrossExpiries(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.SetTokenTTL(2 * time.Second)
	addN(s, 3, tasks.Started)
	c := newClient(t, s, func(c *acronis.Config) { c.Retries = -1 }) // any 401 beyond the one refresh would surface

	ctx, cancel := context.WithTimeout(context.Background(), 6500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	lists := 0
	var errs []error
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				res, err := c.List(context.Background(), tasks.Query{States: []tasks.State{tasks.Started}})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if len(res.Tasks) != 3 {
					errs = append(errs, fmt.Errorf("got %d tasks", len(res.Tasks)))
				}
				lists++
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d lists failed, first: %v", len(errs), lists, errs[0])
	}
	// Each token lives 2–3s and is renewed a fifth early: over 6.5s at least 3 tokens.
	if n := s.TokenRequests(); n < 3 || n > 6 {
		t.Errorf("TokenRequests = %d, want 3…6 over 6.5s with 2s tokens", n)
	}
	// No request was refused: every list took exactly one request.
	if s.TaskRequests() != lists {
		t.Errorf("server saw %d list requests for %d lists: some got 401", s.TaskRequests(), lists)
	}
}

func TestRevokedTokenIsDroppedAndTheRequestRetriedOnce(t *testing.T) {
	s := newServer(t)
	addN(s, 2, tasks.Started)
	c := newClient(t, s)
	ctx := context.Background()
	if _, err := c.List(ctx, tasks.Query{}); err != nil {
		t.Fatal(err)
	}
	s.RevokeTokens()
	res, err := c.List(ctx, tasks.Query{})
	if err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if len(res.Tasks) != 2 {
		t.Errorf("got %d tasks, want 2", len(res.Tasks))
	}
	if s.TokenRequests() != 2 || s.TaskRequests() != 3 {
		t.Errorf("token requests %d, list requests %d; want 2 and 3 (one 401, one retry)", s.TokenRequests(), s.TaskRequests())
	}
}

func TestPersistent401IsReportedAfterOneRefresh(t *testing.T) {
	s := newServer(t)
	s.Fail(taskstest.Fault{Status: 401, ContentType: "application/json",
		Body: `{"domain":"TaskManager","code":"unauthorized","reason":"unauthorized","debug":{"msg":"tenant access revoked"}}`})
	c := newClient(t, s)
	_, err := c.List(context.Background(), tasks.Query{})
	var ae *acronis.APIError
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Fatalf("err = %v, want a 401 APIError", err)
	}
	if want := "GET /tasks: 401 Unauthorized: TaskManager unauthorized: tenant access revoked"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if s.TokenRequests() != 2 || s.TaskRequests() != 2 {
		t.Errorf("token requests %d, list requests %d; want 2 and 2", s.TokenRequests(), s.TaskRequests())
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	tests := []struct {
		name       string
		secret     string // "" means the right one
		fault      *taskstest.Fault
		want       *acronis.TokenError // nil: success
		wantTokens int
	}{
		{
			name:       "wrong secret: access_denied, not retried",
			secret:     "wrong-secret-value",
			want:       &acronis.TokenError{StatusCode: 401, Code: "access_denied", Description: "Invalid client credentials", ContentType: "application/json"},
			wantTokens: 1,
		},
		{
			name:       "gateway down: retried, then reported",
			fault:      &taskstest.Fault{Path: taskstest.TokenPath, Status: 503, ContentType: "text/html", Body: "<html><head><title>Maintenance</title></head></html>"},
			want:       &acronis.TokenError{StatusCode: 503, Description: "Maintenance", ContentType: "text/html", HTML: true},
			wantTokens: 3,
		},
		{
			name:       "one 500 then a token",
			fault:      &taskstest.Fault{Path: taskstest.TokenPath, Status: 500, ContentType: "application/json", Body: `{"error":"server_error"}`, Times: 1},
			wantTokens: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			if tt.fault != nil {
				s.Fail(*tt.fault)
			}
			c := newClient(t, s, func(c *acronis.Config) {
				if tt.secret != "" {
					c.ClientSecret = tt.secret
				}
			})
			err := c.Token(context.Background())
			if s.TokenRequests() != tt.wantTokens {
				t.Errorf("TokenRequests = %d, want %d", s.TokenRequests(), tt.wantTokens)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Token: %v", err)
				}
				return
			}
			var te *acronis.TokenError
			if !errors.As(err, &te) || *te != *tt.want {
				t.Fatalf("err = %#v, want %#v", err, tt.want)
			}
			if strings.Contains(err.Error(), s.ClientSecret) || (tt.secret != "" && strings.Contains(err.Error(), tt.secret)) {
				t.Errorf("error %q contains the secret", err)
			}
			// A List fails the same way, before any API request.
			_, lerr := c.List(context.Background(), tasks.Query{})
			if !errors.As(lerr, &te) || !strings.HasPrefix(lerr.Error(), "GET /tasks: token: ") || s.TaskRequests() != 0 {
				t.Errorf("List err = %v with %d list requests, want GET /tasks: token: … and none", lerr, s.TaskRequests())
			}
		})
	}
	t.Run("error text", func(t *testing.T) {
		s := newServer(t)
		c := newClient(t, s, func(c *acronis.Config) { c.ClientSecret = "nope" })
		err := c.Token(context.Background())
		if want := "token: 401 access_denied: Invalid client credentials"; err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	})
}

func TestAPIErrors(t *testing.T) {
	gateway := string(readFixture(t, "error-gateway.html"))
	tmError := string(readFixture(t, "error-task-manager.json"))
	platform := string(readFixture(t, "error-platform.json"))
	const internal = `{"domain":"TaskManager","code":"internalError","reason":"internalError","debug":{"msg":"database unavailable"}}`

	tests := []struct {
		name      string
		fault     *taskstest.Fault
		q         tasks.Query
		timeout   time.Duration
		want      *acronis.APIError // fields compared: StatusCode, Domain, Code, Message, HTML, ContentType
		wantText  string            // exact err.Error(); "" skips
		check     func(t *testing.T, err error)
		wantReqs  int // list requests the server saw (a full list is 3 pages)
		wantTasks int // -1: an error is expected
	}{
		{
			name:     "500 domainError: retried, then reported",
			fault:    &taskstest.Fault{Status: 500, ContentType: "application/json", Body: internal},
			want:     &acronis.APIError{StatusCode: 500, ContentType: "application/json", Domain: "TaskManager", Code: "internalError", Message: "database unavailable"},
			wantText: "GET /tasks: 500 Internal Server Error: TaskManager internalError: database unavailable (3 attempts)",
			wantReqs: 3, wantTasks: -1,
		},
		{
			name:     "502 gateway page: HTML with its title, retried",
			fault:    &taskstest.Fault{Status: 502, ContentType: "text/html", Body: gateway},
			want:     &acronis.APIError{StatusCode: 502, ContentType: "text/html", HTML: true, Message: "502 Bad Gateway"},
			wantText: "GET /tasks: 502 Bad Gateway (text/html): 502 Bad Gateway (3 attempts)",
			wantReqs: 3, wantTasks: -1,
		},
		{
			name:     "one 503, then the list",
			fault:    &taskstest.Fault{Status: 503, Times: 1},
			wantReqs: 1 + 3, wantTasks: 5,
		},
		{
			name:     "two 502s, then the list",
			fault:    &taskstest.Fault{Status: 502, ContentType: "text/html", Body: gateway, Times: 2},
			wantReqs: 2 + 3, wantTasks: 5,
		},
		{
			name:     "403: final at once",
			fault:    &taskstest.Fault{Status: 403, ContentType: "application/json", Body: `{"domain":"TaskManager","code":"forbidden","reason":"forbidden"}`},
			want:     &acronis.APIError{StatusCode: 403, ContentType: "application/json", Domain: "TaskManager", Code: "forbidden"},
			wantText: "GET /tasks: 403 Forbidden: TaskManager forbidden",
			wantReqs: 1, wantTasks: -1,
		},
		{
			name:     "400 domainError: final, message from debug.msg",
			fault:    &taskstest.Fault{Status: 400, ContentType: "application/json", Body: tmError},
			want:     &acronis.APIError{StatusCode: 400, ContentType: "application/json", Domain: "TaskManager", Code: "badRequest", Message: "unknown task state"},
			wantText: "GET /tasks: 400 Bad Request: TaskManager badRequest: unknown task state",
			wantReqs: 1, wantTasks: -1,
		},
		{
			name:     "unknown state refused by the server itself",
			q:        tasks.Query{States: []tasks.State{"pausd"}},
			want:     &acronis.APIError{StatusCode: 400, ContentType: "application/json", Domain: "TaskManager", Code: "badRequest", Message: "unknown task state"},
			wantText: "GET /tasks: 400 Bad Request: TaskManager badRequest: unknown task state",
			wantReqs: 1, wantTasks: -1,
		},
		{
			name:     "platform error with a numeric code",
			fault:    &taskstest.Fault{Status: 409, ContentType: "application/json", Body: platform},
			want:     &acronis.APIError{StatusCode: 409, ContentType: "application/json", Domain: "PlatformAccountServer", Code: "1006", Message: "It is prohibited to delete a non-disabled tenant."},
			wantText: "GET /tasks: 409 Conflict: PlatformAccountServer 1006: It is prohibited to delete a non-disabled tenant.",
			wantReqs: 1, wantTasks: -1,
		},
		{
			name:  "200 with truncated JSON: an error naming path and content type, not retried",
			fault: &taskstest.Fault{Status: 200, ContentType: "application/json", Body: `{"items":[{"id":944455285181775872,"sta`},
			check: func(t *testing.T, err error) {
				var se *json.SyntaxError
				if !errors.As(err, &se) {
					t.Errorf("err = %v, want a *json.SyntaxError in the chain", err)
				}
				for _, w := range []string{"GET /tasks", "200 OK", "application/json"} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err %q lacks %q", err, w)
					}
				}
			},
			wantReqs: 1, wantTasks: -1,
		},
		{
			name:    "answer slower than the timeout: retried, then a timeout",
			fault:   &taskstest.Fault{Delay: 2 * time.Second},
			timeout: 100 * time.Millisecond,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, acronis.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, want ErrTimeout and context.DeadlineExceeded", err)
				}
				if want := "GET /tasks: timed out after 100ms (3 attempts)"; err.Error() != want {
					t.Errorf("err = %q, want %q", err, want)
				}
			},
			wantReqs: 3, wantTasks: -1,
		},
		{
			name:     "one slow answer, then the list",
			fault:    &taskstest.Fault{Delay: 2 * time.Second, Times: 1},
			timeout:  100 * time.Millisecond,
			wantReqs: 1 + 3, wantTasks: 5,
		},
		{
			name:     "page 2 fails after page 1: no partial result",
			fault:    &taskstest.Fault{Status: 500, ContentType: "application/json", Body: internal, AfterPages: 1},
			want:     &acronis.APIError{StatusCode: 500, ContentType: "application/json", Domain: "TaskManager", Code: "internalError", Message: "database unavailable"},
			wantText: "page 2: GET /tasks: 500 Internal Server Error: TaskManager internalError: database unavailable (3 attempts)",
			wantReqs: 4, wantTasks: -1,
		},
		{
			name:     "page 3 gets a final 400: no partial result",
			fault:    &taskstest.Fault{Status: 400, ContentType: "application/json", Body: tmError, AfterPages: 2},
			want:     &acronis.APIError{StatusCode: 400, ContentType: "application/json", Domain: "TaskManager", Code: "badRequest", Message: "unknown task state"},
			wantText: "page 3: GET /tasks: 400 Bad Request: TaskManager badRequest: unknown task state",
			wantReqs: 3, wantTasks: -1,
		},
		{
			name:     "page 2 hiccups once: the whole list",
			fault:    &taskstest.Fault{Status: 502, ContentType: "text/html", Body: gateway, AfterPages: 1, Times: 1},
			wantReqs: 3 + 1, wantTasks: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t)
			s.SetPageSizeCap(2) // 5 tasks: 3 pages
			addN(s, 5, tasks.Started)
			if tt.fault != nil {
				s.Fail(*tt.fault)
			}
			c := newClient(t, s, func(c *acronis.Config) {
				if tt.timeout > 0 {
					c.Timeout = tt.timeout
				}
			})
			res, err := c.List(context.Background(), tt.q)
			if got := s.TaskRequests(); got != tt.wantReqs {
				t.Errorf("server saw %d list requests, want %d", got, tt.wantReqs)
			}
			if tt.wantTasks >= 0 {
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				if len(res.Tasks) != tt.wantTasks {
					t.Errorf("got %d tasks, want %d", len(res.Tasks), tt.wantTasks)
				}
				return
			}
			if err == nil || res != nil {
				t.Fatalf("List = %v, %v; want no result and an error", res, err)
			}
			if tt.wantText != "" && err.Error() != tt.wantText {
				t.Errorf("err = %q\nwant  %q", err, tt.wantText)
			}
			if tt.want != nil {
				var ae *acronis.APIError
				if !errors.As(err, &ae) {
					t.Fatalf("err = %v, want an *APIError", err)
				}
				got := acronis.APIError{StatusCode: ae.StatusCode, ContentType: ae.ContentType, Domain: ae.Domain, Code: ae.Code, Message: ae.Message, HTML: ae.HTML}
				if got != *tt.want {
					t.Errorf("APIError = %+v\nwant       %+v", got, *tt.want)
				}
				if ae.Method != "GET" || ae.Path != "/tasks" || ae.Body == "" {
					t.Errorf("Method %q Path %q Body %q, want GET /tasks and the body", ae.Method, ae.Path, ae.Body)
				}
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	addN(s, 1, tasks.Started)
	s.Fail(taskstest.Fault{Status: 429, Header: http.Header{"Retry-After": {"1"}}, Times: 1})
	c := newClient(t, s) // RetryBase 1ms: only Retry-After can make it wait a second
	start := time.Now()
	res, err := c.List(context.Background(), tasks.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Errorf("List took %v, want about the 1s Retry-After", d)
	}
	if len(res.Tasks) != 1 || s.TaskRequests() != 2 {
		t.Errorf("%d tasks after %d requests, want 1 after 2", len(res.Tasks), s.TaskRequests())
	}
}

func TestCancelledContextStopsRetrying(t *testing.T) {
	s := newServer(t)
	s.Fail(taskstest.Fault{Status: 503})
	c := newClient(t, s, func(c *acronis.Config) { c.RetryBase = time.Minute; c.Retries = 5 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.List(ctx, tasks.Query{})
	var ae *acronis.APIError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ae) || ae.StatusCode != 503 {
		t.Errorf("err = %v, want the 503 and the context's deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("List took %v after its context ended", d)
	}
	if s.TaskRequests() != 1 {
		t.Errorf("list requests = %d, want 1", s.TaskRequests())
	}
}

func TestLogsCarryNoSecrets(t *testing.T) {
	s := newServer(t)
	addN(s, 1, tasks.Started)
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newClient(t, s, func(c *acronis.Config) { c.Logger = logger })
	s.Fail(taskstest.Fault{Status: 500, Times: 1})
	if _, err := c.List(context.Background(), tasks.Query{}); err != nil {
		t.Fatal(err)
	}
	s.RevokeTokens()
	if _, err := c.List(context.Background(), tasks.Query{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "retrying") || !strings.Contains(out, "access token rejected") {
		t.Errorf("log lacks the retry and the token renewal:\n%s", out)
	}
	if strings.Contains(out, s.ClientSecret) || regexp.MustCompile(`[0-9a-f]{64}`).MatchString(out) || strings.Contains(out, "Bearer") {
		t.Errorf("log contains a secret or token:\n%s", out)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestNewClientValidatesTheConfig(t *testing.T) {
	ok := acronis.Config{BaseURL: "https://eu2-cloud.acronis.com", ClientID: "id", ClientSecret: "s3cr3t"}
	tests := []struct {
		name    string
		mod     func(*acronis.Config)
		wantErr []string // substrings; nil means valid
	}{
		{"valid", func(*acronis.Config) {}, nil},
		{"valid with trailing slash and http", func(c *acronis.Config) { c.BaseURL = "http://localhost:8080/" }, nil},
		{"empty URL", func(c *acronis.Config) { c.BaseURL = "  " }, []string{"BaseURL is empty"}},
		{"no scheme", func(c *acronis.Config) { c.BaseURL = "eu2-cloud.acronis.com" }, []string{"must start with https://"}},
		{"ftp", func(c *acronis.Config) { c.BaseURL = "ftp://eu2-cloud.acronis.com" }, []string{"must start with https://"}},
		{"no host", func(c *acronis.Config) { c.BaseURL = "https:///api" }, []string{"has no host"}},
		{"credentials in the URL", func(c *acronis.Config) { c.BaseURL = "https://u:p@eu2-cloud.acronis.com" }, []string{"user information"}},
		{"query", func(c *acronis.Config) { c.BaseURL = "https://eu2-cloud.acronis.com/?x=1" }, []string{"query or fragment"}},
		{"everything missing at once", func(c *acronis.Config) { *c = acronis.Config{Timeout: -1} },
			[]string{"BaseURL is empty", "ClientID is empty", "ClientSecret is empty", "Timeout -1ns is negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			c, err := acronis.NewClient(cfg)
			if tt.wantErr == nil {
				if err != nil || c == nil {
					t.Fatalf("NewClient = %v, %v; want a client", c, err)
				}
				return
			}
			if err == nil {
				t.Fatal("NewClient accepted the config")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), ":p@") {
				t.Errorf("err %q shows a secret", err)
			}
		})
	}
}

func TestClientUsesTheBasePathPrefix(t *testing.T) {
	s := newServer(t)
	addN(s, 1, tasks.Started)
	// A BaseURL with a trailing slash reaches the same endpoints.
	c := newClient(t, s, func(c *acronis.Config) { c.BaseURL = s.URL + "/" })
	res, err := c.List(context.Background(), tasks.Query{})
	if err != nil || len(res.Tasks) != 1 {
		t.Fatalf("List = %v, %v", res, err)
	}
}
