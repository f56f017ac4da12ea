package taskstest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func newServer(t *testing.T) *taskstest.Server {
	t.Helper()
	s := taskstest.NewServer()
	t.Cleanup(s.Close)
	return s
}

// answer is one raw HTTP exchange's outcome.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v\n%s", a.status, err, a.body)
	}
	return m
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, body}
}

// requestToken asks the token endpoint with the given credentials, as x/oauth2 does with
// AuthStyleInHeader (id and secret URL-encoded inside HTTP Basic).
func requestToken(t *testing.T, s *taskstest.Server, id, secret, grant string) answer {
	t.Helper()
	form := url.Values{"grant_type": {grant}}
	req, _ := http.NewRequest(http.MethodPost, s.URL+taskstest.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" || secret != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return do(t, req)
}

func token(t *testing.T, s *taskstest.Server) string {
	t.Helper()
	a := requestToken(t, s, s.ClientID, s.ClientSecret, "client_credentials")
	if a.status != 200 {
		t.Fatalf("token: %d %s", a.status, a.body)
	}
	return a.json(t)["access_token"].(string)
}

func get(t *testing.T, s *taskstest.Server, tok, pathAndQuery string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+pathAndQuery, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return do(t, req)
}

// listIDs GETs the list with query and returns the ids of its items and the next cursor.
func listIDs(t *testing.T, s *taskstest.Server, tok, query string) ([]int64, string) {
	t.Helper()
	a := get(t, s, tok, taskstest.TasksPath+"?"+query)
	if a.status != 200 {
		t.Fatalf("GET ?%s: %d %s", query, a.status, a.body)
	}
	var page struct {
		Items  []tasks.Task `json:"items"`
		Size   int          `json:"size"`
		Paging struct {
			Cursors struct{ After string } `json:"cursors"`
		} `json:"paging"`
		Cursors struct{ After string } `json:"cursors"`
	}
	if err := json.Unmarshal(a.body, &page); err != nil {
		t.Fatal(err)
	}
	if page.Size != len(page.Items) {
		t.Errorf("size %d for %d items", page.Size, len(page.Items))
	}
	ids := []int64{}
	for _, it := range page.Items {
		ids = append(ids, it.ID)
	}
	return ids, page.Paging.Cursors.After + page.Cursors.After
}

func TestAddFillsWhatTheServerOwns(t *testing.T) {
	s := newServer(t)
	before := time.Now()
	first := s.Add(tasks.Task{})
	second := s.Add(tasks.Task{UUID: "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69", Tenant: &tasks.Tenant{ID: "1496300", Name: "Customer B GmbH"}})
	third := s.Add(tasks.Task{Tenant: &tasks.Tenant{ID: "1496300"}, State: tasks.Started, Priority: "high"})
	done := s.Add(tasks.Task{State: tasks.Completed})

	if first.ID != taskstest.FirstID || second.ID != taskstest.FirstID+1 || done.ID != taskstest.FirstID+3 {
		t.Errorf("ids %d %d %d, want %d counting up", first.ID, second.ID, done.ID, taskstest.FirstID)
	}
	if first.IDString != "944455285181775872" {
		t.Errorf("IDString = %q", first.IDString)
	}
	if !uuidV4.MatchString(first.UUID) || !uuidV4.MatchString(first.Tenant.UUID) {
		t.Errorf("UUIDs %q / tenant %q are not random v4 UUIDs", first.UUID, first.Tenant.UUID)
	}
	if first.State != tasks.Enqueued || first.Priority != "normal" || first.Queue != "backup" || first.Type != "MachineBackup" || first.Issuer.ID == "" {
		t.Errorf("defaults: state %q priority %q queue %q type %q issuer %q", first.State, first.Priority, first.Queue, first.Type, first.Issuer.ID)
	}
	if first.EnqueuedAt.Before(before) || !first.UpdatedAt.Equal(first.EnqueuedAt) || first.AssignCount != 0 || !first.StartedAt.IsZero() {
		t.Errorf("times: enqueued %v updated %v started %v, assignCount %d", first.EnqueuedAt, first.UpdatedAt, first.StartedAt, first.AssignCount)
	}
	if second.UUID != "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69" || second.Tenant.Name != "Customer B GmbH" {
		t.Errorf("given UUID or tenant not kept: %q %+v", second.UUID, second.Tenant)
	}
	if third.Tenant.UUID != second.Tenant.UUID {
		t.Errorf("tenant 1496300 got two UUIDs: %q and %q", second.Tenant.UUID, third.Tenant.UUID)
	}
	if third.AssignCount != 1 || third.AssignedAt.IsZero() || third.StartedAt.IsZero() || third.Priority != "high" {
		t.Errorf("started task: assignCount %d assignedAt %v startedAt %v priority %q", third.AssignCount, third.AssignedAt, third.StartedAt, third.Priority)
	}
	if done.ResultCode() != tasks.ResultOK || done.CompletedAt.IsZero() {
		t.Errorf("completed task: result %q completedAt %v", done.ResultCode(), done.CompletedAt)
	}
	if !(first.UpdatedAt.Before(second.UpdatedAt) && second.UpdatedAt.Before(third.UpdatedAt)) {
		t.Errorf("UpdatedAt not increasing: %v %v %v", first.UpdatedAt, second.UpdatedAt, third.UpdatedAt)
	}
	// The stored copy is the returned one, and changing the returned copy changes nothing.
	third.Context = map[string]any{"title": "changed"}
	if got, ok := s.Task(third.UUID); !ok || got.Title() == "changed" || got.ID != third.ID {
		t.Errorf("Task(%s) = %+v, %v", third.UUID, got, ok)
	}
	if got := s.Tasks(); len(got) != 4 || got[0].ID != first.ID || got[3].ID != done.ID {
		t.Errorf("Tasks() = %d tasks, want 4 ordered by id", len(got))
	}
}

func TestAddPanicsOnInvalidState(t *testing.T) {
	s := newServer(t)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), `invalid state "running"`) {
			t.Errorf("recover() = %v, want a panic naming the state", r)
		}
	}()
	s.Add(tasks.Task{State: "running"})
}

func TestSetStateWalksTheLifecycle(t *testing.T) {
	s := newServer(t)
	tk := s.Add(tasks.Task{})
	steps := []struct {
		st          tasks.State
		code        tasks.ResultCode
		wantResult  tasks.ResultCode
		wantAssigns int
	}{
		{tasks.Assigned, "", "", 1},
		{tasks.Started, "", "", 1},
		{tasks.Paused, "", "", 1},
		{tasks.Started, "", "", 1},
		{tasks.Completed, "", tasks.ResultOK, 1},
		{tasks.Enqueued, "", "", 1},
		{tasks.Assigned, "", "", 2},
		{tasks.Completed, tasks.ResultError, tasks.ResultError, 2},
		{tasks.Started, tasks.ResultWarning, tasks.ResultWarning, 2},
	}
	prev := tk
	var firstStart time.Time
	for i, st := range steps {
		got, err := s.SetState(tk.IDString, st.st, st.code)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got.State != st.st || got.ResultCode() != st.wantResult || got.AssignCount != st.wantAssigns {
			t.Errorf("step %d (%s %q): state %s result %q assignCount %d, want %s %q %d",
				i, st.st, st.code, got.State, got.ResultCode(), got.AssignCount, st.st, st.wantResult, st.wantAssigns)
		}
		if !got.UpdatedAt.After(prev.UpdatedAt) {
			t.Errorf("step %d: UpdatedAt %v not after %v", i, got.UpdatedAt, prev.UpdatedAt)
		}
		if st.st == tasks.Started && firstStart.IsZero() {
			firstStart = got.StartedAt
		}
		if st.st == tasks.Completed && !got.CompletedAt.Equal(got.UpdatedAt) {
			t.Errorf("step %d: CompletedAt %v, want the transition's stamp %v", i, got.CompletedAt, got.UpdatedAt)
		}
		if st.wantResult == tasks.ResultError && (got.Result.Error == nil || got.Result.Error.Domain == "" || got.Result.Error.Code == "") {
			t.Errorf("step %d: failed result without a domainError: %+v", i, got.Result)
		}
		prev = got
	}
	if !prev.StartedAt.Equal(firstStart) {
		t.Errorf("StartedAt moved on resume: %v, first start %v", prev.StartedAt, firstStart)
	}

	errTests := []struct {
		name string
		key  string
		st   tasks.State
		code tasks.ResultCode
		want string
	}{
		{"unknown key", "nope", tasks.Started, "", "no such task"},
		{"invalid state", tk.UUID, "running", "", `invalid state "running"`},
		{"invalid result code", tk.UUID, tasks.Completed, "fine", `invalid result code "fine"`},
	}
	for _, tt := range errTests {
		_, err := s.SetState(tt.key, tt.st, tt.code)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := s.SetState("nope", tasks.Started, ""); !errors.Is(err, taskstest.ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
}

func TestUpdatedAtIsStrictlyIncreasingEvenWhenTheClockStands(t *testing.T) {
	s := newServer(t)
	a, b := s.Add(tasks.Task{}), s.Add(tasks.Task{})
	last := b.UpdatedAt
	for i := range 2000 {
		key := a.UUID
		if i%2 == 1 {
			key = b.UUID
		}
		got, err := s.SetState(key, tasks.States[i%4], "")
		if err != nil {
			t.Fatal(err)
		}
		if !got.UpdatedAt.After(last) {
			t.Fatalf("write %d: UpdatedAt %v not after %v", i, got.UpdatedAt, last)
		}
		last = got.UpdatedAt
	}
}

func TestTokenEndpoint(t *testing.T) {
	s := newServer(t)
	tokenErrorFixture, err := os.ReadFile("../../testdata/acronis/token-error.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		id, secret string
		grant      string
		wantStatus int
		wantBody   string // exact JSON, "" to skip
	}{
		{"right credentials", s.ClientID, s.ClientSecret, "client_credentials", 200, ""},
		{"wrong secret", s.ClientID, "guess", "client_credentials", 401, string(tokenErrorFixture)},
		{"wrong id", "someone", s.ClientSecret, "client_credentials", 401, string(tokenErrorFixture)},
		{"no credentials", "", "", "client_credentials", 401, string(tokenErrorFixture)},
		{"other grant", s.ClientID, s.ClientSecret, "password", 400, `{"error":"invalid_request","error_description":"unsupported grant_type \"password\""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := requestToken(t, s, tt.id, tt.secret, tt.grant)
			if a.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", a.status, tt.wantStatus, a.body)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.wantBody != "" {
				var got, want any
				json.Unmarshal(a.body, &got)
				json.Unmarshal([]byte(tt.wantBody), &want)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("body %s, want %s", a.body, tt.wantBody)
				}
			}
		})
	}

	t.Run("answer shape: expires_on, no expires_in", func(t *testing.T) {
		s.SetTokenTTL(90 * time.Second)
		defer s.SetTokenTTL(0)
		now := time.Now()
		m := requestToken(t, s, s.ClientID, s.ClientSecret, "client_credentials").json(t)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range m {
				if !yield(k) {
					return
				}
			}
		})
		if want := []string{"access_token", "expires_on", "id_token", "token_type"}; !slices.Equal(keys, want) {
			t.Errorf("keys %v, want %v", keys, want)
		}
		on, _ := m["expires_on"].(float64)
		if lo, hi := float64(now.Add(90*time.Second).Unix()), float64(now.Add(92*time.Second).Unix()); on < lo || on > hi {
			t.Errorf("expires_on %v, want now+90s rounded up (%v…%v)", on, lo, hi)
		}
		if m["token_type"] != "bearer" || m["access_token"] == "" {
			t.Errorf("token_type %v access_token %v", m["token_type"], m["access_token"])
		}
	})

	t.Run("GET is not allowed", func(t *testing.T) {
		if a := get(t, s, "", taskstest.TokenPath); a.status != http.StatusMethodNotAllowed {
			t.Errorf("status %d, want 405", a.status)
		}
	})
}

func TestBearerTokens(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.Add(tasks.Task{})
	s.SetTokenTTL(time.Second)
	short := token(t, s)
	s.SetTokenTTL(0)
	long := token(t, s)

	for _, tc := range []struct {
		name, tok  string
		wantStatus int
		wantMsg    string
	}{
		{"no token", "", 401, "missing bearer token"},
		{"made-up token", "abc", 401, "unknown or revoked access token"},
		{"fresh short token", short, 200, ""},
		{"long token", long, 200, ""},
	} {
		a := get(t, s, tc.tok, taskstest.TasksPath)
		if a.status != tc.wantStatus {
			t.Errorf("%s: status %d, want %d", tc.name, a.status, tc.wantStatus)
		}
		if tc.wantMsg != "" {
			m := a.json(t)
			if m["domain"] != "TaskManager" || m["code"] != "unauthorized" || m["debug"].(map[string]any)["msg"] != tc.wantMsg {
				t.Errorf("%s: body %s", tc.name, a.body)
			}
			if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: WWW-Authenticate %q", tc.name, a.header.Get("WWW-Authenticate"))
			}
		}
	}

	time.Sleep(2100 * time.Millisecond) // the 1s token (rounded up to a whole second) has expired
	if a := get(t, s, short, taskstest.TasksPath); a.status != 401 || !strings.Contains(string(a.body), "access token expired") {
		t.Errorf("expired token: %d %s", a.status, a.body)
	}
	if a := get(t, s, long, taskstest.TasksPath); a.status != 200 {
		t.Errorf("long token: %d", a.status)
	}
	s.RevokeTokens()
	if a := get(t, s, long, taskstest.TasksPath); a.status != 401 || !strings.Contains(string(a.body), "revoked") {
		t.Errorf("revoked token: %d %s", a.status, a.body)
	}
}

func TestListFiltersAndOrder(t *testing.T) {
	s := newServer(t)
	enq := s.Add(tasks.Task{Type: "MachineBackup"})
	started := s.Add(tasks.Task{State: tasks.Started, Type: "MachineBackup"})
	paused := s.Add(tasks.Task{State: tasks.Paused, Type: "ArchiveReplication", Queue: "replication", Priority: "low"})
	okT := s.Add(tasks.Task{State: tasks.Started, Type: "ArchiveReplication"})
	failed := s.Add(tasks.Task{State: tasks.Started})
	okT, _ = s.SetState(okT.UUID, tasks.Completed, "")
	failed, _ = s.SetState(failed.UUID, tasks.Completed, tasks.ResultError)
	started, _ = s.SetState(started.UUID, tasks.Started, "") // now the most recently updated but one
	tok := token(t, s)

	rfc := func(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339Nano)) }
	tests := []struct {
		name  string
		query string
		want  []int64
	}{
		{"everything by id", "", []int64{enq.ID, started.ID, paused.ID, okT.ID, failed.ID}},
		{"repeated state ORs", "state=started&state=paused", []int64{started.ID, paused.ID}},
		{"different keys AND", "state=started&state=paused&type=ArchiveReplication", []int64{paused.ID}},
		{"result code", "resultCode=error", []int64{failed.ID}},
		{"completed with result ok or error", "state=completed&resultCode=ok&resultCode=error", []int64{okT.ID, failed.ID}},
		{"ids", fmt.Sprintf("id=%d&id=%d", failed.ID, enq.ID), []int64{enq.ID, failed.ID}},
		{"uuid", "uuid=" + paused.UUID, []int64{paused.ID}},
		{"queue and priority", "queue=replication&priority=low", []int64{paused.ID}},
		{"updatedAt gt, RFC 3339 with nanoseconds", "updatedAt=gt(" + rfc(okT.UpdatedAt) + ")", []int64{started.ID, failed.ID}},
		{"updatedAt gt, Unix seconds", fmt.Sprintf("updatedAt=gt(%d)", enq.UpdatedAt.Unix()-1), []int64{enq.ID, started.ID, paused.ID, okT.ID, failed.ID}},
		{"updatedAt gt, Unix nanoseconds", fmt.Sprintf("updatedAt=gt(%dns)", failed.UpdatedAt.UnixNano()), []int64{started.ID}},
		{"completedAt gt: tasks without completion never match", "completedAt=gt(" + rfc(okT.CompletedAt) + ")", []int64{failed.ID}},
		{"updatedAt lt", "updatedAt=lt(" + rfc(started.UpdatedAt) + ")&order=desc(updatedAt)", []int64{failed.ID, okT.ID, paused.ID, enq.ID}},
		{"order asc(updatedAt)", "order=asc(updatedAt)", []int64{enq.ID, paused.ID, okT.ID, failed.ID, started.ID}},
		{"order desc(id)", "order=desc(id)", []int64{failed.ID, okT.ID, paused.ID, started.ID, enq.ID}},
		{"order asc(completedAt): absent first, ties by id", "order=asc(completedAt)", []int64{enq.ID, started.ID, paused.ID, okT.ID, failed.ID}},
		{"order desc(completedAt)", "order=desc(completedAt)", []int64{failed.ID, okT.ID, paused.ID, started.ID, enq.ID}},
		{"lod and allow_deleted are accepted", "lod=full&allow_deleted=false&state=enqueued", []int64{enq.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next := listIDs(t, s, tok, tt.query)
			if !slices.Equal(got, tt.want) {
				t.Errorf("ids %v, want %v", got, tt.want)
			}
			if next != "" {
				t.Errorf("cursor %q on the only page", next)
			}
		})
	}
}

func TestListRefusesBadQueries(t *testing.T) {
	s := newServer(t)
	s.Add(tasks.Task{})
	tok := token(t, s)
	_, cursor := func() ([]int64, string) {
		s.Add(tasks.Task{})
		return listIDs(t, s, tok, "limit=1")
	}()
	fixture, err := os.ReadFile("../../testdata/acronis/error-task-manager.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, query string
		wantParam   string
		wantMsg     string
	}{
		{"unknown state", "state=pausd", "state", "unknown task state"},
		{"unknown result code", "resultCode=fine", "resultCode", "unknown result code"},
		{"unknown priority", "priority=urgent", "priority", "unknown priority"},
		{"id not a number", "id=abc", "id", "id must be an integer"},
		{"time filter without operator", "updatedAt=2020-04-22T11:00:00Z", "updatedAt", "a time filter reads gt(T) or lt(T)"},
		{"time filter with a bad time", "updatedAt=gt(yesterday)", "updatedAt", `invalid time: "yesterday" is neither RFC 3339 nor Unix time`},
		{"two time filters of one field", "updatedAt=gt(1)&updatedAt=gt(2)", "updatedAt", "a time filter accepts a single entry"},
		{"order by an unsupported field", "order=asc(title)", "order", "taskstest orders only by id, enqueuedAt, assignedAt, startedAt, updatedAt or completedAt"},
		{"order without direction", "order=updatedAt", "order", "order reads asc(field) or desc(field)"},
		{"zero limit", "limit=0", "limit", "limit must be one positive integer"},
		{"limit not a number", "limit=ten", "limit", "limit must be one positive integer"},
		{"after without limit", "after=" + cursor, "after", "after can be used only with the limit query string parameter"},
		{"garbage cursor", "limit=1&after=xyz", "after", "invalid page cursor"},
		{"a filter beside the cursor", "limit=1&state=enqueued&after=" + cursor, "state", "after can be used only with the limit query string parameter"},
		{"an order beside the cursor", "limit=1&order=desc(id)&after=" + cursor, "order", "after can be used only with the limit query string parameter"},
		{"unsupported filter", "tag=nightly", "tag", `query parameter "tag" is not supported by taskstest`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(t, s, tok, taskstest.TasksPath+"?"+tt.query)
			if a.status != 400 {
				t.Fatalf("status %d, want 400: %s", a.status, a.body)
			}
			m := a.json(t)
			ctx, _ := m["context"].(map[string]any)
			dbg, _ := m["debug"].(map[string]any)
			if m["domain"] != "TaskManager" || m["code"] != "badRequest" || m["reason"] != "badRequest" || ctx["param"] != tt.wantParam || dbg["msg"] != tt.wantMsg {
				t.Errorf("body %s, want param %q msg %q", a.body, tt.wantParam, tt.wantMsg)
			}
		})
	}
	t.Run("the unknown-state answer is the fixture", func(t *testing.T) {
		a := get(t, s, tok, taskstest.TasksPath+"?state=pausd")
		var got, want any
		json.Unmarshal(a.body, &got)
		json.Unmarshal(fixture, &want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("body %s, want %s", a.body, fixture)
		}
	})
}

func TestListPaging(t *testing.T) {
	tests := []struct {
		name      string
		style     taskstest.CursorStyle
		cap       int
		query     string
		tasks     int
		wantSizes []int
	}{
		{"limit 3 of 8, cursor under paging", taskstest.CursorsInPaging, 0, "limit=3", 8, []int{3, 3, 2}},
		{"limit 3 of 8, top-level cursor", taskstest.CursorsTopLevel, 0, "limit=3", 8, []int{3, 3, 2}},
		{"exact multiple: no empty last page", taskstest.CursorsInPaging, 0, "limit=4", 8, []int{4, 4}},
		{"server cap beats limit", taskstest.CursorsInPaging, 2, "limit=100", 5, []int{2, 2, 1}},
		{"default limit is 100", taskstest.CursorsInPaging, 0, "", 105, []int{100, 5}},
		{"empty", taskstest.CursorsTopLevel, 0, "limit=5", 0, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			s.SetCursorStyle(tt.style)
			s.SetPageSizeCap(tt.cap)
			var want []int64
			for range tt.tasks {
				want = append(want, s.Add(tasks.Task{}).ID)
			}
			tok := token(t, s)
			var got []int64
			var sizes []int
			query := tt.query
			for page := 0; ; page++ {
				a := get(t, s, tok, taskstest.TasksPath+"?"+query)
				if a.status != 200 {
					t.Fatalf("page %d: %d %s", page, a.status, a.body)
				}
				m := a.json(t)
				_, hasPaging := m["paging"]
				_, hasTop := m["cursors"]
				if hasPaging != (tt.style == taskstest.CursorsInPaging) || hasTop != (tt.style == taskstest.CursorsTopLevel) {
					t.Errorf("page %d: paging %v, top-level cursors %v for style %d", page, hasPaging, hasTop, tt.style)
				}
				if ts, _ := m["timeStamp"].(string); ts == "" {
					t.Errorf("page %d: no timeStamp", page)
				}
				ids, next := listIDs(t, s, tok, query)
				got = append(got, ids...)
				sizes = append(sizes, len(ids))
				if next == "" {
					break
				}
				q, _ := url.ParseQuery(tt.query)
				if !q.Has("limit") {
					q.Set("limit", "100")
				}
				q.Set("after", next)
				query = q.Encode()
			}
			if !slices.Equal(got, want) {
				t.Errorf("ids %v, want %v", got, want)
			}
			if !slices.Equal(sizes, tt.wantSizes) {
				t.Errorf("page sizes %v, want %v", sizes, tt.wantSizes)
			}
		})
	}
}

// TestListPagingIsKeyset: tasks updated while a client pages through asc(updatedAt) move to the
// end; no task still waiting on a later page is skipped.
func TestListPagingIsKeyset(t *testing.T) {
	s := newServer(t)
	var all []tasks.Task
	for range 9 {
		all = append(all, s.Add(tasks.Task{State: tasks.Started}))
	}
	tok := token(t, s)
	seen := map[int64]int{}
	ids, next := listIDs(t, s, tok, "order=asc(updatedAt)&limit=3")
	for _, id := range ids {
		seen[id]++
	}
	// Two tasks of page 1 change: with offset paging, page 2 would now start two tasks late.
	s.SetState(all[0].UUID, tasks.Paused, "")
	s.SetState(all[1].UUID, tasks.Paused, "")
	for next != "" {
		ids, next = listIDs(t, s, tok, "limit=3&after="+url.QueryEscape(next))
		for _, id := range ids {
			seen[id]++
		}
	}
	for _, tk := range all {
		if seen[tk.ID] == 0 {
			t.Errorf("task %d skipped", tk.ID)
		}
	}
	if seen[all[0].ID] != 2 || seen[all[1].ID] != 2 {
		t.Errorf("the changed tasks were seen %d and %d times, want 2 (before and after the change)", seen[all[0].ID], seen[all[1].ID])
	}
}

func TestGetTask(t *testing.T) {
	s := newServer(t)
	tk := s.Add(tasks.Task{State: tasks.Paused, Context: map[string]any{"title": "Backup plan 'Daily' on SQL-01"}})
	tok := token(t, s)
	for _, key := range []string{tk.UUID, tk.IDString} {
		a := get(t, s, tok, taskstest.TasksPath+"/"+key)
		var got tasks.Task
		if err := json.Unmarshal(a.body, &got); err != nil || a.status != 200 {
			t.Fatalf("GET %s: %d %v %s", key, a.status, err, a.body)
		}
		if got.ID != tk.ID || got.Title() != tk.Title() || got.Tenant == nil || got.Tenant.UUID == "" {
			t.Errorf("GET %s = %+v", key, got)
		}
	}
	a := get(t, s, tok, taskstest.TasksPath+"/944455285181779999")
	m := a.json(t)
	if a.status != 404 || m["code"] != "notFound" || m["context"].(map[string]any)["id"] != "944455285181779999" {
		t.Errorf("missing task: %d %s", a.status, a.body)
	}
	if a := get(t, s, "", taskstest.TasksPath+"/"+tk.UUID); a.status != 401 {
		t.Errorf("without token: %d", a.status)
	}
}

func TestDeleteForgetsTheTask(t *testing.T) {
	s := newServer(t)
	gone := s.Add(tasks.Task{State: tasks.Started})
	kept := s.Add(tasks.Task{State: tasks.Started})
	if err := s.Delete(gone.UUID); err != nil {
		t.Fatal(err)
	}
	tok := token(t, s)
	if ids, _ := listIDs(t, s, tok, "state=started&limit=10"); len(ids) != 1 || ids[0] != kept.ID {
		t.Errorf("list after Delete = %v, want only %d", ids, kept.ID)
	}
	if a := get(t, s, tok, taskstest.TasksPath+"/"+gone.UUID); a.status != 404 {
		t.Errorf("GET of a deleted task: %d %s", a.status, a.body)
	}
	if err := s.Delete(gone.UUID); !errors.Is(err, taskstest.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
}

func TestFaults(t *testing.T) {
	t.Run("Times, then normal answers", func(t *testing.T) {
		s := newServer(t)
		tok := token(t, s)
		s.Fail(taskstest.Fault{Status: 500, ContentType: "text/plain", Body: "boom", Times: 2})
		var statuses []int
		for range 3 {
			statuses = append(statuses, get(t, s, tok, taskstest.TasksPath).status)
		}
		if !slices.Equal(statuses, []int{500, 500, 200}) {
			t.Errorf("statuses %v, want [500 500 200]", statuses)
		}
	})
	t.Run("AfterPages lets pages through first; ClearFaults ends it", func(t *testing.T) {
		s := newServer(t)
		tok := token(t, s)
		s.Fail(taskstest.Fault{Status: 502, AfterPages: 2})
		var statuses []int
		for range 4 {
			statuses = append(statuses, get(t, s, tok, taskstest.TasksPath).status)
		}
		s.ClearFaults()
		statuses = append(statuses, get(t, s, tok, taskstest.TasksPath).status)
		if !slices.Equal(statuses, []int{200, 200, 502, 502, 200}) {
			t.Errorf("statuses %v, want [200 200 502 502 200]", statuses)
		}
	})
	t.Run("headers, content type and body as given, before authentication", func(t *testing.T) {
		s := newServer(t)
		s.Fail(taskstest.Fault{Status: 429, Header: http.Header{"Retry-After": {"3"}}, Body: "slow down"})
		a := get(t, s, "", taskstest.TasksPath)
		if a.status != 429 || a.header.Get("Retry-After") != "3" || string(a.body) != "slow down" || a.header.Get("Content-Type") != "" {
			t.Errorf("got %d %v %q", a.status, a.header, a.body)
		}
	})
	t.Run("the token path", func(t *testing.T) {
		s := newServer(t)
		s.Fail(taskstest.Fault{Path: taskstest.TokenPath, Status: 503, ContentType: "text/html", Body: "<title>down</title>", Times: 1})
		if a := requestToken(t, s, s.ClientID, s.ClientSecret, "client_credentials"); a.status != 503 || a.header.Get("Content-Type") != "text/html" {
			t.Errorf("first token request: %d %q", a.status, a.header.Get("Content-Type"))
		}
		token(t, s)
		if s.TokenRequests() != 2 || s.TaskRequests() != 0 {
			t.Errorf("counts: token %d tasks %d", s.TokenRequests(), s.TaskRequests())
		}
	})
	t.Run("a pure delay answers normally, late", func(t *testing.T) {
		s := newServer(t)
		tok := token(t, s)
		s.Fail(taskstest.Fault{Delay: 150 * time.Millisecond, Times: 1})
		start := time.Now()
		a := get(t, s, tok, taskstest.TasksPath)
		if d := time.Since(start); a.status != 200 || d < 150*time.Millisecond {
			t.Errorf("status %d after %v, want 200 after ≥150ms", a.status, d)
		}
	})
	t.Run("Until holds the answer until it is closed", func(t *testing.T) {
		s := newServer(t)
		tok := token(t, s)
		gate := make(chan struct{})
		s.Fail(taskstest.Fault{Until: gate, Times: 1})
		got := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest(http.MethodGet, s.URL+taskstest.TasksPath, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				got <- -1
				return
			}
			resp.Body.Close()
			got <- resp.StatusCode
		}()
		waitFor(t, "the held request", func() bool { return s.TaskRequests() == 1 })
		// Another request passes (Times: 1): the server is not stalled, only that answer.
		if a := get(t, s, tok, taskstest.TasksPath); a.status != 200 {
			t.Fatalf("a second request: %d", a.status)
		}
		select {
		case code := <-got:
			t.Fatalf("the held request was answered (%d) before the gate opened", code)
		default:
		}
		close(gate)
		if code := <-got; code != 200 {
			t.Errorf("after the gate opened: %d, want 200", code)
		}
	})
	t.Run("Close cuts a delay short", func(t *testing.T) {
		s := taskstest.NewServer()
		s.Fail(taskstest.Fault{Delay: time.Minute})
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, err := http.Get(s.URL + taskstest.TasksPath)
			if err == nil {
				resp.Body.Close()
			}
		}()
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		s.Close()
		<-done
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Close took %v with a request delayed for a minute", d)
		}
	})
}

func TestRequestLogKeepsNoSecrets(t *testing.T) {
	s := newServer(t)
	tok := token(t, s)
	get(t, s, tok, taskstest.TasksPath+"?state=started&limit=5")
	get(t, s, tok, taskstest.TasksPath+"/1")
	get(t, s, "", "/elsewhere")
	reqs := s.Requests()
	want := []taskstest.Request{
		{Method: "POST", Path: taskstest.TokenPath, AuthScheme: "Basic"},
		{Method: "GET", Path: taskstest.TasksPath, RawQuery: "state=started&limit=5", AuthScheme: "Bearer"},
		{Method: "GET", Path: taskstest.TasksPath + "/1", AuthScheme: "Bearer"},
		{Method: "GET", Path: "/elsewhere"},
	}
	if len(reqs) != len(want) {
		t.Fatalf("%d requests logged, want %d", len(reqs), len(want))
	}
	for i := range want {
		got := reqs[i]
		if got.Time.IsZero() || time.Since(got.Time) > time.Minute {
			t.Errorf("request %d: Time %v", i, got.Time)
		}
		got.Time = time.Time{}
		if got != want[i] {
			t.Errorf("request %d = %+v, want %+v", i, got, want[i])
		}
		if strings.Contains(fmt.Sprint(got), tok) || strings.Contains(fmt.Sprint(got), s.ClientSecret) {
			t.Errorf("request %d keeps a secret", i)
		}
	}
	if s.TaskRequests() != 1 || s.TokenRequests() != 1 {
		t.Errorf("TaskRequests %d TokenRequests %d, want 1 and 1 (GET /tasks/{id} is not a list)", s.TaskRequests(), s.TokenRequests())
	}
}

func TestTasksSatisfyTheSingleTaskSchemaRequirements(t *testing.T) {
	// task_1 (GET /tasks/{id}) requires tenant{id,uuid}, queue, type, priority and assignCount;
	// a task added bare must still carry them on the wire.
	s := newServer(t)
	tk := s.Add(tasks.Task{})
	a := get(t, s, token(t, s), taskstest.TasksPath+"/"+tk.UUID)
	m := a.json(t)
	for _, k := range []string{"state", "tenant", "queue", "id", "issuer", "cancelRequested", "enqueuedAt", "updatedAt", "type", "assignCount", "priority"} {
		if _, ok := m[k]; !ok {
			t.Errorf("answer lacks %q: %s", k, a.body)
		}
	}
	if ten, _ := m["tenant"].(map[string]any); ten["id"] == "" || ten["uuid"] == "" {
		t.Errorf("tenant %v lacks id or uuid", m["tenant"])
	}
	if !bytes.Contains(a.body, []byte(`"id":`+strconv.FormatInt(tk.ID, 10)+`,`)) {
		t.Errorf("id not sent as an exact integer: %s", a.body)
	}
}

func TestSimulateRunsUntilCancelled(t *testing.T) {
	s := newServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	s.Simulate(ctx, 10*time.Millisecond, newRand(1))
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("Simulate returned after %v, want when its context ended (150ms)", d)
	}
	if n := len(s.Tasks()); n <= 8 {
		t.Errorf("%d tasks after several ticks, want more than the 8 seeded", n)
	}
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
