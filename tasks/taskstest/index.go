package taskstest

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/google/btree"

	"github.com/taskbot/taskbot/tasks"
)

// orderFields are the fields GET /tasks orders by (parseOrder), each with an index.
var orderFields = [...]string{"id", "enqueuedAt", "assignedAt", "startedAt", "updatedAt", "completedAt"}

// taskIndex keeps the server's tasks in the orders a list can ask for, so that a page costs
// time in proportion to the tasks it steps over rather than to all the server holds (keyset
// paging over B-trees, as a database serves `ORDER BY f, id … WHERE (f, id) > cursor`).
//
// For every order field and every state there is one tree of (field's time, id) → task: a
// query seeks to its cursor, or to the bound of a time filter on the field it orders by, in the
// trees of the states it asks for, and walks them in its direction until a page is full. Other
// filters (result code, type, time filters on other fields) are checked task by task along the
// walk. Queries for ids or UUIDs look them up directly. A task's entries are removed before it
// changes and added again after (Server.reindex).
type taskIndex struct {
	trees      [len(orderFields)][]*btree.BTreeG[entry] // field → state (tasks.States order) → tree
	byUUID     map[string]int64
	byIDString map[string]int64
}

// entry is one task in one tree: its key (the field's time, zero when absent; the id) and the
// task it leads to.
type entry struct {
	at time.Time
	id int64
	t  *tasks.Task
}

// entryLess orders entries by time (absent, the zero time, first) then id: orderSpec.compare in
// ascending order.
func entryLess(a, b entry) bool {
	if c := a.at.Compare(b.at); c != 0 {
		return c < 0
	}
	return a.id < b.id
}

func newTaskIndex() *taskIndex {
	x := &taskIndex{byUUID: map[string]int64{}, byIDString: map[string]int64{}}
	for f := range x.trees {
		x.trees[f] = make([]*btree.BTreeG[entry], len(tasks.States))
		for s := range tasks.States {
			x.trees[f][s] = btree.NewG(32, entryLess)
		}
	}
	return x
}

// stateIndex is st's position in tasks.States (st is valid: Add and SetState check it).
func stateIndex(st tasks.State) int { return slices.Index(tasks.States, st) }

func fieldIndex(field string) int { return slices.Index(orderFields[:], field) }

// entryOf is t's entry in the trees of field.
func entryOf(t *tasks.Task, field string) entry {
	e := entry{id: t.ID, t: t}
	if field != "id" {
		e.at = taskTime(t, field)
	}
	return e
}

// add indexes t, which must not be indexed already.
func (x *taskIndex) add(t *tasks.Task) {
	s := stateIndex(t.State)
	for f, field := range orderFields {
		x.trees[f][s].ReplaceOrInsert(entryOf(t, field))
	}
	x.byUUID[t.UUID] = t.ID
	x.byIDString[t.IDString] = t.ID
}

// remove takes t out of the index, before it changes or is deleted.
func (x *taskIndex) remove(t *tasks.Task) {
	s := stateIndex(t.State)
	for f, field := range orderFields {
		x.trees[f][s].Delete(entryOf(t, field))
	}
	if x.byUUID[t.UUID] == t.ID {
		delete(x.byUUID, t.UUID)
	}
	if x.byIDString[t.IDString] == t.ID {
		delete(x.byIDString, t.IDString)
	}
}

// page returns the first n tasks that match q after its cursor, in its order; byID holds every
// task by id (for queries naming ids or UUIDs).
func (x *taskIndex) page(q *listQuery, n int, byID map[int64]*tasks.Task) []*tasks.Task {
	if _, ok := q.sets["id"]; ok {
		return x.pageOf(q, n, x.named(q, byID))
	}
	if _, ok := q.sets["uuid"]; ok {
		return x.pageOf(q, n, x.named(q, byID))
	}
	states := tasks.States
	if set, ok := q.sets["state"]; ok {
		states = slices.DeleteFunc(slices.Clone(tasks.States), func(st tasks.State) bool { return !set[string(st)] })
	}
	f := fieldIndex(q.order.field)
	lo, hi := q.bounds()
	var found []*tasks.Task
	for _, st := range states {
		found = append(found, x.walk(x.trees[f][stateIndex(st)], q, n, lo, hi)...)
	}
	return x.pageOf(q, n, found) // at most n from each state's tree: merged in order
}

// named are the tasks whose id or UUID q names (before the other filters).
func (x *taskIndex) named(q *listQuery, byID map[int64]*tasks.Task) []*tasks.Task {
	var out []*tasks.Task
	seen := map[int64]bool{}
	keep := func(id int64, ok bool) {
		if t := byID[id]; ok && t != nil && !seen[id] {
			seen[id] = true
			out = append(out, t)
		}
	}
	if set, ok := q.sets["id"]; ok {
		for s := range set {
			id, err := strconv.ParseInt(s, 10, 64)
			keep(id, err == nil)
		}
		return out
	}
	for u := range q.sets["uuid"] {
		id, ok := x.byUUID[u]
		keep(id, ok)
	}
	return out
}

// pageOf is the first n of candidates that match q after its cursor, in q's order.
func (x *taskIndex) pageOf(q *listQuery, n int, candidates []*tasks.Task) []*tasks.Task {
	out := slices.DeleteFunc(candidates, func(t *tasks.Task) bool {
		return !q.matches(t) || q.after != nil && q.order.compareAt(t, q.afterAt, q.after.ID) <= 0
	})
	slices.SortFunc(out, q.order.compare)
	return out[:min(n, len(out))]
}

// walk returns the first n tasks of tree that match q after its cursor, in q's order, within the
// bounds lo < time < hi of q's time filters on the field it orders by (zero: unbounded).
func (x *taskIndex) walk(tree *btree.BTreeG[entry], q *listQuery, n int, lo, hi time.Time) []*tasks.Task {
	var out []*tasks.Task
	visit := func(e entry) bool {
		if !q.order.desc && !hi.IsZero() && !e.at.Before(hi) || q.order.desc && !lo.IsZero() && !e.at.After(lo) {
			return false // past the bound of the time filter: nothing further matches
		}
		if q.after != nil && q.order.compareAt(e.t, q.afterAt, q.after.ID) <= 0 {
			return true // the cursor's own task
		}
		if q.matches(e.t) {
			out = append(out, e.t)
		}
		return len(out) < n
	}
	if !q.order.desc {
		pivot, seek := entry{id: math.MinInt64}, false
		if q.after != nil {
			pivot, seek = entry{at: q.afterAt, id: q.after.ID}, true
		}
		if !lo.IsZero() && entryLess(pivot, entry{at: lo, id: math.MinInt64}) {
			pivot, seek = entry{at: lo, id: math.MinInt64}, true
		}
		if seek {
			tree.AscendGreaterOrEqual(pivot, visit)
		} else {
			tree.Ascend(visit)
		}
		return out
	}
	var pivot entry
	seek := false
	if q.after != nil {
		pivot, seek = entry{at: q.afterAt, id: q.after.ID}, true
	}
	if top := (entry{at: hi, id: math.MaxInt64}); !hi.IsZero() && (!seek || entryLess(top, pivot)) {
		pivot, seek = top, true
	}
	if seek {
		tree.DescendLessOrEqual(pivot, visit)
	} else {
		tree.Descend(visit)
	}
	return out
}

// bounds are the tightest bounds lo < time < hi that q's time filters put on the field it
// orders by; zero where there is none (and always for order by id).
func (q *listQuery) bounds() (lo, hi time.Time) {
	for _, f := range q.times {
		if f.field != q.order.field {
			continue
		}
		if f.gt && (lo.IsZero() || f.t.After(lo)) {
			lo = f.t
		}
		if !f.gt && (hi.IsZero() || f.t.Before(hi)) {
			hi = f.t
		}
	}
	return lo, hi
}
