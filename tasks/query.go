package tasks

import (
	"slices"
	"strconv"
	"strings"
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
	// RFC 3339, UTC, in whole seconds truncated toward the past (FilterTime), as public clients
	// of the API send them; the only time operator the API documents is gt. A task matches when
	// its time is strictly after FilterTime(UpdatedAfter): up to a second more than asked for.
	UpdatedAfter   time.Time
	CompletedAfter time.Time

	Order Order
	// Limit is the page size; 0 means DefaultPageSize.
	Limit int
	// MaxTasks stops paging once this many tasks were collected (0: all pages). The slash
	// command uses it so a huge result cannot exhaust memory.
	MaxTasks int
}

// Matches reports whether t satisfies q's filters as the API is documented to apply them
// (OpenAPI GET /tasks: the values of one key are ORed, different keys ANDed): its state is one
// of States, its result code one of ResultCodes, its type one of Types, its UUID one of UUIDs
// (ignoring case), its UpdatedAt strictly after FilterTime(UpdatedAfter) and its CompletedAt
// strictly after FilterTime(CompletedAfter) — whole seconds, exactly what the query sends. An
// empty slice or a zero time filters nothing. A task without a result matches no ResultCodes
// and one without the time (zero) no time filter on it, as the API selects. Order, Limit and
// MaxTasks are no filters and play no part.
//
// The Acronis client uses it to drop what the API sends despite the query: public clients of the
// API do not rely on its filters being honoured.
func (q Query) Matches(t *Task) bool {
	switch {
	case len(q.States) > 0 && !slices.Contains(q.States, t.State),
		len(q.ResultCodes) > 0 && (t.Result == nil || !slices.Contains(q.ResultCodes, t.Result.Code)),
		len(q.Types) > 0 && !slices.Contains(q.Types, t.Type),
		len(q.UUIDs) > 0 && !slices.ContainsFunc(q.UUIDs, func(u string) bool { return strings.EqualFold(u, t.UUID) }),
		!q.UpdatedAfter.IsZero() && !t.UpdatedAt.After(FilterTime(q.UpdatedAfter)),
		!q.CompletedAfter.IsZero() && !t.CompletedAt.After(FilterTime(q.CompletedAfter)):
		return false
	}
	return true
}

// FilterTime is the time a time filter of a Query really sends and compares with: t in UTC,
// truncated to the whole second toward the past (10:00:00.9 → 10:00:00). The zero time stays
// zero.
func FilterTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Second)
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
