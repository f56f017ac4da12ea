package taskstest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// This file holds the knobs that make the fake behave like the real API where it departs from
// its OpenAPI document, as public clients of Acronis (Zabbix's template, a Prometheus exporter,
// Acronis's own samples) have to cope with. Each knob stays until changed; the zero setting is
// the documented behaviour.

// SetRawItems makes the first page of every list answer (a GET /tasks without `after`) carry
// items after its tasks, verbatim and whatever the query asked: task objects the real API sends
// that do not match the schema, such as {"id":"abc"}, {"completedAt":12} or {"state":5}. Size
// counts them. Each item must be valid JSON (the answer stays valid JSON); anything else panics,
// as a bug in the calling test. No items restores normal answers.
func (s *Server) SetRawItems(items ...string) {
	raw := make([]json.RawMessage, 0, len(items))
	for _, it := range items {
		if !json.Valid([]byte(it)) {
			panic(fmt.Sprintf("taskstest: SetRawItems: %q is not valid JSON", it))
		}
		raw = append(raw, json.RawMessage(it))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rawItems = raw
}

// IgnoreParams makes GET /tasks accept the given query keys, and still refuse bad values of them
// with 400, but not apply them: a filter key ("state", "resultCode", "type", "uuid", "id",
// "queue", "priority", "enqueuedAt", "assignedAt", "startedAt", "updatedAt", "completedAt")
// selects nothing out, and "order" leaves answers in ascending id order whatever it asks. Paging
// stays consistent. Public clients of the API check what they get rather than trust either. No
// keys restores the documented behaviour; an unknown key panics, as a bug in the calling test.
func (s *Server) IgnoreParams(keys ...string) {
	ignored := map[string]bool{}
	for _, k := range keys {
		if !listKeys[k] || k == "limit" || k == "after" {
			panic(fmt.Sprintf("taskstest: IgnoreParams: %q is no filter nor order", k))
		}
		ignored[k] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ignored = ignored
}

// withoutIgnoredLocked is q without the filters and order that IgnoreParams named.
func (s *Server) withoutIgnoredLocked(q *listQuery) *listQuery {
	if len(s.ignored) == 0 {
		return q
	}
	eq := *q
	eq.sets = maps.Clone(q.sets)
	maps.DeleteFunc(eq.sets, func(k string, _ map[string]bool) bool { return s.ignored[k] })
	eq.times = slices.DeleteFunc(slices.Clone(q.times), func(f timeFilter) bool { return s.ignored[f.field] })
	if s.ignored["order"] {
		eq.order = orderSpec{field: "id"}
	}
	return &eq
}

// SetEmptyPages makes the next n answers to GET /tasks (counted across lists, whichever page they
// answer) carry no items but a cursor to a next page, which continues where the empty page should
// have: a client that follows the cursors gets every task after n empty pages. Each such cursor
// is new, so a client's repeated-cursor check does not fire. n <= 0 ends it.
func (s *Server) SetEmptyPages(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emptyPages = max(n, 0)
}

// emptyPageLocked is an answer for q with no items and a fresh cursor to q's own position.
func (s *Server) emptyPageLocked(q *listQuery) ([]byte, error) {
	s.emptyPages--
	s.emptyCursors++
	c := cursor{V: 2, Order: q.order.String(), Query: q.queryID, N: s.emptyCursors, Start: q.after == nil}
	if q.after != nil {
		c.Key, c.ID = q.after.Key, q.after.ID
	}
	ans := listAnswer{Items: []any{}, TimeStamp: s.now().UTC().Format(time.RFC3339Nano)}
	if s.cursorStyle == CursorsTopLevel {
		ans.Cursors = &cursorsJSON{After: encodeCursor(c)}
	} else {
		ans.Paging = &pagingJSON{Cursors: cursorsJSON{After: encodeCursor(c)}}
	}
	return json.Marshal(ans)
}

// SetClockOffset sets the server's clock to the host's plus d (negative: behind it), as when the
// host taskbot runs on is off by hours: the Date header of every answer, expires_on of new
// tokens and the check of a token's expiry, the list answers' timeStamp, and the times the
// server stamps on tasks (Add, SetState) all follow the server's clock. Request.Time stays on
// the host's clock. 0 restores it.
func (s *Server) SetClockOffset(d time.Duration) { s.clockOffset.Store(int64(d)) }

// SetDateHeader chooses whether answers carry a Date header (RFC 9110 §6.6.1: an origin server
// without a reliable clock must not send one). Answers carry one until SetDateHeader(false).
func (s *Server) SetDateHeader(send bool) { s.noDate.Store(!send) }

// now is the server's clock: the host's plus SetClockOffset's offset.
func (s *Server) now() time.Time { return time.Now().Add(time.Duration(s.clockOffset.Load())) }

// SetTokenExpiresIn chooses whether token answers also carry expires_in (the TTL in whole
// seconds, rounded down, RFC 6749 §5.1) beside expires_on. They carry only expires_on, as
// Acronis often answers, until SetTokenExpiresIn(true).
func (s *Server) SetTokenExpiresIn(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiresIn = on
}
