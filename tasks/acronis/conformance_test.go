package acronis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// conformance is an http.RoundTripper that checks every request the client sends, and every
// answer it receives, against the published OpenAPI documents: the Task Manager API v2 for
// /api/task_manager/v2/… and the token operation of the Account Management excerpt for
// /api/2/idp/token.
type conformance struct {
	next        http.RoundTripper
	api, idp    routers.Router
	tokenSchema *openapi3.Schema

	mu       sync.Mutex
	checked  map[string]int // "GET /tasks 200" → count
	problems []string
}

// bearerPresent stands in for the oauth2 security scheme: the request must carry a bearer token.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, tok, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return in.NewError(errors.New("no bearer token"))
	}
	return nil
}

func newConformance(t *testing.T, baseURL string) *conformance {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("../../testdata/acronis/task-manager-v2.openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if doc.Servers[0].URL != "https://dev-cloud.acronis.com/api/task_manager/v2" {
		t.Fatalf("unexpected server in the document: %s", doc.Servers[0].URL)
	}
	// Route the fake's URL: the document's own server is Acronis's dev cloud.
	doc.Servers = openapi3.Servers{{URL: baseURL + acronis.APIPath}}
	api, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}

	// The Account Management excerpt holds one operation and its schemas; made a document of
	// its own, it checks the token request (form body, Basic header) and answer.
	var excerpt map[string]any
	if err := json.Unmarshal(readFixture(t, "idp-token.excerpt.json"), &excerpt); err != nil {
		t.Fatal(err)
	}
	rawToken, _ := json.Marshal(excerpt["components"].(map[string]any)["schemas"].(map[string]any)["token"])
	tokenSchema := openapi3.NewSchema()
	if err := json.Unmarshal(rawToken, tokenSchema); err != nil {
		t.Fatal(err)
	}
	// The published pattern of the Basic header, ^Basic [0-9a-zA-Z\-\._~+/]*=$, demands exactly
	// one "=" of padding, which rejects two base64 encodings in three (RFC 7617 credentials end
	// in "", "=" or "=="). Allow all three; the rest of the operation is checked as published.
	authParam := excerpt["paths"].(map[string]any)["/idp/token"].(map[string]any)["post"].(map[string]any)["parameters"].([]any)[0].(map[string]any)
	if authParam["name"] != "Authorization" {
		t.Fatalf("excerpt changed: first parameter is %v", authParam["name"])
	}
	authParam["schema"].(map[string]any)["pattern"] = `^Basic [0-9a-zA-Z\-\._~+/]*={0,2}$`
	delete(excerpt, "source")
	excerpt["openapi"] = "3.0.3"
	excerpt["info"] = map[string]any{"title": "Account Management (excerpt)", "version": "2"}
	excerpt["servers"] = []any{map[string]any{"url": baseURL + "/api/2"}}
	idpJSON, _ := json.Marshal(excerpt)
	idpDoc, err := openapi3.NewLoader().LoadFromData(idpJSON)
	if err != nil {
		t.Fatal(err)
	}
	idp, err := gorillamux.NewRouter(idpDoc)
	if err != nil {
		t.Fatal(err)
	}
	return &conformance{
		next:        http.DefaultTransport,
		api:         api,
		idp:         idp,
		tokenSchema: tokenSchema,
		checked:     map[string]int{},
	}
}

func (c *conformance) problem(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

func (c *conformance) RoundTrip(req *http.Request) (*http.Response, error) {
	router := c.api
	if strings.HasPrefix(req.URL.Path, "/api/2/") {
		router = c.idp
	}
	op := req.Method + " " + req.URL.Path
	// Validation reads the body: keep a copy for the real request.
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	vreq := req.Clone(req.Context())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	req.Body = io.NopCloser(bytes.NewReader(reqBody))

	route, params, err := router.FindRoute(vreq)
	if err != nil {
		c.problem("%s: no route in the document: %v", op, err)
		return c.next.RoundTrip(req)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: bearerPresent, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		c.problem("request %s?%s: %v", op, req.URL.RawQuery, err)
	}
	c.checkRepeated(op, route, req)

	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	rin := (&openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true, ExcludeResponseBody: false},
	}).SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), rin); err != nil {
		c.problem("answer %d to %s?%s: %v\n%s", resp.StatusCode, op, req.URL.RawQuery, err, body)
	}
	if router == c.idp && resp.StatusCode == http.StatusOK {
		// The token answer once more, against the bare "token" schema, plus what taskbot
		// relies on: expires_on present, expires_in absent (as Acronis often answers).
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			c.problem("token answer is not JSON: %v", err)
		} else {
			if err := c.tokenSchema.VisitJSON(v); err != nil {
				c.problem("token answer violates the token schema: %v", err)
			}
			if _, ok := v["expires_on"]; !ok {
				c.problem("token answer has no expires_on: %s", body)
			}
			if _, ok := v["expires_in"]; ok {
				c.problem("token answer has expires_in, which the fake is meant to leave out: %s", body)
			}
		}
	}
	c.mu.Lock()
	c.checked[fmt.Sprintf("%s %s %d", req.Method, route.Path, resp.StatusCode)]++
	c.mu.Unlock()
	return resp, nil
}

// checkRepeated validates every value of a repeated query key. The document declares the
// filters that "accept multiple entries" (state, uuid, type …) with a scalar schema, and
// openapi3filter then checks only the first value of state=started&state=paused.
func (c *conformance) checkRepeated(op string, route *routers.Route, req *http.Request) {
	values := req.URL.Query()
	for _, ref := range route.Operation.Parameters {
		p := ref.Value
		if p.In != openapi3.ParameterInQuery || p.Schema == nil || len(values[p.Name]) < 2 {
			continue
		}
		for _, raw := range values[p.Name] {
			var v any = raw
			if p.Schema.Value.Type.Is(openapi3.TypeInteger) {
				n, err := strconv.ParseInt(raw, 10, 64)
				if err != nil {
					c.problem("request %s: parameter %q value %q is not an integer", op, p.Name, raw)
					continue
				}
				v = float64(n)
			}
			if err := p.Schema.Value.VisitJSON(v); err != nil {
				c.problem("request %s: parameter %q value %q: %v", op, p.Name, raw, err)
			}
		}
	}
}

func TestClientAndServerConformToTheOpenAPIDocument(t *testing.T) {
	for _, style := range []taskstest.CursorStyle{taskstest.CursorsInPaging, taskstest.CursorsTopLevel} {
		t.Run(fmt.Sprintf("cursor style %d", style), func(t *testing.T) {
			s := newServer(t)
			s.SetCursorStyle(style)
			s.SetPageSizeCap(3)
			rnd := rand.New(rand.NewPCG(7, 7))
			seeded := s.Seed(rnd)
			for range 12 {
				s.Step(rnd)
			}
			// A task with every optional part, to exercise the schema's nested objects.
			full := s.Add(tasks.Task{
				State:    tasks.Started,
				Type:     "MachineBackup",
				Executor: &tasks.Actor{ID: "agent-1", ClusterID: "cluster-1"},
				Affinity: &tasks.Affinity{AgentID: "agent-1"},
				Tags:     []string{"nightly"},
				Progress: &tasks.Progress{Total: 100, Current: 42, BytesProcessed: 1 << 30, ProcessingSpeed: 1.5e6, LeftTime: "1h25m43s",
					Bottleneck: &tasks.Bottleneck{Source: 20, Destination: 30, Processing: 50}},
				Blockers: []tasks.Blocker{{ID: 1, TaskID: 2, Tenant: tasks.Tenant{ID: "1496265", UUID: "8d7a4b1e-0c1f-4b5e-9a1d-3c2b1a0f9e8d"},
					Issue: tasks.Message{Key: "disk.full", Context: map[string]any{"volume": "D:"}}}},
				Argument:    json.RawMessage(`{"plan":"Daily"}`),
				ExecTimeout: "1h",
			})
			failed, err := s.SetState(seeded[0].UUID, tasks.Completed, tasks.ResultError)
			if err != nil {
				t.Fatal(err)
			}

			check := newConformance(t, s.URL)
			c := newClient(t, s, func(c *acronis.Config) { c.Transport = check })
			ctx := context.Background()
			queries := []tasks.Query{
				{},
				{States: []tasks.State{tasks.Started, tasks.Paused}, Limit: 2},
				{States: []tasks.State{tasks.Completed}, ResultCodes: []tasks.ResultCode{tasks.ResultError, tasks.ResultOK}},
				{Types: []string{"MachineBackup", "ArchiveReplication"}, Order: tasks.Order{Field: "enqueuedAt", Desc: true}},
				{UpdatedAfter: seeded[2].UpdatedAt, Order: tasks.Order{Field: "updatedAt"}, Limit: 4},
				{CompletedAfter: time.Unix(0, 0), Order: tasks.Order{Field: "completedAt"}},
				{UUIDs: []string{full.UUID, failed.UUID}},
			}
			pages := 0
			for _, q := range queries {
				res, err := c.List(ctx, q)
				if err != nil {
					t.Fatalf("List(%+v): %v", q, err)
				}
				pages += res.Pages
			}
			for _, key := range []string{full.UUID, failed.IDString} {
				if _, err := c.Task(ctx, key); err != nil {
					t.Fatalf("Task(%s): %v", key, err)
				}
			}
			if _, err := c.Task(ctx, "944455285181779999"); err == nil {
				t.Fatal("Task of a missing id succeeded")
			}

			for _, p := range check.problems {
				t.Error(p)
			}
			want := map[string]int{
				"GET /tasks 200":           pages,
				"GET /tasks/{task-id} 200": 2,
				"GET /tasks/{task-id} 404": 1,
				"POST /idp/token 200":      1,
			}
			if fmt.Sprint(check.checked) != fmt.Sprint(want) {
				t.Errorf("validated exchanges %v, want %v", check.checked, want)
			}
			if pages < 12 {
				t.Errorf("only %d pages validated; the scenario should page", pages)
			}
		})
	}
}

// TestConformanceCheckerCatchesViolations makes sure the checker is not vacuous: answers that
// break the document are reported.
func TestConformanceCheckerCatchesViolations(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		match string
	}{
		{"task without assignCount", `{"items":[{"id":1,"state":"started","issuer":{"id":""},"cancelRequested":false,"enqueuedAt":"2020-04-22T10:00:00Z","updatedAt":"2020-04-22T10:00:00Z"}]}`, "assignCount"},
		{"unknown state", `{"items":[{"id":1,"state":"running","issuer":{"id":""},"cancelRequested":false,"enqueuedAt":"x","updatedAt":"x","assignCount":0}]}`, "state"},
		{"items missing", `{"size":0}`, "items"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t)
			s.Fail(taskstest.Fault{Status: 200, ContentType: "application/json", Body: tt.body})
			check := newConformance(t, s.URL)
			c := newClient(t, s, func(c *acronis.Config) { c.Transport = check })
			_, _ = c.List(context.Background(), tasks.Query{})
			if len(check.problems) == 0 || !strings.Contains(strings.Join(check.problems, "\n"), tt.match) {
				t.Errorf("problems = %q, want one about %q", check.problems, tt.match)
			}
		})
	}
}

func TestConformanceOfRefusals(t *testing.T) {
	t.Run("a bad second value of a repeated key is flagged", func(t *testing.T) {
		s := newServer(t)
		check := newConformance(t, s.URL)
		c := newClient(t, s, func(c *acronis.Config) { c.Transport = check })
		_, _ = c.List(context.Background(), tasks.Query{States: []tasks.State{tasks.Started, "pausd"}, UUIDs: []string{"38045860-8901-426e-b51f-fc6d24d1cbe0", "not-a-uuid"}})
		got := strings.Join(check.problems, "\n")
		if !strings.Contains(got, `parameter "state" value "pausd"`) || !strings.Contains(got, `parameter "uuid" value "not-a-uuid"`) {
			t.Errorf("problems = %q, want the second state and the second uuid", check.problems)
		}
	})
	t.Run("wrong credentials: the tokenError answer conforms", func(t *testing.T) {
		s := newServer(t)
		check := newConformance(t, s.URL)
		c := newClient(t, s, func(c *acronis.Config) { c.Transport = check; c.ClientSecret = "wrong" })
		if err := c.Token(context.Background()); err == nil {
			t.Fatal("Token succeeded with a wrong secret")
		}
		if len(check.problems) > 0 {
			t.Errorf("problems: %q", check.problems)
		}
		if want := map[string]int{"POST /idp/token 401": 1}; fmt.Sprint(check.checked) != fmt.Sprint(want) {
			t.Errorf("validated exchanges %v, want %v", check.checked, want)
		}
	})
	t.Run("a state outside the enum is flagged in the request, the 400 answer conforms", func(t *testing.T) {
		s := newServer(t)
		check := newConformance(t, s.URL)
		c := newClient(t, s, func(c *acronis.Config) { c.Transport = check })
		_, err := c.List(context.Background(), tasks.Query{States: []tasks.State{"pausd"}})
		var ae *acronis.APIError
		if !errors.As(err, &ae) || ae.StatusCode != 400 {
			t.Fatalf("err = %v, want a 400", err)
		}
		if len(check.problems) != 1 || !strings.Contains(check.problems[0], `parameter "state"`) {
			t.Errorf("problems = %q, want exactly the request's state parameter", check.problems)
		}
		if want := map[string]int{"GET /tasks 400": 1, "POST /idp/token 200": 1}; fmt.Sprint(check.checked) != fmt.Sprint(want) {
			t.Errorf("validated exchanges %v, want %v", check.checked, want)
		}
	})
}
