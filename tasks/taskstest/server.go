// Package taskstest is an in-memory Acronis Task Manager API v2, served over real HTTP like
// net/http/httptest: the token endpoint (client credentials), GET /tasks with filters, ordering
// and cursor paging, and GET /tasks/{id}. Tests use it to drive acronis.Client through the whole
// protocol, with injected faults; `taskbot demo` runs it with a Simulator.
//
// What it speaks follows the published OpenAPI document (testdata/acronis/
// task-manager-v2.openapi.json) and the answers of the real API (testdata/acronis/*.json):
// task objects satisfy the "task" and "task_1" schemas (assignCount included), list answers are
// {"items","size","timeStamp","paging":{"cursors":{"after"}}}, errors are domainError objects,
// and tokens carry expires_on (Unix seconds) without expires_in, as Acronis sends them.
//
// Fault injects failed, slow or held answers (a latency knob: Delay; a gate: Until). The knobs in quirks.go reproduce where the real API
// departs from its document: malformed items (SetRawItems), filters or order not applied
// (IgnoreParams), empty pages that name a next one (SetEmptyPages), a server clock hours off
// the host's (SetClockOffset), no Date header (SetDateHeader) and expires_in in token answers
// (SetTokenExpiresIn). Every knob is off until set, so the defaults follow the document.
package taskstest

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// Paths the server answers, relative to Server.URL.
const (
	TokenPath = "/api/2/idp/token"                // POST: client-credentials token (Account Management v2)
	TasksPath = "/api/task_manager/v2" + "/tasks" // GET: list; GET TasksPath/{id}: one task
)

// FirstID is the id of the first task added to a Server; later ones count up from it. It
// exceeds 2^53 like real ids, so a client that decodes ids through float64 gets them wrong.
const FirstID int64 = 944455285181775872

// DefaultTokenTTL is the lifetime of tokens until SetTokenTTL changes it (Acronis: 2 hours).
const DefaultTokenTTL = 2 * time.Hour

// DefaultLimit is the page size when a request has no `limit`.
const DefaultLimit = 100

// ErrNotFound is returned by SetState for a key that names no task.
var ErrNotFound = errors.New("taskstest: no such task")

// Server is a running fake Task Manager. Its methods are safe for concurrent use with each other
// and with requests.
type Server struct {
	// URL is the base URL (acronis.Config.BaseURL), e.g. http://127.0.0.1:41234.
	URL string
	// ClientID and ClientSecret are the only credentials the token endpoint accepts.
	ClientID, ClientSecret string

	srv       *httptest.Server
	done      chan struct{} // closed by Close: ends injected delays
	closeOnce sync.Once

	mu           sync.Mutex
	tasks        map[int64]*tasks.Task
	index        *taskIndex // of tasks: every change of a task goes through it
	nextID       int64
	lastStamp    time.Time
	tenantUUIDs  map[string]string
	tokenTTL     time.Duration
	tokens       map[string]time.Time // access token → expiry (whole Unix seconds)
	faults       []*faultState
	requests     []Request
	taskRequests int
	tokenReqs    int
	pageCap      int
	cursorStyle  CursorStyle
	rawItems     []json.RawMessage // SetRawItems
	ignored      map[string]bool   // IgnoreParams
	emptyPages   int               // SetEmptyPages: empty answers still to send
	emptyCursors int64             // cursors of empty pages sent so far
	expiresIn    bool              // SetTokenExpiresIn
	held         map[string]bool   // uuids Step never moves (Seed's paused task)

	clockOffset atomic.Int64 // SetClockOffset, in nanoseconds
	noDate      atomic.Bool  // SetDateHeader(false)
}

// Request is one request the server received, for assertions. The Authorization header is
// reduced to its scheme ("Bearer", "Basic" or ""): credentials and tokens are never kept.
type Request struct {
	Method     string
	Path       string
	RawQuery   string
	AuthScheme string
	Time       time.Time
}

// CursorStyle says where list answers put the next page's cursor.
type CursorStyle int

const (
	// CursorsInPaging puts it in "paging":{"cursors":{"after":…}}, as the real API does.
	CursorsInPaging CursorStyle = iota
	// CursorsTopLevel puts it in a top-level "cursors":{"after":…}, as the OpenAPI document says.
	CursorsTopLevel
)

// maxRequestLog bounds the request log of a long-running demo; the counters stay exact.
const maxRequestLog = 10000

// NewServer starts a server with no tasks, random credentials and DefaultTokenTTL.
// Call Close when done.
func NewServer() *Server {
	s := &Server{
		ClientID:     randomUUID(),
		ClientSecret: randomHex(24),
		done:         make(chan struct{}),
		tasks:        map[int64]*tasks.Task{},
		index:        newTaskIndex(),
		nextID:       FirstID,
		tenantUUIDs:  map[string]string{},
		tokenTTL:     DefaultTokenTTL,
		tokens:       map[string]time.Time{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+TokenPath, s.serveToken)
	mux.HandleFunc("GET "+TasksPath, s.serveList)
	mux.HandleFunc("GET "+TasksPath+"/{id}", s.serveTask)
	s.srv = httptest.NewServer(s.front(mux))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down, cutting injected delays short, and waits for requests in flight.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// SetTokenTTL makes tokens issued from now on carry expires_on = now+d on the server's clock,
// rounded up to whole Unix seconds (so a 2s TTL lasts between 2 and 3 seconds), and no
// expires_in (see SetTokenExpiresIn). A request with an expired token gets 401. d <= 0 restores
// DefaultTokenTTL.
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		d = DefaultTokenTTL
	}
	s.tokenTTL = d
}

// RevokeTokens invalidates every token issued so far: requests carrying one get 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// SetPageSizeCap caps the page size at n whatever `limit` asks for, forcing paging in tests.
// n <= 0 removes the cap.
func (s *Server) SetPageSizeCap(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageCap = max(n, 0)
}

// SetCursorStyle chooses where list answers put the next page's cursor.
func (s *Server) SetCursorStyle(c CursorStyle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursorStyle = c
}

// Requests returns the log of every request received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// TaskRequests is the number of GET /api/task_manager/v2/tasks (list) requests received,
// failed and faulted ones included.
func (s *Server) TaskRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.taskRequests
}

// TokenRequests is the number of requests to the token endpoint, failed ones included.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReqs
}

// front logs and counts every request, sets the Date header from the server's clock, applies
// injected faults, then hands over to next.
func (s *Server) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.noDate.Load() {
			w.Header()["Date"] = nil // net/http adds none either
		} else {
			w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
		}
		f := s.admit(r)
		if f != nil {
			if f.Delay > 0 {
				t := time.NewTimer(f.Delay)
				select {
				case <-t.C:
				case <-r.Context().Done():
					t.Stop()
					return
				case <-s.done:
					t.Stop()
					return
				}
			}
			if f.Until != nil {
				select {
				case <-f.Until:
				case <-r.Context().Done():
					return
				case <-s.done:
					return
				}
			}
			if f.Status != 0 {
				writeFault(w, f)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// admit records r and returns the fault that applies to it, if any.
func (s *Server) admit(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if len(s.requests) >= maxRequestLog {
		s.requests = slices.Delete(s.requests, 0, maxRequestLog/2)
	}
	s.requests = append(s.requests, Request{
		Method:     r.Method,
		Path:       r.URL.Path,
		RawQuery:   r.URL.RawQuery,
		AuthScheme: scheme,
		Time:       time.Now(),
	})
	switch {
	case r.URL.Path == TasksPath && r.Method == http.MethodGet:
		s.taskRequests++
	case r.URL.Path == TokenPath:
		s.tokenReqs++
	}
	return s.matchFaultLocked(r.URL.Path)
}

// --- token endpoint ---

// tokenAnswer is the Acronis token answer (schema "token" of the Account Management API):
// expires_on in Unix seconds and, like the real service often does, no expires_in.
type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	IDToken     string `json:"id_token"`
	ExpiresOn   int64  `json:"expires_on"`
	ExpiresIn   int64  `json:"expires_in,omitempty"` // only after SetTokenExpiresIn(true)
}

// tokenError is the schema "tokenError".
type tokenError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// serveToken implements POST /api/2/idp/token for grant_type=client_credentials with the
// client authenticated by HTTP Basic (x/oauth2 AuthStyleInHeader: id and secret URL-encoded).
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, tokenError{"invalid_request", "malformed form body"})
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, tokenError{"invalid_request", fmt.Sprintf("unsupported grant_type %q", gt)})
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		ok = err1 == nil && err2 == nil
	}
	if !ok || id != s.ClientID || secret != s.ClientSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="idp"`)
		writeJSON(w, http.StatusUnauthorized, tokenError{"access_denied", "Invalid client credentials"})
		return
	}
	s.mu.Lock()
	now := s.now()
	expires := now.Add(s.tokenTTL)
	expiresOn := expires.Unix()
	if time.Unix(expiresOn, 0).Before(expires) {
		expiresOn++ // round up to a whole second
	}
	tok := randomHex(32)
	s.tokens[tok] = time.Unix(expiresOn, 0)
	var expiresIn int64
	if s.expiresIn {
		expiresIn = int64(s.tokenTTL / time.Second) // rounded down: the token lives at least that long
	}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, tokenAnswer{
		AccessToken: tok,
		TokenType:   "bearer",
		IDToken:     "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + randomHex(16) + ".taskstest",
		ExpiresOn:   expiresOn,
		ExpiresIn:   expiresIn,
	})
}

// authorized checks the bearer token of an API request, answering 401 when it is missing,
// unknown, revoked or expired.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	msg := "missing bearer token"
	if strings.EqualFold(scheme, "Bearer") && tok != "" {
		s.mu.Lock()
		exp, ok := s.tokens[tok]
		s.mu.Unlock()
		switch {
		case !ok:
			msg = "unknown or revoked access token"
		case !s.now().Before(exp):
			msg = "access token expired"
		default:
			return true
		}
	}
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeDomainError(w, http.StatusUnauthorized, "unauthorized", msg, nil)
	return false
}

// --- tasks ---

// Add stores a copy of t and returns it as stored. It fills what the server owns when t leaves
// it empty: ID (FirstID counting up; an existing ID replaces that task), IDString, UUID (random
// v4), EnqueuedAt and UpdatedAt (server clock, UpdatedAt strictly increasing), Issuer.ID, State
// (enqueued), Priority (normal), Queue (backup), Type (MachineBackup), a Tenant with its UUID,
// and what the state implies: AssignedAt and AssignCount ≥ 1 once assigned, StartedAt once
// started, CompletedAt and a result (ok) once completed. It panics on an invalid state or result
// code, which is a bug in the calling test.
func (s *Server) Add(t tasks.Task) tasks.Task {
	t = clone(t)
	if t.State == "" {
		t.State = tasks.Enqueued
	}
	if !t.State.Valid() {
		panic(fmt.Sprintf("taskstest: Add: invalid state %q", t.State))
	}
	if c := t.ResultCode(); c != "" && !c.Valid() {
		panic(fmt.Sprintf("taskstest: Add: invalid result code %q", c))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.ID == 0 {
		t.ID = s.nextID
	}
	if t.ID >= s.nextID {
		s.nextID = t.ID + 1
	}
	if t.IDString == "" {
		t.IDString = strconv.FormatInt(t.ID, 10)
	}
	if t.UUID == "" {
		t.UUID = randomUUID()
	}
	now := s.stampLocked(t.UpdatedAt)
	if t.EnqueuedAt.IsZero() {
		t.EnqueuedAt = now
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = now
	}
	if t.Issuer.ID == "" {
		t.Issuer.ID = "taskstest"
	}
	t.Priority = cmp.Or(t.Priority, "normal")
	t.Queue = cmp.Or(t.Queue, "backup")
	t.Type = cmp.Or(t.Type, "MachineBackup")
	if t.Tenant == nil {
		t.Tenant = &tasks.Tenant{ID: "1496265", Name: "Customer A Ltd", Locator: "/1/1496262/1496265/"}
	}
	if t.Tenant.UUID == "" {
		t.Tenant.UUID = s.tenantUUIDLocked(t.Tenant.ID)
	}
	if t.State != tasks.Enqueued {
		if t.AssignedAt.IsZero() {
			t.AssignedAt = t.EnqueuedAt
		}
		t.AssignCount = max(t.AssignCount, 1)
	}
	if (t.State == tasks.Started || t.State == tasks.Paused) && t.StartedAt.IsZero() {
		t.StartedAt = t.AssignedAt
	}
	if t.State == tasks.Completed {
		if t.CompletedAt.IsZero() {
			t.CompletedAt = t.UpdatedAt
		}
		if t.Result == nil {
			t.Result = &tasks.Result{Code: tasks.ResultOK}
		}
	}
	if old := s.tasks[t.ID]; old != nil {
		s.index.remove(old)
	}
	s.tasks[t.ID] = &t
	s.index.add(&t)
	return clone(t)
}

// SetState moves the task named by key (its UUID, idString or decimal id) to state st and
// returns it as stored. code "" leaves the task without a result, except that completed gets
// "ok"; "error" adds a DomainError to the result. It stamps the transition on the server clock:
// AssignedAt (and AssignCount+1) for assigned, StartedAt for the first start, CompletedAt for
// completed, and always UpdatedAt, strictly later than any earlier UpdatedAt of this server
// even when the clock has not moved. Errors: ErrNotFound, or an invalid state or result code.
func (s *Server) SetState(key string, st tasks.State, code tasks.ResultCode) (tasks.Task, error) {
	if !st.Valid() {
		return tasks.Task{}, fmt.Errorf("taskstest: SetState: invalid state %q", st)
	}
	if code != "" && !code.Valid() {
		return tasks.Task{}, fmt.Errorf("taskstest: SetState: invalid result code %q", code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookupLocked(key)
	if t == nil {
		return tasks.Task{}, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	s.index.remove(t)
	defer s.index.add(t)
	now := s.stampLocked(t.UpdatedAt)
	switch st {
	case tasks.Assigned:
		t.AssignedAt = now
		t.AssignCount++
		t.Executor = &tasks.Actor{ID: "taskstest-agent"}
	case tasks.Started, tasks.Paused:
		if t.AssignedAt.IsZero() {
			t.AssignedAt = now
			t.AssignCount = max(t.AssignCount, 1)
		}
		if t.StartedAt.IsZero() {
			t.StartedAt = now
		}
	case tasks.Completed:
		t.CompletedAt = now
		t.Cancellable = false
		if code == "" {
			code = tasks.ResultOK
		}
	}
	t.State = st
	t.Result = nil
	if code != "" {
		t.Result = &tasks.Result{Code: code}
		if code == tasks.ResultError {
			t.Result.Error = &tasks.DomainError{
				Domain:  "Backup",
				Code:    "VolumeNotFound",
				Reason:  "VolumeNotFound",
				Context: map[string]any{"volume": "D:"},
			}
		}
	}
	t.UpdatedAt = now
	return clone(*t), nil
}

// Delete removes the task named by key (UUID, idString or decimal id), as the real service
// forgets tasks after their lifetime: lists no longer return it and GET /tasks/{id} answers
// 404. Errors: ErrNotFound.
func (s *Server) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookupLocked(key)
	if t == nil {
		return fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	s.index.remove(t)
	delete(s.tasks, t.ID)
	return nil
}

// Task returns the task named by key (UUID, idString or decimal id).
func (s *Server) Task(key string) (tasks.Task, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookupLocked(key)
	if t == nil {
		return tasks.Task{}, false
	}
	return clone(*t), true
}

// Tasks returns every task, ordered by id.
func (s *Server) Tasks() []tasks.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]tasks.Task, 0, len(s.tasks))
	for _, t := range s.sortedLocked() {
		out = append(out, clone(*t))
	}
	return out
}

func (s *Server) sortedLocked() []*tasks.Task {
	out := make([]*tasks.Task, 0, len(s.tasks))
	for _, t := range s.tasks {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *tasks.Task) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (s *Server) lookupLocked(key string) *tasks.Task {
	if id, err := strconv.ParseInt(key, 10, 64); err == nil {
		if t := s.tasks[id]; t != nil {
			return t
		}
	}
	if id, ok := s.index.byUUID[key]; ok {
		return s.tasks[id]
	}
	if id, ok := s.index.byIDString[key]; ok {
		return s.tasks[id]
	}
	return nil
}

// stampLocked is the server clock for a write: now in UTC, but strictly later than every
// earlier stamp and than prev.
func (s *Server) stampLocked(prev time.Time) time.Time {
	now := s.now().UTC().Round(0)
	floor := s.lastStamp
	if prev.After(floor) {
		floor = prev
	}
	if !now.After(floor) {
		now = floor.Add(time.Nanosecond)
	}
	s.lastStamp = now
	return now
}

func (s *Server) tenantUUIDLocked(id string) string {
	u, ok := s.tenantUUIDs[id]
	if !ok {
		u = randomUUID()
		s.tenantUUIDs[id] = u
	}
	return u
}

// serveTask implements GET /tasks/{id} (id, idString or UUID); 404 domainError when absent.
func (s *Server) serveTask(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	key := r.PathValue("id")
	s.mu.Lock()
	t := s.lookupLocked(key)
	var body []byte
	var err error
	if t != nil {
		body, err = json.Marshal(t)
	}
	s.mu.Unlock()
	switch {
	case t == nil:
		writeDomainError(w, http.StatusNotFound, "notFound", "task not found", map[string]any{"id": key})
	case err != nil:
		writeDomainError(w, http.StatusInternalServerError, "internalError", err.Error(), nil)
	default:
		writeRaw(w, http.StatusOK, "application/json", body)
	}
}

// --- helpers ---

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, "application/json", b)
}

func writeRaw(w http.ResponseWriter, status int, contentType string, body []byte) {
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	} else {
		w.Header()["Content-Type"] = nil // no header, and no sniffing either
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeDomainError answers with a Task Manager domainError, shaped like
// testdata/acronis/error-task-manager.json.
func writeDomainError(w http.ResponseWriter, status int, code, msg string, ctx map[string]any) {
	writeJSON(w, status, tasks.DomainError{
		Domain:  "TaskManager",
		Code:    code,
		Reason:  code,
		Context: ctx,
		Debug:   map[string]any{"msg": msg},
	})
}

// clone deep-copies a task through its JSON form, which keeps every field (Task is built so).
func clone(t tasks.Task) tasks.Task {
	b, err := json.Marshal(t)
	if err != nil {
		panic("taskstest: cannot encode task: " + err.Error())
	}
	var c tasks.Task
	if err := json.Unmarshal(b, &c); err != nil {
		panic("taskstest: cannot decode task: " + err.Error())
	}
	return c
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randomUUID is a random (version 4) UUID.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return formatUUID(b)
}

func formatUUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
