package acronis_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// The real Task Manager API departs from its OpenAPI document; public clients of it (Zabbix's
// template, a Prometheus exporter, Acronis's samples) cope with what follows. Each test injects
// the quirk into the fake over HTTP and checks what the client makes of it.

// logRecord is one log record with its attributes as strings.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// logRecorder is a slog.Handler that keeps every record at any level.
type logRecorder struct {
	mu      *sync.Mutex
	records *[]logRecord
	attrs   []slog.Attr
}

func newLogRecorder() *logRecorder {
	return &logRecorder{mu: &sync.Mutex{}, records: &[]logRecord{}}
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, rec)
	return nil
}

func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(slices.Clip(h.attrs), as...)
	return &c
}

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

// warnings are the WARN records so far.
func (h *logRecorder) warnings() []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range *h.records {
		if r.level == slog.LevelWarn {
			out = append(out, r)
		}
	}
	return out
}

// withLogger sets the client's logger.
func withLogger(h slog.Handler) func(*acronis.Config) {
	return func(c *acronis.Config) { c.Logger = slog.New(h) }
}

func TestMalformedItemsAreSkippedAndTheRestOfThePageKept(t *testing.T) {
	s := newServer(t)
	added := addN(s, 3, tasks.Started)
	const (
		badID   = "38045860-8901-426e-b51f-fc6d24d1cbe0"
		badTime = "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69"
		goodRaw = "0b7e3c4d-1111-4a2b-8c3d-9e8f7a6b5c4d"
	)
	s.SetRawItems(
		`{"id":"abc","uuid":"`+badID+`","state":"started"}`,
		`{"id":944455285181770001,"uuid":"`+badTime+`","state":"completed","completedAt":12}`,
		`{"id":944455285181770002,"state":5}`,
		`{"id":944455285181770004,"uuid":"0b7e3c4d-4444-4a2b-8c3d-9e8f7a6b5c4d","state":"weird","updatedAt":"2020-04-22T10:00:01Z"}`,
		// Empty and null times are absent times, not errors: this task is kept.
		`{"id":944455285181770003,"uuid":"`+goodRaw+`","state":"started","enqueuedAt":"2020-04-22T10:00:00Z","updatedAt":"2020-04-22T10:00:01Z","completedAt":"","startedAt":null,"issuer":{"id":"x"},"assignCount":1}`,
	)
	logs := newLogRecorder()
	c := newClient(t, s, withLogger(logs))
	res, err := c.List(context.Background(), tasks.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, tk := range res.Tasks {
		keys = append(keys, tk.Key())
	}
	want := []string{added[0].UUID, added[1].UUID, added[2].UUID, goodRaw}
	if !slices.Equal(keys, want) {
		t.Errorf("tasks %v, want %v", keys, want)
	}
	if res.Skipped != 4 {
		t.Errorf("Skipped = %d, want 4", res.Skipped)
	}
	if kept := res.Tasks[3]; !kept.CompletedAt.IsZero() || !kept.StartedAt.IsZero() || kept.State != tasks.Started {
		t.Errorf("kept task %+v, want no completedAt nor startedAt", kept)
	}
	type warning struct{ task, field string }
	var got []warning
	for _, w := range logs.warnings() {
		got = append(got, warning{w.attrs["task"], w.attrs["field"]})
	}
	if want := []warning{{badID, "id"}, {badTime, "completedAt"}, {"(no uuid)", "state"}, {"0b7e3c4d-4444-4a2b-8c3d-9e8f7a6b5c4d", "state"}}; !slices.Equal(got, want) {
		t.Errorf("warnings %v, want one per bad item %v", got, want)
	}
	// The same bad items on the next poll are skipped and counted again, but not logged again.
	res, err = c.List(context.Background(), tasks.Query{})
	if err != nil || res.Skipped != 4 {
		t.Fatalf("second list: Skipped %v, %v", res, err)
	}
	if n := len(logs.warnings()); n != 4 {
		t.Errorf("%d warnings after listing the same bad items twice, want 4", n)
	}
}

func TestTaskByKeyReadsEmptyTimesAsAbsent(t *testing.T) {
	s := newServer(t)
	const id = "944455285181770003"
	s.Fail(taskstest.Fault{Path: taskstest.TasksPath + "/" + id, Status: 200, ContentType: "application/json",
		Body: `{"id":` + id + `,"state":"started","enqueuedAt":"2020-04-22T10:00:00Z","updatedAt":"2020-04-22T10:00:01Z","startedAt":"","completedAt":null,"issuer":{"id":"x"},"assignCount":1}`})
	c := newClient(t, s)
	got, err := c.Task(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got.IDString != "" || got.Key() != id || !got.StartedAt.IsZero() || !got.CompletedAt.IsZero() || got.UpdatedAt.IsZero() {
		t.Errorf("task %+v, want id %s with startedAt and completedAt absent", got, id)
	}
}

func TestFiltersTheAPIIgnoresAreAppliedByTheClient(t *testing.T) {
	at := func(sec int) time.Time { return time.Date(2026, 12, 1, 10, 0, sec, 0, time.UTC) }
	tests := []struct {
		key  string
		q    func(all []tasks.Task) tasks.Query
		want func(all []tasks.Task) []tasks.Task
	}{
		{"state", func([]tasks.Task) tasks.Query { return tasks.Query{States: []tasks.State{tasks.Paused}} },
			func(all []tasks.Task) []tasks.Task { return all[1:2] }},
		{"resultCode", func([]tasks.Task) tasks.Query {
			return tasks.Query{ResultCodes: []tasks.ResultCode{tasks.ResultError}}
		}, func(all []tasks.Task) []tasks.Task { return all[3:4] }},
		{"type", func([]tasks.Task) tasks.Query { return tasks.Query{Types: []string{"ArchiveReplication"}} },
			func(all []tasks.Task) []tasks.Task { return all[1:2] }},
		{"uuid", func(all []tasks.Task) tasks.Query { return tasks.Query{UUIDs: []string{all[0].UUID, all[2].UUID}} },
			func(all []tasks.Task) []tasks.Task { return []tasks.Task{all[0], all[2]} }},
		{"updatedAt", func([]tasks.Task) tasks.Query { return tasks.Query{UpdatedAfter: at(2).Add(time.Millisecond)} },
			func(all []tasks.Task) []tasks.Task { return all[2:] }},
		{"completedAt", func([]tasks.Task) tasks.Query { return tasks.Query{CompletedAfter: at(3)} },
			func(all []tasks.Task) []tasks.Task { return all[3:4] }},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			s := newServer(t)
			s.SetPageSizeCap(2)
			all := []tasks.Task{
				s.Add(tasks.Task{State: tasks.Started, UpdatedAt: at(1)}),
				s.Add(tasks.Task{State: tasks.Paused, Type: "ArchiveReplication", UpdatedAt: at(2)}),
				s.Add(tasks.Task{State: tasks.Completed, UpdatedAt: at(3), CompletedAt: at(3)}),
				s.Add(tasks.Task{State: tasks.Completed, Result: &tasks.Result{Code: tasks.ResultError}, UpdatedAt: at(4), CompletedAt: at(4)}),
				s.Add(tasks.Task{State: tasks.Started, UpdatedAt: at(5)}),
			}
			s.IgnoreParams(tt.key)
			logs := newLogRecorder()
			c := newClient(t, s, withLogger(logs))
			q := tt.q(all)
			for range 3 { // warned once per Client, not per List
				res, err := c.List(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := ids(res.Tasks), ids(tt.want(all)); !slices.Equal(got, want) {
					t.Fatalf("ids = %v, want %v", got, want)
				}
				if res.Pages != 3 {
					t.Errorf("Pages = %d, want all 3 pages of the unfiltered answer", res.Pages)
				}
			}
			ws := logs.warnings()
			if len(ws) != 1 || ws[0].attrs["filter"] != tt.key {
				t.Errorf("warnings %+v, want one naming filter %q", ws, tt.key)
			}
			// The API did honour the filter in another client's answers: a new Client warns anew.
			other := newLogRecorder()
			if _, err := newClient(t, s, withLogger(other)).List(context.Background(), q); err != nil {
				t.Fatal(err)
			}
			if len(other.warnings()) != 1 {
				t.Errorf("second client: %d warnings, want 1", len(other.warnings()))
			}
		})
	}

	t.Run("a filter the API honours causes no warning", func(t *testing.T) {
		s := newServer(t)
		addN(s, 3, tasks.Started)
		s.Add(tasks.Task{State: tasks.Paused})
		logs := newLogRecorder()
		res, err := newClient(t, s, withLogger(logs)).List(context.Background(), tasks.Query{States: []tasks.State{tasks.Paused},
			UpdatedAfter: time.Now().Add(-time.Hour)})
		if err != nil || len(res.Tasks) != 1 {
			t.Fatalf("List = %v, %v; want the paused task", res, err)
		}
		if ws := logs.warnings(); len(ws) != 0 {
			t.Errorf("warnings %+v, want none", ws)
		}
	})
}

func TestAnOrderTheAPIIgnoresIsNotReliedOn(t *testing.T) {
	at := func(sec int) time.Time { return time.Date(2026, 12, 1, 10, 0, sec, 0, time.UTC) }
	s := newServer(t)
	s.SetPageSizeCap(2)
	var added []tasks.Task
	for i := range 5 {
		added = append(added, s.Add(tasks.Task{State: tasks.Started, UpdatedAt: at(i)}))
	}
	s.IgnoreParams("order")
	logs := newLogRecorder()
	c := newClient(t, s, withLogger(logs))
	q := tasks.Query{Order: tasks.Order{Field: "updatedAt", Desc: true}}
	for range 2 {
		res, err := c.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		// Every task, as the API sent them (ascending ids): the client neither drops nor sorts.
		if got, want := ids(res.Tasks), ids(added); !slices.Equal(got, want) {
			t.Errorf("ids = %v, want %v", got, want)
		}
	}
	ws := logs.warnings()
	if len(ws) != 1 || ws[0].attrs["order"] != "desc(updatedAt)" {
		t.Errorf("warnings %+v, want one naming the order desc(updatedAt)", ws)
	}

	// The same listing honoured by the API draws no warning.
	s.IgnoreParams()
	quiet := newLogRecorder()
	res, err := newClient(t, s, withLogger(quiet)).List(context.Background(), q)
	if err != nil || res.Tasks[0].ID != added[4].ID {
		t.Fatalf("List = %v, %v; want the newest first", res, err)
	}
	if ws := quiet.warnings(); len(ws) != 0 {
		t.Errorf("warnings %+v, want none", ws)
	}
}

func TestEmptyPagesWithACursor(t *testing.T) {
	tests := []struct {
		name      string
		empty     int
		wantTasks int
		wantPages int
		wantWarn  bool
	}{
		{"two empty pages are followed to the tasks", 2, 4, 2 + 2, false},
		{"three in a row end the list with what was collected", 5, 0, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			s.SetPageSizeCap(2)
			addN(s, 4, tasks.Started)
			s.SetEmptyPages(tt.empty)
			logs := newLogRecorder()
			c := newClient(t, s, withLogger(logs))
			res, err := c.List(context.Background(), tasks.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Tasks) != tt.wantTasks || res.Pages != tt.wantPages || s.TaskRequests() != tt.wantPages {
				t.Errorf("%d tasks in %d pages (%d requests), want %d in %d", len(res.Tasks), res.Pages, s.TaskRequests(), tt.wantTasks, tt.wantPages)
			}
			if ws := logs.warnings(); (len(ws) == 1) != tt.wantWarn || len(ws) > 1 {
				t.Errorf("warnings %+v, want %v one", ws, tt.wantWarn)
			}
		})
	}
}

func TestATimedOutPageIsRetriedWithAHalvedLimit(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		fault taskstest.Fault
		// want is each list request's limit, with "+after" when it carried a cursor.
		want []string
	}{
		{"slow first page: half the limit, kept for the next pages", 40, taskstest.Fault{Delay: time.Minute, Times: 1},
			[]string{"40", "20", "20+after"}},
		{"slow second page: its cursor with a smaller limit", 12, taskstest.Fault{Delay: time.Minute, Times: 1, AfterPages: 1},
			[]string{"12", "12+after", "10+after", "10+after"}},
		{"slow twice: halved twice", 100, taskstest.Fault{Delay: time.Minute, Times: 2},
			[]string{"100", "50", "25", "25+after"}},
		{"never below 10", 15, taskstest.Fault{Delay: time.Minute, Times: 2},
			[]string{"15", "10", "10", "10+after", "10+after"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t)
			added := addN(s, 30, tasks.Started)
			s.Fail(tt.fault)
			c := newClient(t, s, func(c *acronis.Config) { c.Timeout = 150 * time.Millisecond })
			res, err := c.List(context.Background(), tasks.Query{Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ids(res.Tasks), ids(added); !slices.Equal(got, want) {
				t.Errorf("ids = %v, want all 30 tasks", got)
			}
			var got []string
			for _, v := range listQueries(t, s) {
				l := v.Get("limit")
				if v.Has("after") {
					l += "+after"
				}
				got = append(got, l)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("limits sent %v, want %v", got, tt.want)
			}
		})
	}
}

func TestServerTimeIsTheDateOfTheLastAnswer(t *testing.T) {
	tests := []struct {
		name   string
		offset time.Duration
		noDate bool
	}{
		{"the server's clock agrees with ours", 0, false},
		{"the server's clock is 3 hours ahead", 3 * time.Hour, false},
		{"the server's clock is 3 hours behind", -3 * time.Hour, false},
		{"no Date header: zero", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			s.SetPageSizeCap(2)
			addN(s, 3, tasks.Started)
			s.SetClockOffset(tt.offset)
			s.SetDateHeader(!tt.noDate)
			before := time.Now().Add(tt.offset).Truncate(time.Second)
			res, err := newClient(t, s).List(context.Background(), tasks.Query{})
			after := time.Now().Add(tt.offset)
			if err != nil {
				t.Fatal(err)
			}
			if res.Pages != 2 {
				t.Fatalf("Pages = %d, want 2", res.Pages)
			}
			switch {
			case tt.noDate && !res.ServerTime.IsZero():
				t.Errorf("ServerTime = %v, want zero without a Date header", res.ServerTime)
			case !tt.noDate && (res.ServerTime.Before(before) || res.ServerTime.After(after)):
				t.Errorf("ServerTime = %v, want the server's clock, between %v and %v", res.ServerTime, before, after)
			}
		})
	}
}

func TestIsNotFound(t *testing.T) {
	const missing = "944455285181779999"
	tests := []struct {
		name  string
		fault *taskstest.Fault
		key   string
		want  bool
	}{
		{"a task the API does not know", nil, missing, true},
		{"by UUID", nil, "38045860-8901-426e-b51f-fc6d24d1cbe0", true},
		{"a web server's 404 page: the API was not reached", &taskstest.Fault{Path: taskstest.TasksPath + "/" + missing, Status: 404,
			ContentType: "text/html", Body: "<html><title>404 Not Found</title></html>"}, missing, false},
		{"a 500", &taskstest.Fault{Path: taskstest.TasksPath + "/" + missing, Status: 500}, missing, false},
		{"the token endpoint not found", &taskstest.Fault{Path: taskstest.TokenPath, Status: 404,
			ContentType: "application/json", Body: `{"error":"not_found","error_description":"no such endpoint"}`}, missing, false},
		{"a key of the wrong shape", nil, "../tasks", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			if tt.fault != nil {
				s.Fail(*tt.fault)
			}
			_, err := newClient(t, s, func(c *acronis.Config) { c.Retries = -1 }).Task(context.Background(), tt.key)
			if err == nil {
				t.Fatal("Task succeeded")
			}
			if got := tasks.IsNotFound(err); got != tt.want {
				t.Errorf("IsNotFound(%v) = %v, want %v", err, got, tt.want)
			}
			var hs interface{ HTTPStatus() int }
			if tt.want && (!errors.As(err, &hs) || hs.HTTPStatus() != 404) {
				t.Errorf("err %v has no HTTPStatus 404", err)
			}
		})
	}
}

func TestASkewedClockCostsNoExtraTokens(t *testing.T) {
	tests := []struct {
		name      string
		offset    time.Duration // the server's clock minus the host's
		noDate    bool
		expiresIn bool
	}{
		{"host clock 3 hours ahead: expires_on read against the Date header", -3 * time.Hour, false, false},
		{"host clock 3 hours behind", 3 * time.Hour, false, false},
		{"host clock 3 hours ahead, no Date header: at most one token a minute", -3 * time.Hour, true, false},
		{"host clock 3 hours ahead, expires_in sent", -3 * time.Hour, false, true},
		{"clocks agree", 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			addN(s, 2, tasks.Started)
			s.SetClockOffset(tt.offset)
			s.SetDateHeader(!tt.noDate)
			s.SetTokenExpiresIn(tt.expiresIn)
			c := newClient(t, s, func(c *acronis.Config) { c.Retries = -1 })
			const calls = 30
			for i := range calls {
				var err error
				if i%3 == 2 {
					_, err = c.Task(context.Background(), "944455285181779999")
					if tasks.IsNotFound(err) {
						err = nil
					}
				} else {
					_, err = c.List(context.Background(), tasks.Query{})
				}
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if n := s.TokenRequests(); n != 1 {
				t.Errorf("%d token requests for %d API calls, want 1", n, calls)
			}
			if n := len(s.Requests()) - s.TokenRequests(); n != calls {
				t.Errorf("%d API requests for %d calls: some were refused", n, calls)
			}
		})
	}
}

func TestShortTokensAreRenewedBeforeTheyExpireOnASkewedServer(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	addN(s, 1, tasks.Started)
	// The server's clock runs 3 hours ahead: by the host's clock, expires_on lies 3 hours in
	// the future, but the token dies 2–3 seconds after it was issued.
	s.SetClockOffset(3 * time.Hour)
	s.SetTokenTTL(2 * time.Second)
	c := newClient(t, s, func(c *acronis.Config) { c.Retries = -1 }) // a 401 beyond the one refresh would surface
	deadline := time.Now().Add(4 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	lists := 0
	for time.Now().Before(deadline) {
		if _, err := c.List(context.Background(), tasks.Query{}); err != nil {
			t.Fatalf("list %d: %v", lists, err)
		}
		lists++
		<-tick.C
	}
	// Tokens live 2–3s on the server; read against its Date header, each is renewed before
	// it dies, so no list request is refused.
	if s.TaskRequests() != lists {
		t.Errorf("%d list requests for %d lists: tokens expired in use", s.TaskRequests(), lists)
	}
	if n := s.TokenRequests(); n < 2 || n > 6 {
		t.Errorf("TokenRequests = %d over 4s with 2s tokens, want 2…6", n)
	}
}

func TestTokenEndpointAnswersThatAreNotTokensExplainThemselves(t *testing.T) {
	const fixURL = "is ACRONIS_URL your data center's address, e.g. https://eu2-cloud.acronis.com?"
	tests := []struct {
		name     string
		fault    taskstest.Fault
		wantText string
		wantWhat string
	}{
		{"404 JSON", taskstest.Fault{Status: 404, ContentType: "application/json", Body: `{"error":"not_found","error_description":"no route"}`},
			"token: 404 not_found: no route", "the Acronis sign-in endpoint was not found"},
		{"404 page of a web server", taskstest.Fault{Status: 404, ContentType: "text/html", Body: "<html><head><title>Page not found</title></head></html>"},
			"token: 404 Not Found (text/html): Page not found", "the Acronis sign-in endpoint was not found"},
		{"200 HTML sign-in page of a proxy", taskstest.Fault{Status: 200, ContentType: "text/html; charset=utf-8", Body: "<!DOCTYPE html><html><head><title>Sign in</title></head><body>…</body></html>"},
			"token: 200 OK (text/html): not a token: Sign in", "the Acronis sign-in endpoint answered with a web page, not a token"},
		{"200 HTML without a content type", taskstest.Fault{Status: 200, Body: "<html><title>Welcome to nginx!</title></html>"},
			"token: 200 OK (html): not a token: Welcome to nginx!", "the Acronis sign-in endpoint answered with a web page, not a token"},
		{"200 plain text", taskstest.Fault{Status: 200, ContentType: "text/plain", Body: "OK\n"},
			"token: 200 OK (text/plain): not a token: no access_token", "the Acronis sign-in endpoint answered with something that is not a token"},
		{"200 JSON without access_token", taskstest.Fault{Status: 200, ContentType: "application/json", Body: `{"status":"ok"}`},
			"token: 200 OK (application/json): not a token: no access_token", "the Acronis sign-in endpoint answered with something that is not a token"},
		{"200 truncated JSON", taskstest.Fault{Status: 200, ContentType: "application/json", Body: `{"access_token":"abc`},
			"token: 200 OK (application/json): not a token: not JSON", "the Acronis sign-in endpoint answered with something that is not a token"},
		{"200 empty", taskstest.Fault{Status: 200, ContentType: "application/json"},
			"token: 200 OK (application/json): not a token: empty answer", "the Acronis sign-in endpoint answered with something that is not a token"},
		{"403 page of a firewall", taskstest.Fault{Status: 403, ContentType: "text/html", Body: "<html><title>Access blocked</title></html>"},
			"token: 403 Forbidden (text/html): Access blocked", "the Acronis sign-in endpoint answered with a web page, not as the Acronis sign-in service does"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			addN(s, 1, tasks.Started)
			f := tt.fault
			f.Path = taskstest.TokenPath
			s.Fail(f)
			c := newClient(t, s)
			_, err := c.List(context.Background(), tasks.Query{})
			var te *acronis.TokenError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v (%T), want a *TokenError", err, err)
			}
			if got := te.Error(); got != tt.wantText {
				t.Errorf("err = %q, want %q", got, tt.wantText)
			}
			if strings.Contains(err.Error(), "abc") {
				t.Errorf("err %q quotes the token of a mangled answer", err)
			}
			p, ok := tasks.Explain(err)
			if !ok || p.What != tt.wantWhat || p.Fix != fixURL {
				t.Errorf("Explain = %+v, %v; want What %q and Fix %q", p, ok, tt.wantWhat, fixURL)
			}
			if s.TokenRequests() != 1 || s.TaskRequests() != 0 {
				t.Errorf("%d token and %d list requests, want 1 and 0: such answers are final", s.TokenRequests(), s.TaskRequests())
			}
		})
	}
}
