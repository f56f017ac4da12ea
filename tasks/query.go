package tasks

import (
	"net/url"
	"strconv"
	"time"
)

// DefaultPageSize is the limit taskbot sends when a Query sets none. The API requires `limit`
// for cursor paging (OpenAPI: "after … can be used only with the limit query string parameter").
const DefaultPageSize = 100

// Order is a position-dependent ordering, encoded as `asc(field)` or `desc(field)`.
// Field is one of the documented fields: id, uuid, type, priority, startedByUser, state,
// enqueuedAt, assignedAt, startedAt, updatedAt, completedAt.
type Order struct {
	Field string
	Desc  bool
}

// String encodes the order as the API expects it, e.g. "asc(updatedAt)"; "" for no order.
func (o Order) String() string {
	if o.Field == "" {
		return ""
	}
	if o.Desc {
		return "desc(" + o.Field + ")"
	}
	return "asc(" + o.Field + ")"
}

// Query selects tasks for GET /tasks. Each slice becomes repeated keys (state=started&state=paused);
// the API ORs values of one key and ANDs different keys. Zero values are left out.
type Query struct {
	States      []State
	ResultCodes []ResultCode
	Types       []string
	UUIDs       []string

	// UpdatedAfter and CompletedAfter become `updatedAt=gt(T)` / `completedAt=gt(T)` with T in
	// RFC 3339 with nanoseconds, UTC; the only time operator the API documents is gt.
	UpdatedAfter   time.Time
	CompletedAfter time.Time

	Order Order
	// Limit is the page size; 0 means DefaultPageSize.
	Limit int
	// MaxTasks stops paging once this many tasks were collected (0: all pages). The slash
	// command uses it so a huge result cannot exhaust memory.
	MaxTasks int
}

// Values encodes q as the query string of GET /tasks (without the `after` cursor).
// Every value is a known enum, a UUID the caller supplied, or a formatted time: user text from
// Slack never reaches this function unparsed.
func (q Query) Values() url.Values {
	v := url.Values{}
	for _, s := range q.States {
		v.Add("state", string(s))
	}
	for _, c := range q.ResultCodes {
		v.Add("resultCode", string(c))
	}
	for _, t := range q.Types {
		v.Add("type", t)
	}
	for _, u := range q.UUIDs {
		v.Add("uuid", u)
	}
	if !q.UpdatedAfter.IsZero() {
		v.Set("updatedAt", "gt("+q.UpdatedAfter.UTC().Format(time.RFC3339Nano)+")")
	}
	if !q.CompletedAfter.IsZero() {
		v.Set("completedAt", "gt("+q.CompletedAfter.UTC().Format(time.RFC3339Nano)+")")
	}
	if s := q.Order.String(); s != "" {
		v.Set("order", s)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	v.Set("limit", strconv.Itoa(limit))
	return v
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
