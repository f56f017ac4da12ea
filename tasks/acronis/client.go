// Package acronis is the client of the Acronis Task Manager API v2: OAuth 2.0 client-credentials
// tokens (x/oauth2), paging, retries with backoff, and typed errors that explain themselves
// (hints.go). It is the only package that talks HTTP to Acronis; it implements tasks.Service.
//
// Paths and shapes follow the published OpenAPI document
// (testdata/acronis/task-manager-v2.openapi.json) and the Task Manager guide
// (https://developer.acronis.com/doc/task-manager/v2/guide/). Where the real API departs from
// the document, the client does what public clients of it do (Zabbix's Acronis template, a
// Prometheus exporter, Acronis's samples; quirks.go): a malformed task is skipped rather than
// failing its page, time filters are sent in whole seconds, filters and order are checked
// rather than trusted, runs of empty pages end a listing, a page that timed out is asked for
// again in a smaller size, and a token's expiry is read on the server's clock. tasks/taskstest
// reproduces each of these.
package acronis

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/taskbot/taskbot/tasks"
)

// Defaults of Config, and the paths below Config.BaseURL.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultRetries   = 3
	DefaultRetryBase = 500 * time.Millisecond

	// APIPath is the root of the Task Manager API v2 below the data-center URL.
	APIPath = "/api/task_manager/v2"
	// TokenPath is the Account Management token endpoint below the data-center URL.
	TokenPath = "/api/2/idp/token"
)

// Limits that protect the client from a misbehaving server.
const (
	maxBackoff    = 30 * time.Second // longest wait between two attempts, before jitter
	maxRetryAfter = 2 * time.Minute  // a longer Retry-After is not waited for: the error is returned
	maxBody       = 64 << 20         // largest answer body read, in bytes
)

// maxEmptyPages is how many empty pages in a row, each naming a next page, end a List: the API
// sends such pages, and following them could take up to maxPages requests.
const maxEmptyPages = 3

// maxPages is the most pages one List fetches before it fails with ErrPagingLoop (a variable
// only so that tests can lower it).
var maxPages = 10000

// Config configures a Client. BaseURL, ClientID and ClientSecret are required; zero values of
// the other fields mean their defaults.
type Config struct {
	// BaseURL is the data-center URL (ACRONIS_URL), e.g. https://eu2-cloud.acronis.com. The token
	// endpoint is {BaseURL}/api/2/idp/token and the API {BaseURL}/api/task_manager/v2
	// (https://developer.acronis.com/doc/task-manager/v2/guide/).
	BaseURL string
	// ClientID and ClientSecret are an API client's credentials (console: Settings → API
	// clients). The secret is sent only to the token endpoint and never logged.
	ClientID     string
	ClientSecret string

	// Timeout bounds each HTTP request, the token request included, from sending it to reading
	// the whole answer. 0 means DefaultTimeout (30s).
	Timeout time.Duration
	// Retries is how many extra attempts a request gets after a 5xx or 429 answer, a network
	// error or a timeout. 0 means DefaultRetries (3); a negative value means none.
	Retries int
	// RetryBase is the first backoff wait; each later wait doubles it (capped at 30s), with
	// jitter: a wait is between half and all of its nominal value. 0 means DefaultRetryBase
	// (500ms). A Retry-After header on a 429 or 503 answer replaces the computed wait; one
	// asking for more than 2 minutes ends the retries with that answer's error.
	RetryBase time.Duration
	// Transport sends the requests; nil means a clone of http.DefaultTransport.
	Transport http.RoundTripper
	// Logger receives retries, token renewals and what the API did against its document, at
	// debug and warn level (keys: request, attempt, wait, err; task, field, page for a skipped
	// item; filter or order for one the API ignored; limit, pages, empty, tasks). Secrets and
	// tokens are never logged. nil discards.
	Logger *slog.Logger
}

// Client calls the Acronis Task Manager API v2 with an OAuth 2.0 client-credentials token.
// It is safe for concurrent use.
type Client struct {
	api       *url.URL // {BaseURL}/api/task_manager/v2
	hc        *http.Client
	tokens    *tokenCache
	retries   int
	retryBase time.Duration
	log       *slog.Logger

	warnMu sync.Mutex
	warned map[string]bool // warnings about the API's behaviour already logged (firstTime)
}

// NewClient checks cfg and returns a Client. It makes no request.
// It fails when BaseURL is not an absolute http or https URL with a host (and no user
// information, query or fragment), when ClientID or ClientSecret is empty, or when Timeout or
// RetryBase is negative; the error names every problem at once and never contains the secret.
func NewClient(cfg Config) (*Client, error) {
	var problems []string
	base, err := url.Parse(strings.TrimSpace(cfg.BaseURL))
	switch {
	case strings.TrimSpace(cfg.BaseURL) == "":
		problems = append(problems, "BaseURL is empty")
	case err != nil:
		problems = append(problems, fmt.Sprintf("BaseURL is not a URL: %v", errors.Unwrap(err)))
	case base.Scheme != "http" && base.Scheme != "https":
		problems = append(problems, fmt.Sprintf("BaseURL %q must start with https:// (or http://)", base.Redacted()))
	case base.Host == "" || base.Hostname() == "":
		problems = append(problems, fmt.Sprintf("BaseURL %q has no host", base.Redacted()))
	case base.User != nil:
		problems = append(problems, "BaseURL must not contain user information (credentials go in ClientID and ClientSecret)")
	case base.RawQuery != "" || base.Fragment != "":
		problems = append(problems, fmt.Sprintf("BaseURL %q must not have a query or fragment", base.Redacted()))
	}
	if strings.TrimSpace(cfg.ClientID) == "" {
		problems = append(problems, "ClientID is empty")
	}
	if cfg.ClientSecret == "" {
		problems = append(problems, "ClientSecret is empty")
	}
	if cfg.Timeout < 0 {
		problems = append(problems, fmt.Sprintf("Timeout %v is negative", cfg.Timeout))
	}
	if cfg.RetryBase < 0 {
		problems = append(problems, fmt.Sprintf("RetryBase %v is negative", cfg.RetryBase))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("tasks: invalid client configuration: %s", strings.Join(problems, "; "))
	}

	timeout := cmp.Or(cfg.Timeout, DefaultTimeout)
	retries := cfg.Retries
	switch {
	case retries == 0:
		retries = DefaultRetries
	case retries < 0:
		retries = 0
	}
	transport := cfg.Transport
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	hc := &http.Client{Transport: transport, Timeout: timeout}
	root := strings.TrimRight(base.Path, "/")
	api := &url.URL{Scheme: base.Scheme, Host: base.Host, Path: root + APIPath}
	tokenURL := (&url.URL{Scheme: base.Scheme, Host: base.Host, Path: root + TokenPath}).String()
	return &Client{
		api:       api,
		hc:        hc,
		tokens:    newTokenCache(tokenURL, strings.TrimSpace(cfg.ClientID), cfg.ClientSecret, hc, timeout, logger),
		retries:   retries,
		retryBase: cmp.Or(cfg.RetryBase, DefaultRetryBase),
		log:       logger,
	}, nil
}

// Token makes sure the client holds a valid access token, fetching one when it has none or
// when the cached one is due for renewal; `taskbot check` uses it to test the credentials.
//
// A token is renewed min(10 minutes, lifetime/5) before it expires. Its expiry is the answer's
// expires_in, else its expires_on (Unix seconds, the server's clock) less the answer's Date
// header, counted from when the request left: a host clock hours off changes nothing. Without a
// Date header expires_on is read against the host's clock, and a token that seems expired on
// arrival is still kept a minute: at most one token a minute is fetched (tokens that live under
// two minutes excepted, renewed within their lifetime), except right after a 401.
// A failed answer of the token endpoint is a *TokenError (e.g. `token: 401 access_denied:
// Invalid client credentials`); 5xx, 429, network errors and timeouts are retried like API
// requests.
func (c *Client) Token(ctx context.Context) error {
	return c.retry(ctx, "POST "+TokenPath, func() error {
		_, err := c.tokens.token(ctx)
		return err
	})
}

// List fetches the tasks that q selects: GET /tasks with q.Values() (repeated keys, an
// explicit limit), then the next page with only `after=<cursor>` and `limit`, as long as an
// answer names a cursor in `paging.cursors.after` (what the API sends) or in a top-level
// `cursors.after` (what the OpenAPI document describes). It stops early once q.MaxTasks tasks
// are collected (ListResult.More then says whether there were more).
//
// Items are decoded one by one: an item that is not a task object taskbot can read (`"id":"abc"`,
// `"completedAt":12`, `"state":5`) is left out, counted in ListResult.Skipped and logged once at
// WARN with its uuid (key "task", "" when it has none) and the field that failed (key "field").
// Empty and null times are absent times (see tasks.Task.UnmarshalJSON), not errors.
//
// Filters are not trusted to be honoured: a task that q does not select (tasks.Query.Matches) is
// dropped, and the first time a Client meets one it logs at WARN which filter the API ignored
// (key "filter": "state", "uuid", "updatedAt" …). The order is not relied on either: tasks come
// in the order the API sent them, and an answer out of q.Order is logged at WARN once per Client
// (key "order"); a caller that needs the newest task takes the maximum itself.
//
// A page whose request exceeds Config.Timeout is retried asking for half as many tasks (`limit`
// halved, never below 10; `after` and the smaller `limit` for later pages), and the rest of the
// List keeps the smaller page size: a slow answer is usually a big one.
//
// Empty pages that name a next page are followed, but three in a row end the List: it returns
// what was collected, and logs that at WARN (once per List).
//
// Errors: any page failing fails the whole List, with no partial result. A non-2xx answer is
// an *APIError, a failed token request a *TokenError, an answer that is not the documented JSON
// an error naming the path and content type; a cursor that repeats or more than 10000 pages
// wrap ErrPagingLoop. Errors of pages after the first read "page N: GET /tasks: …".
func (c *Client) List(ctx context.Context, q tasks.Query) (*tasks.ListResult, error) {
	var all []tasks.Task
	res, err := c.Each(ctx, q, func(page tasks.Page) error {
		all = append(all, page.Tasks...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Tasks = all
	return res, nil
}

// Each is List that hands each page's tasks (with its Date) to page as it arrives and keeps none
// (ListResult.Tasks is nil), so a listing of 100,000 tasks holds one page in memory. An error
// from page stops the listing and is returned as it is; pages already handed over stay
// handed over. Paging, filters, order checks, q.MaxTasks and errors are List's.
func (c *Client) Each(ctx context.Context, q tasks.Query, page func(tasks.Page) error) (*tasks.ListResult, error) {
	base := QueryValues(q)
	limit := base.Get("limit")
	res := &tasks.ListResult{}
	order := &orderCheck{order: q.Order}
	seen := map[string]bool{}
	after := ""
	empty := 0 // consecutive empty pages that named a next page
	kept := 0
	for n := 1; ; n++ {
		if n > maxPages {
			return nil, fmt.Errorf("GET /tasks: %w: more than %d pages", ErrPagingLoop, maxPages)
		}
		// The published document allows `after` only with `limit`: the cursor carries the
		// rest of the first page's query.
		v := maps.Clone(base)
		if after != "" {
			v = url.Values{"after": {after}}
		}
		v.Set("limit", limit)
		r := &request{path: "/tasks", query: v, shrink: smallerPage}
		var p listPage
		ans, err := c.getJSON(ctx, r, p.decode)
		if err != nil {
			if n > 1 {
				err = fmt.Errorf("page %d: %w", n, err)
			}
			return nil, err
		}
		limit = r.query.Get("limit") // smaller after a timeout, for the rest of this List
		res.Pages = n
		res.ServerTime = ans.date
		if n == 1 {
			res.StartTime = ans.date
		}
		for _, b := range p.Bad {
			// Once per task (by uuid, else by its text): the same bad task comes back every poll.
			if c.firstTime("bad item " + cmp.Or(b.UUID, b.Text)) {
				c.log.LogAttrs(ctx, slog.LevelWarn, "skipped a task the Task Manager API sent: it does not decode (logged once per task)",
					slog.String("task", cmp.Or(b.UUID, "(no uuid)")), slog.String("field", b.Field), slog.Int("page", n), slog.Any("err", b.Err))
			}
		}
		res.Skipped += len(p.Bad)
		c.checkOrder(ctx, order, p.Tasks)
		got := c.keepMatching(ctx, q, p.Tasks)
		if !p.TimeStamp.IsZero() {
			res.TimeStamp = p.TimeStamp
		}
		next := p.after()
		if q.MaxTasks > 0 && kept+len(got) >= q.MaxTasks {
			res.More = kept+len(got) > q.MaxTasks || next != ""
			got = got[: q.MaxTasks-kept : q.MaxTasks-kept]
		}
		kept += len(got)
		if len(got) > 0 {
			if err := page(tasks.Page{Tasks: got, ServerTime: ans.date}); err != nil {
				return nil, err
			}
		}
		if q.MaxTasks > 0 && kept >= q.MaxTasks {
			return res, nil
		}
		if next == "" {
			return res, nil
		}
		if p.Count > 0 {
			empty = 0
		} else if empty++; empty >= maxEmptyPages {
			c.log.LogAttrs(ctx, slog.LevelWarn, "the Task Manager API keeps sending empty pages that name a next page; taskbot stops paging",
				slog.Int("pages", n), slog.Int("empty", empty), slog.Int("tasks", kept))
			res.Incomplete = true
			return res, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("GET /tasks: %w: page %d names cursor %q again", ErrPagingLoop, n, next)
		}
		seen[next] = true
		after = next
	}
}

// taskKeyRE accepts what GET /tasks/{id} is documented to take: a decimal id or a UUID.
var taskKeyRE = regexp.MustCompile(`^(?:[0-9]{1,20}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$`)

// Task fetches one task by its decimal id (idString) or UUID: GET /tasks/{id}. A key of any
// other shape is refused without a request, so user text never reaches the URL. A missing task
// is an *APIError with StatusCode 404, which tasks.IsNotFound recognises (APIError.NotFound).
func (c *Client) Task(ctx context.Context, key string) (*tasks.Task, error) {
	if !taskKeyRE.MatchString(key) {
		return nil, fmt.Errorf("GET /tasks/{id}: %q is neither a task id nor a UUID", key)
	}
	var t tasks.Task
	_, err := c.getJSON(ctx, &request{path: "/tasks/" + key}, func(b []byte) error { return json.Unmarshal(b, &t) })
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// listPage is one answer of GET /tasks:
// {items:[Task], size, timeStamp, paging:{cursors:{after,before}}, cursors:{after,before}}.
// Its items are decoded one by one, so one malformed task does not cost the rest of the page.
type listPage struct {
	// Tasks are the items that decoded, in the order the API sent them.
	Tasks []tasks.Task `json:"-"`
	// Bad are the items that did not, in the order the API sent them.
	Bad []badItem `json:"-"`
	// TimeStamp is the answer's "timeStamp"; zero when absent or not an RFC 3339 string.
	TimeStamp time.Time `json:"-"`
	// Count is how many items the answer had, Tasks and Bad together.
	Count int `json:"-"`

	Items        []json.RawMessage `json:"items"`
	RawTimeStamp json.RawMessage   `json:"timeStamp"`
	Paging       paging            `json:"paging"`
	Cursors      cursors           `json:"cursors"`
}

type paging struct {
	Cursors cursors `json:"cursors"`
}

type cursors struct {
	After  string `json:"after"`
	Before string `json:"before"`
}

// badItem is a list item that is not a task taskbot can read.
type badItem struct {
	UUID  string // its "uuid" when the raw item has a string there (at most 64 bytes), else ""
	Field string // the field that failed ("id", "completedAt", "result.code"); "" when unknown
	Text  string // the start of the item (64 bytes), to tell items without a uuid apart
	Err   error
}

// decode parses a list answer. An answer that is not a JSON object with an "items" array is an
// error; an item that is not a task object (a field of the wrong type, a time that is not RFC
// 3339, not an object at all) goes to p.Bad instead. Ids stay exact int64 (encoding/json parses
// integer literals into int64 without passing through float64).
//
// An answer whose every item is a task with a documented state (nearly all of them) is read in
// one pass (decodeWhole); any other is decoded item by item (decodeItems), which says which
// items are bad and why. Both give the same Tasks for an answer the first accepts.
func (p *listPage) decode(b []byte) error {
	if !p.decodeWhole(b) {
		*p = listPage{}
		if err := p.decodeItems(b); err != nil {
			return err
		}
	}
	var ts string
	if json.Unmarshal(p.RawTimeStamp, &ts) == nil && ts != "" {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			p.TimeStamp = t
		}
	}
	return nil
}

// decodeWhole decodes b in one pass, items as tasks.TaskObject, and reports whether that
// worked: b is a JSON object with an "items" array, and every item decoded without error into
// a task with a documented state. On false p is left in an unspecified state.
func (p *listPage) decodeWhole(b []byte) bool {
	var whole struct {
		Items        []tasks.TaskObject `json:"items"`
		RawTimeStamp json.RawMessage    `json:"timeStamp"`
		Paging       paging             `json:"paging"`
		Cursors      cursors            `json:"cursors"`
	}
	if json.Unmarshal(b, &whole) != nil || whole.Items == nil {
		return false
	}
	p.Tasks = make([]tasks.Task, len(whole.Items))
	for i := range whole.Items {
		p.Tasks[i] = whole.Items[i].Task()
		if !p.Tasks[i].State.Valid() { // an item that is null, too: it decodes as no fields
			return false
		}
	}
	p.Count = len(p.Tasks)
	p.RawTimeStamp, p.Paging, p.Cursors = whole.RawTimeStamp, whole.Paging, whole.Cursors
	return true
}

// decodeItems decodes b's items one by one, so that one malformed task does not cost the rest
// of the page, and puts each that does not decode or has an unknown state in p.Bad.
func (p *listPage) decodeItems(b []byte) error {
	if err := json.Unmarshal(b, p); err != nil {
		return err
	}
	if p.Items == nil {
		return errors.New(`the answer has no "items"`)
	}
	p.Count = len(p.Items)
	p.Tasks = make([]tasks.Task, 0, len(p.Items))
	for _, raw := range p.Items {
		var t tasks.Task
		err := decodeItem(raw, &t)
		if err == nil && !t.State.Valid() {
			// A state outside the documented five cannot be diffed or announced truthfully.
			p.Bad = append(p.Bad, badItem{UUID: itemUUID(raw), Field: "state", Text: snippet(raw, 64),
				Err: fmt.Errorf("unknown state %q", snippet([]byte(t.State), 40))})
			continue
		}
		if err != nil {
			p.Bad = append(p.Bad, badItem{UUID: itemUUID(raw), Field: errorField(err), Text: snippet(raw, 64), Err: err})
			continue
		}
		p.Tasks = append(p.Tasks, t)
	}
	return nil
}

// decodeItem decodes one list item, which the page's decoding has already checked to be valid
// JSON (so Task.UnmarshalJSON is called directly, without a second validation).
func decodeItem(raw json.RawMessage, t *tasks.Task) error {
	if b := bytes.TrimSpace(raw); len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("the item is %s, not a task object", snippet(b, 20))
	}
	return t.UnmarshalJSON(raw)
}

// itemUUID is the "uuid" of a raw list item, best effort: "" when the item is not an object or
// its uuid is not a string. It is cut to 64 bytes, as it ends up in a log.
func itemUUID(raw json.RawMessage) string {
	var probe struct {
		UUID json.RawMessage `json:"uuid"`
	}
	var u string
	if json.Unmarshal(raw, &probe) != nil || json.Unmarshal(probe.UUID, &u) != nil {
		return ""
	}
	return snippet([]byte(u), 64)
}

// errorField is the field a decoding error names (*json.UnmarshalTypeError's Field), else "".
func errorField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	return ""
}

// after is the next page's cursor: paging.cursors.after, else cursors.after; "" on the last page.
func (p *listPage) after() string {
	if p.Paging.Cursors.After != "" {
		return p.Paging.Cursors.After
	}
	return p.Cursors.After
}

// request is a GET below the API root. One request may be sent several times (retries); its
// query may change between attempts.
type request struct {
	path  string     // below the API root, without the query: "/tasks"
	query url.Values // the query string of the next attempt
	// shrink, when set, gives the query for the attempt after one that exceeded Config.Timeout:
	// List asks for a smaller page (smallerPage). The final query stays in query.
	shrink func(url.Values) url.Values
}

// getJSON sends r, then hands the 2xx body to decode. A body decode rejects is an error naming
// the path, status and content type; it is not retried.
func (c *Client) getJSON(ctx context.Context, r *request, decode func([]byte) error) (*answer, error) {
	ans, err := c.do(ctx, http.MethodGet, r)
	if err != nil {
		return nil, err
	}
	if err := decode(ans.body); err != nil {
		return nil, &badAnswerError{fmt.Errorf("%s %s: %s answer (%s, %d bytes) is not valid: %w",
			http.MethodGet, r.path, ans.status, cmp.Or(ans.contentType, "no content type"), len(ans.body), err)}
	}
	return ans, nil
}

// answer is a 2xx answer, read whole.
type answer struct {
	status      string    // "200 OK"
	contentType string    // media type only
	date        time.Time // its Date header (the server's clock, whole seconds); zero when absent or invalid
	body        []byte
}

// do sends method r.path?r.query with a bearer token, retrying as Config says, and returns the
// 2xx answer. A 401 drops the token and repeats the request once with a new one, without
// counting as a retry. An attempt that exceeds Config.Timeout is retried with r.shrink's query
// when r has one.
func (c *Client) do(ctx context.Context, method string, r *request) (*answer, error) {
	var ans *answer
	refreshed := false
	what := method + " " + r.path
	err := c.retry(ctx, what, func() error {
		for {
			u := *c.api
			u.Path += r.path
			u.RawQuery = r.query.Encode()
			a, tok, err := c.attempt(ctx, method, r.path, u.String())
			if err == nil {
				ans = a
				return nil
			}
			var ae *APIError
			if errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized && !refreshed && tok != nil && ctx.Err() == nil {
				refreshed = true
				c.tokens.invalidate(ctx, tok)
				c.log.LogAttrs(ctx, slog.LevelDebug, "access token rejected, fetching a new one",
					slog.String("request", what))
				continue
			}
			// tok != nil: the API, not the token endpoint, was slow.
			if r.shrink != nil && tok != nil && errors.Is(err, ErrTimeout) && ctx.Err() == nil {
				if q := r.shrink(r.query); q.Get("limit") != r.query.Get("limit") {
					c.log.LogAttrs(ctx, slog.LevelDebug, "the Task Manager API did not answer in time; asking for a smaller page",
						slog.String("request", what), slog.String("limit", q.Get("limit")))
					r.query = q
				}
			}
			return err
		}
	})
	return ans, err
}

// attempt sends one request. It returns the token it used (nil when none could be had) so that a
// 401 drops exactly that token.
func (c *Client) attempt(ctx context.Context, method, path, target string) (*answer, *oauth2.Token, error) {
	tok, err := c.tokens.token(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	actx, cancel := context.WithTimeout(ctx, c.hc.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, method, target, nil)
	if err != nil {
		return nil, tok, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, tok, fmt.Errorf("%s %s: %w", method, path, transportError(ctx, err, c.hc.Timeout))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, tok, fmt.Errorf("%s %s: reading the answer: %w", method, path, transportError(ctx, err, c.hc.Timeout))
	}
	if len(body) > maxBody {
		return nil, tok, fmt.Errorf("%s %s: %s answer is larger than %d MiB", method, path, resp.Status, maxBody>>20)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, tok, newAPIError(method, path, resp, body, time.Now())
	}
	date, _ := http.ParseTime(resp.Header.Get("Date")) // zero when absent or invalid
	return &answer{status: resp.Status, contentType: mediaType(resp.Header.Get("Content-Type")), date: date, body: body}, tok, nil
}

// retry runs fn until it succeeds, fails with an error not worth retrying (see retryable),
// ctx ends, or c.retries extra attempts are spent. Waits grow exponentially from c.retryBase
// with jitter; a Retry-After on a 429 or 503 answer replaces the wait (one over 2 minutes is
// not waited for). An error after several attempts ends in "(N attempts)".
func (c *Client) retry(ctx context.Context, what string, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !retryable(err) || attempt >= c.retries {
			return withAttempts(err, attempt+1)
		}
		wait := c.backoff(attempt)
		if ra := retryAfter(err); ra > 0 {
			if ra > maxRetryAfter {
				return withAttempts(err, attempt+1)
			}
			wait = ra
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "Task Manager request failed, retrying",
			slog.String("request", what), slog.Int("attempt", attempt+1), slog.Duration("wait", wait), slog.Any("err", err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up retrying: %w)", withAttempts(err, attempt+1), ctx.Err())
		case <-t.C:
		}
	}
}

// backoff is the wait before retry number attempt+1: retryBase·2^attempt capped at 30s,
// then a random point between half of it and all of it.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.retryBase
	for i := 0; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	half := d / 2
	return half + rand.N(d-half+1)
}

// retryable reports whether a later attempt may succeed: 5xx and 429 answers of the API or the
// token endpoint, network errors and timeouts. Other 4xx answers and undecodable bodies are final.
func retryable(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Temporary()
	}
	var te *TokenError
	if errors.As(err, &te) {
		return te.Temporary()
	}
	var ne *networkError
	return errors.Is(err, ErrTimeout) || errors.As(err, &ne)
}

// retryAfter is the Retry-After wait of a 429 or 503 answer in err's chain, else 0.
func retryAfter(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) && (ae.StatusCode == http.StatusTooManyRequests || ae.StatusCode == http.StatusServiceUnavailable) {
		return ae.RetryAfter
	}
	return 0
}

// withAttempts notes the number of attempts at the end of err's text when there were several.
func withAttempts(err error, n int) error {
	if n <= 1 {
		return err
	}
	return fmt.Errorf("%w (%d attempts)", err, n)
}

// timeoutError is one request exceeding Config.Timeout; it wraps ErrTimeout and the cause.
type timeoutError struct {
	after time.Duration
	err   error
}

func (e *timeoutError) Error() string   { return fmt.Sprintf("timed out after %v", e.after) }
func (e *timeoutError) Unwrap() []error { return []error{ErrTimeout, e.err} }

// networkError is a failure to exchange a request and answer (refused, reset, DNS, TLS …);
// such failures are retried.
type networkError struct{ err error }

func (e *networkError) Error() string { return e.err.Error() }
func (e *networkError) Unwrap() error { return e.err }

// transportError classifies an error of http.Client.Do or of reading a body: ctx.Err() when the
// caller's ctx ended, a *timeoutError when the request's own timeout did, else a *networkError
// without the *url.Error wrapper (which repeats the whole URL).
func transportError(ctx context.Context, err error, timeout time.Duration) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if isTimeout(err) {
		return &timeoutError{after: timeout, err: err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &networkError{err: err}
}

// isTimeout reports whether err is a deadline or an I/O timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
