package taskstest

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// The query keys GET /tasks understands. Keys the OpenAPI document lists but the fake does not
// implement are refused with 400 rather than silently ignored, so a test never passes on a
// filter that did nothing.
var (
	listKeys = map[string]bool{
		"state": true, "resultCode": true, "type": true, "uuid": true, "id": true,
		"queue": true, "priority": true,
		"enqueuedAt": true, "assignedAt": true, "startedAt": true, "updatedAt": true, "completedAt": true,
		"order": true, "limit": true, "after": true, "lod": true, "allow_deleted": true,
	}
	timeFields = []string{"enqueuedAt", "assignedAt", "startedAt", "updatedAt", "completedAt"}
)

// listQuery is a parsed GET /tasks query.
type listQuery struct {
	sets    map[string]map[string]bool // key → accepted values (OR); keys AND
	times   []timeFilter
	order   orderSpec
	limit   int
	after   *cursor
	afterAt time.Time // after.Key parsed
	queryID string    // the query string without after and limit, carried by cursors
}

// timeFilter is `field=gt(T)` or `field=lt(T)`.
type timeFilter struct {
	field string
	gt    bool
	t     time.Time
}

// orderSpec is `asc(field)` or `desc(field)`; the default is asc(id).
type orderSpec struct {
	field string
	desc  bool
}

// cursor is the opaque `after` token: the sort key of the last task of the page (keyset
// paging, so tasks that change between pages are neither skipped nor repeated for a stable
// order) and the query of the first page, which later pages do not repeat.
type cursor struct {
	V     int    `json:"v"`
	Order string `json:"o"`
	Key   string `json:"k"` // sort value of the last task: RFC 3339 time, "" for an absent time
	ID    int64  `json:"i"`
	Query string `json:"q"` // the first page's query string without limit
	// Start marks the cursor of an empty page sent instead of the first page (SetEmptyPages):
	// the next page starts from the beginning. N makes each such cursor differ from the last.
	Start bool  `json:"s,omitempty"`
	N     int64 `json:"n,omitempty"`
}

// badRequest is a 400 answer: a domainError like testdata/acronis/error-task-manager.json.
type badRequest struct {
	param, value, msg string
}

func bad(param, value, msg string) *badRequest { return &badRequest{param, value, msg} }

// serveList implements GET /tasks.
func (s *Server) serveList(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	v := r.URL.Query()
	parse := parseListQuery
	if v.Has("after") {
		parse = parseNextPage
	}
	q, err := parse(v)
	if err != nil {
		writeDomainError(w, http.StatusBadRequest, "badRequest", err.msg,
			map[string]any{"param": err.param, "value": err.value})
		return
	}
	body, err2 := s.listPage(q)
	if err2 != nil {
		writeDomainError(w, http.StatusInternalServerError, "internalError", err2.Error(), nil)
		return
	}
	writeRaw(w, http.StatusOK, "application/json", body)
}

// listPage selects, orders and pages the tasks for q (through the index: in time proportional
// to the page, not to every task the server holds) and encodes the answer.
func (s *Server) listPage(q *listQuery) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q = s.withoutIgnoredLocked(q)
	if s.emptyPages > 0 {
		return s.emptyPageLocked(q)
	}
	limit := q.limit
	if s.pageCap > 0 {
		limit = min(limit, s.pageCap)
	}
	matched := s.index.page(q, limit+1, s.tasks) // one more: is there a next page?
	more := len(matched) > limit
	matched = matched[:min(limit, len(matched))]
	page := make([]any, 0, len(matched)+len(s.rawItems))
	for _, t := range matched {
		page = append(page, *t)
	}
	if q.after == nil {
		for _, raw := range s.rawItems {
			page = append(page, raw)
		}
	}
	var next string
	if more {
		last := matched[len(matched)-1]
		next = encodeCursor(cursor{V: 2, Order: q.order.String(), Key: q.order.key(last), ID: last.ID, Query: q.queryID})
	}
	ans := listAnswer{Items: page, Size: len(page), TimeStamp: s.now().UTC().Format(time.RFC3339Nano)}
	if s.cursorStyle == CursorsTopLevel {
		ans.Cursors = &cursorsJSON{After: next}
	} else {
		ans.Paging = &pagingJSON{Cursors: cursorsJSON{After: next}}
	}
	return json.Marshal(ans)
}

// listAnswer is the list answer, shaped like testdata/acronis/tasks-in-progress.json.
type listAnswer struct {
	Items     []any        `json:"items"` // tasks.Task, or json.RawMessage from SetRawItems
	Size      int          `json:"size"`
	TimeStamp string       `json:"timeStamp"`
	Paging    *pagingJSON  `json:"paging,omitempty"`
	Cursors   *cursorsJSON `json:"cursors,omitempty"`
}

type pagingJSON struct {
	Cursors cursorsJSON `json:"cursors"`
}

type cursorsJSON struct {
	After string `json:"after,omitempty"`
}

// parseListQuery validates and parses a GET /tasks query string.
func parseListQuery(v url.Values) (*listQuery, *badRequest) {
	q := &listQuery{sets: map[string]map[string]bool{}, order: orderSpec{field: "id"}, limit: DefaultLimit}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !listKeys[k] {
			return nil, bad(k, v.Get(k), fmt.Sprintf("query parameter %q is not supported by taskstest", k))
		}
	}
	for _, k := range []string{"state", "resultCode", "type", "uuid", "id", "queue", "priority"} {
		vals, ok := v[k]
		if !ok {
			continue
		}
		set := map[string]bool{}
		for _, val := range vals {
			if err := checkEnum(k, val); err != nil {
				return nil, err
			}
			set[val] = true
		}
		q.sets[k] = set
	}
	for _, f := range timeFields {
		vals, ok := v[f]
		if !ok {
			continue
		}
		if len(vals) > 1 {
			return nil, bad(f, strings.Join(vals, ","), "a time filter accepts a single entry")
		}
		tf, err := parseTimeFilter(f, vals[0])
		if err != nil {
			return nil, err
		}
		q.times = append(q.times, tf)
	}
	if o := v.Get("order"); o != "" {
		spec, err := parseOrder(o)
		if err != nil {
			return nil, err
		}
		q.order = spec
	}
	if l, ok := v["limit"]; ok {
		n, err := strconv.Atoi(l[0])
		if err != nil || n <= 0 || len(l) > 1 {
			return nil, bad("limit", strings.Join(l, ","), "limit must be one positive integer")
		}
		q.limit = n
	}
	rest := url.Values{}
	for k, vals := range v {
		if k != "after" && k != "limit" {
			rest[k] = slices.Sorted(slices.Values(vals))
		}
	}
	q.queryID = rest.Encode()
	return q, nil
}

// parseNextPage parses a request for a later page. The published document allows `after`
// only with `limit` ("This parameter restricts usage of the query string parameters to
// `after`"): the cursor carries the query of the first page, so any other parameter is a 400.
func parseNextPage(v url.Values) (*listQuery, *badRequest) {
	a := v["after"]
	if _, ok := v["limit"]; !ok {
		return nil, bad("after", a[0], "after can be used only with the limit query string parameter")
	}
	for k := range v {
		if k != "after" && k != "limit" {
			return nil, bad(k, v.Get(k), "after can be used only with the limit query string parameter")
		}
	}
	c, err := decodeCursor(a[0])
	var afterAt time.Time
	if err == nil && c.Key != "" {
		afterAt, err = time.Parse(time.RFC3339Nano, c.Key)
	}
	if err != nil || c.V != 2 || len(a) > 1 {
		return nil, bad("after", a[0], "invalid page cursor")
	}
	first, err := url.ParseQuery(c.Query)
	if err != nil {
		return nil, bad("after", a[0], "invalid page cursor")
	}
	first["limit"] = v["limit"]
	q, berr := parseListQuery(first)
	if berr != nil {
		return nil, berr
	}
	if !c.Start {
		q.after, q.afterAt = &c, afterAt
	}
	return q, nil
}

// checkEnum validates one value of a filter with a closed set of values.
func checkEnum(key, val string) *badRequest {
	switch key {
	case "state":
		if !tasks.State(val).Valid() {
			return bad(key, val, "unknown task state")
		}
	case "resultCode":
		if !tasks.ResultCode(val).Valid() {
			return bad(key, val, "unknown result code")
		}
	case "priority":
		switch val {
		case "low", "belowNormal", "normal", "aboveNormal", "high":
		default:
			return bad(key, val, "unknown priority")
		}
	case "id":
		if _, err := strconv.ParseInt(val, 10, 64); err != nil {
			return bad(key, val, "id must be an integer")
		}
	}
	return nil
}

// parseTimeFilter parses `gt(T)` or `lt(T)` where T is RFC 3339 (nanoseconds allowed), Unix
// seconds, or Unix nanoseconds with an "ns" suffix.
func parseTimeFilter(field, val string) (timeFilter, *badRequest) {
	op, arg, ok := strings.Cut(val, "(")
	if !ok || !strings.HasSuffix(arg, ")") || (op != "gt" && op != "lt") {
		return timeFilter{}, bad(field, val, "a time filter reads gt(T) or lt(T)")
	}
	arg = strings.TrimSuffix(arg, ")")
	t, err := parseTime(arg)
	if err != nil {
		return timeFilter{}, bad(field, val, "invalid time: "+err.Error())
	}
	return timeFilter{field: field, gt: op == "gt", t: t}, nil
}

func parseTime(s string) (time.Time, error) {
	if n, ok := strings.CutSuffix(s, "ns"); ok {
		ns, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not a number of nanoseconds", s)
		}
		return time.Unix(0, ns).UTC(), nil
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(secs, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor Unix time", s)
	}
	return t, nil
}

// parseOrder parses `asc(field)` or `desc(field)` for the fields the fake can order by.
func parseOrder(o string) (orderSpec, *badRequest) {
	dir, arg, ok := strings.Cut(o, "(")
	field, closed := strings.CutSuffix(arg, ")")
	if !ok || !closed || (dir != "asc" && dir != "desc") {
		return orderSpec{}, bad("order", o, "order reads asc(field) or desc(field)")
	}
	if field != "id" && !slices.Contains(timeFields, field) {
		return orderSpec{}, bad("order", o, "taskstest orders only by id, enqueuedAt, assignedAt, startedAt, updatedAt or completedAt")
	}
	return orderSpec{field: field, desc: dir == "desc"}, nil
}

// matches reports whether t passes every filter of q.
func (q *listQuery) matches(t *tasks.Task) bool {
	for key, set := range q.sets {
		var v string
		switch key {
		case "state":
			v = string(t.State)
		case "resultCode":
			v = string(t.ResultCode())
		case "type":
			v = t.Type
		case "uuid":
			v = t.UUID
		case "id":
			// Compare as numbers so "007" finds task 7.
			found := false
			for s := range set {
				if id, _ := strconv.ParseInt(s, 10, 64); id == t.ID {
					found = true
				}
			}
			if !found {
				return false
			}
			continue
		case "queue":
			v = t.Queue
		case "priority":
			v = t.Priority
		}
		if !set[v] {
			return false
		}
	}
	for _, f := range q.times {
		tv := taskTime(t, f.field)
		if tv.IsZero() {
			return false // a task without the time matches no filter on it
		}
		if f.gt && !tv.After(f.t) || !f.gt && !tv.Before(f.t) {
			return false
		}
	}
	return true
}

func taskTime(t *tasks.Task, field string) time.Time {
	switch field {
	case "enqueuedAt":
		return t.EnqueuedAt
	case "assignedAt":
		return t.AssignedAt
	case "startedAt":
		return t.StartedAt
	case "updatedAt":
		return t.UpdatedAt
	case "completedAt":
		return t.CompletedAt
	}
	return time.Time{}
}

func (o orderSpec) String() string {
	if o.desc {
		return "desc(" + o.field + ")"
	}
	return "asc(" + o.field + ")"
}

// key is t's sort value as a cursor keeps it.
func (o orderSpec) key(t *tasks.Task) string {
	if o.field == "id" {
		return ""
	}
	tv := taskTime(t, o.field)
	if tv.IsZero() {
		return ""
	}
	return tv.UTC().Format(time.RFC3339Nano)
}

// compare orders tasks by the field (absent times first in ascending order), then by id in the
// same direction, so the order is total and stable.
func (o orderSpec) compare(a, b *tasks.Task) int {
	return o.compareAt(a, taskTime(b, o.field), b.ID)
}

// compareAt compares t with the position (at, id): the sort value and id of another task.
func (o orderSpec) compareAt(t *tasks.Task, at time.Time, id int64) int {
	c := 0
	if o.field != "id" {
		c = taskTime(t, o.field).Compare(at)
	}
	if c == 0 {
		c = cmp.Compare(t.ID, id)
	}
	if o.desc {
		c = -c
	}
	return c
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, err
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.DisallowUnknownFields()
	err = d.Decode(&c)
	return c, err
}
