package acronis

import (
	"net/url"
	"strconv"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// QueryValues encodes q as the query string of GET /tasks (without the `after` cursor): each
// slice as repeated keys (state=started&state=paused), times as `updatedAt=gt(T)` with T in
// RFC 3339 with nanoseconds, UTC, the order as `asc(field)`/`desc(field)`, and always an explicit
// `limit` (q.Limit, else tasks.DefaultPageSize), as the published OpenAPI document asks
// (testdata/acronis/task-manager-v2.openapi.json, GET /tasks).
//
// Every value is a known enum, a UUID the caller supplied, or a formatted time: user text from
// Slack never reaches this function unparsed.
func QueryValues(q tasks.Query) url.Values {
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
		limit = tasks.DefaultPageSize
	}
	v.Set("limit", strconv.Itoa(limit))
	return v
}
