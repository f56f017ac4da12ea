package acronis

import (
	"context"
	"log/slog"
	"maps"
	"net/url"
	"strconv"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// The real Task Manager API departs from its published OpenAPI document, and public clients of it
// (Zabbix's Acronis template, a Prometheus exporter, Acronis's own samples) work around that. This
// file holds the client's side of those workarounds; taskstest can reproduce each quirk.

// filters names each filter of a tasks.Query by its query-string key, with the query narrowed to
// that filter alone, so that a task that fails Query.Matches is blamed on the right key.
var filters = []struct {
	key  string
	only func(tasks.Query) tasks.Query
}{
	{"state", func(q tasks.Query) tasks.Query { return tasks.Query{States: q.States} }},
	{"resultCode", func(q tasks.Query) tasks.Query { return tasks.Query{ResultCodes: q.ResultCodes} }},
	{"type", func(q tasks.Query) tasks.Query { return tasks.Query{Types: q.Types} }},
	{"uuid", func(q tasks.Query) tasks.Query { return tasks.Query{UUIDs: q.UUIDs} }},
	{"updatedAt", func(q tasks.Query) tasks.Query { return tasks.Query{UpdatedAfter: q.UpdatedAfter} }},
	{"completedAt", func(q tasks.Query) tasks.Query { return tasks.Query{CompletedAfter: q.CompletedAfter} }},
}

// keepMatching removes from ts, in place, the tasks q does not select, and returns what is left.
// The first time (per Client) a task fails a filter, it logs at WARN that the API ignored that
// filter (key "filter": "state", "uuid", "updatedAt" …).
func (c *Client) keepMatching(ctx context.Context, q tasks.Query, ts []tasks.Task) []tasks.Task {
	kept := ts[:0]
	for i := range ts {
		t := &ts[i]
		if q.Matches(t) {
			kept = append(kept, *t)
			continue
		}
		for _, f := range filters {
			if !f.only(q).Matches(t) && c.firstTime("filter "+f.key) {
				c.log.LogAttrs(ctx, slog.LevelWarn, "the Task Manager API ignored a filter; taskbot drops the tasks that do not match it",
					slog.String("filter", f.key), slog.String("task", t.Key()))
			}
		}
	}
	clear(ts[len(kept):]) // no stale copies keep their maps alive
	return kept
}

// firstTime reports whether key is seen for the first time by this Client; it is how warnings
// about the API's behaviour are logged once per Client, not once per poll.
func (c *Client) firstTime(key string) bool {
	c.warnMu.Lock()
	defer c.warnMu.Unlock()
	if c.warned[key] {
		return false
	}
	if c.warned == nil || len(c.warned) >= maxWarned {
		c.warned = map[string]bool{} // bounded: a long-lived client forgets, and may warn again
	}
	c.warned[key] = true
	return true
}

// maxWarned bounds the warnings a Client remembers having logged.
const maxWarned = 10_000

// orderCheck follows the tasks of one List, in the order the API sent them, and notices when
// they break the order asked for. Only id and the five times can be checked; tasks without the
// time are passed over. The client does not rely on the order either way: callers that need a
// maximum take it themselves.
type orderCheck struct {
	order  tasks.Order
	seen   bool
	lastID int64
	lastAt time.Time
}

// inOrder reports whether t may follow the tasks seen so far under the order (true when the
// order cannot be checked).
func (o *orderCheck) inOrder(t *tasks.Task) bool {
	var ok bool
	switch o.order.Field {
	case "id":
		ok = !o.seen || (o.order.Desc && t.ID <= o.lastID) || (!o.order.Desc && t.ID >= o.lastID)
		o.seen, o.lastID = true, t.ID
	case "enqueuedAt", "assignedAt", "startedAt", "updatedAt", "completedAt":
		at := taskTime(t, o.order.Field)
		if at.IsZero() {
			return true
		}
		c := at.Compare(o.lastAt)
		ok = !o.seen || (o.order.Desc && c <= 0) || (!o.order.Desc && c >= 0)
		o.seen, o.lastAt = true, at
	default:
		return true
	}
	return ok
}

// checkOrder logs at WARN, once per Client, that the API ignored the order when the tasks of a
// page break it (key "order": "desc(updatedAt)").
func (c *Client) checkOrder(ctx context.Context, o *orderCheck, ts []tasks.Task) {
	for i := range ts {
		if !o.inOrder(&ts[i]) && c.firstTime("order") {
			c.log.LogAttrs(ctx, slog.LevelWarn, "the Task Manager API ignored the order asked for; taskbot does not rely on it",
				slog.String("order", o.order.String()), slog.String("task", ts[i].Key()))
		}
	}
}

// taskTime is the time field of t named as the API names it.
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

// minPageAfterTimeout is the smallest page size smallerPage asks for.
const minPageAfterTimeout = 10

// smallerPage is the query of a list page to send after an attempt with query v exceeded
// Config.Timeout: v with its `limit` halved, but never below 10 (nor raised: a limit of 10 or
// less stays). A slow answer is usually a big one; the rest of the List keeps the smaller size.
func smallerPage(v url.Values) url.Values {
	n, err := strconv.Atoi(v.Get("limit"))
	if err != nil {
		return v
	}
	m := max(n/2, minPageAfterTimeout)
	if m >= n {
		return v
	}
	w := maps.Clone(v) // shares the other keys' slices, which nobody changes
	w["limit"] = []string{strconv.Itoa(m)}
	return w
}
