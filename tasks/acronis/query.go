package acronis

import (
	"net/url"
	"strconv"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// QueryValues encodes q as the query string of GET /tasks (without the `after` cursor): each
// slice as repeated keys (state=started&state=paused), times as `updatedAt=gt(T)` with T in
// RFC 3339 in whole seconds, UTC, truncated toward the past (`gt(2026-12-01T10:00:00Z)` for
// 10:00:00.9), the order as `asc(field)`/`desc(field)`, and always an explicit `limit` (q.Limit,
// else tasks.DefaultPageSize), as the published OpenAPI document asks
// (testdata/acronis/task-manager-v2.openapi.json, GET /tasks).
//
// Whole seconds are what public clients of the API send (Zabbix's Acronis template, Acronis's
// samples); the document does not say that fractions are understood. Truncating makes the filter
// select a superset of what q asks for (tasks updated within the second before the time too),
// never fewer tasks; tasks.Query.Matches applies the same truncated time.
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
		v.Set("updatedAt", "gt("+wholeSeconds(q.UpdatedAfter)+")")
	}
	if !q.CompletedAfter.IsZero() {
		v.Set("completedAt", "gt("+wholeSeconds(q.CompletedAfter)+")")
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

// wholeSeconds formats t as RFC 3339 in UTC, truncated to the second toward the past
// (tasks.FilterTime).
func wholeSeconds(t time.Time) string {
	return tasks.FilterTime(t).Format(time.RFC3339)
}
