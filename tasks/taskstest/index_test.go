package taskstest

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// naivePage is what a page must hold: every task that matches q, sorted in q's order, after
// q's cursor, the first n (the fake's algorithm before the index).
func naivePage(s *Server, q *listQuery, n int) []*tasks.Task {
	var matched []*tasks.Task
	for _, t := range s.tasks {
		if q.matches(t) && (q.after == nil || q.order.compareAt(t, q.afterAt, q.after.ID) > 0) {
			matched = append(matched, t)
		}
	}
	slices.SortFunc(matched, q.order.compare)
	return matched[:min(n, len(matched))]
}

func ids(ts []*tasks.Task) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

// TestIndexPagesLikeSortingEverything pages through random queries (states, result codes, time
// filters on the ordering field and on others, every order in both directions, ids and UUIDs)
// over random tasks, changing and deleting tasks between pages, and checks each page against
// sorting every matching task.
func TestIndexPagesLikeSortingEverything(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	s := NewServer()
	defer s.Close()
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s.SetClockOffset(time.Until(base))                                                    // changes are stamped within a second or so of base
	at := func() time.Time { return base.Add(time.Duration(rnd.IntN(40)) * time.Second) } // many ties
	var keys []string
	for range 400 {
		tk := s.Add(tasks.Task{State: tasks.Enqueued, UpdatedAt: at(), EnqueuedAt: at()})
		keys = append(keys, tk.UUID)
	}
	step := func() { // a random change, as the simulator and tests make them
		k := keys[rnd.IntN(len(keys))]
		switch rnd.IntN(8) {
		case 0:
			_ = s.Delete(k)
		default:
			st := tasks.States[rnd.IntN(len(tasks.States))]
			code := tasks.ResultCode("")
			if st == tasks.Completed {
				code = tasks.ResultCodes[rnd.IntN(len(tasks.ResultCodes))]
			}
			_, _ = s.SetState(k, st, code)
		}
	}
	for range 300 {
		step()
	}
	fields := orderFields[:]
	for i := range 400 {
		v := url.Values{}
		for _, st := range tasks.States {
			if rnd.IntN(3) == 0 {
				v.Add("state", string(st))
			}
		}
		if rnd.IntN(5) == 0 {
			v.Add("resultCode", string(tasks.ResultCodes[rnd.IntN(len(tasks.ResultCodes))]))
		}
		field := fields[rnd.IntN(len(fields))]
		dir := []string{"asc", "desc"}[rnd.IntN(2)]
		v.Set("order", dir+"("+field+")")
		for range rnd.IntN(3) {
			f := timeFields[rnd.IntN(len(timeFields))]
			if rnd.IntN(2) == 0 {
				f = field // a bound on the ordering field, when it is a time
			}
			if f == "id" {
				continue
			}
			bound := base.Add(time.Duration(rnd.IntN(60)-10) * time.Second)
			if tk, ok := s.Task(keys[rnd.IntN(len(keys))]); ok && rnd.IntN(2) == 0 {
				bound = taskTime(&tk, f) // a task's own time: the bound is exclusive
			}
			if bound.IsZero() {
				continue
			}
			op := []string{"gt", "lt"}[rnd.IntN(2)]
			v.Set(f, fmt.Sprintf("%s(%s)", op, bound.Format(time.RFC3339Nano)))
		}
		if rnd.IntN(10) == 0 {
			for range 1 + rnd.IntN(5) {
				if tk, ok := s.Task(keys[rnd.IntN(len(keys))]); ok {
					if rnd.IntN(2) == 0 {
						v.Add("uuid", tk.UUID)
					} else {
						v.Add("id", tk.IDString)
					}
				}
			}
		}
		limit := 1 + rnd.IntN(30)
		q, berr := parseListQuery(v)
		if berr != nil {
			t.Fatalf("query %s: %s", v.Encode(), berr.msg)
		}
		for pageNo := 0; pageNo < 50; pageNo++ {
			s.mu.Lock()
			got, want := s.index.page(q, limit, s.tasks), naivePage(s, q, limit)
			s.mu.Unlock()
			if !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("query %d %s, page %d (limit %d):\n got %v\nwant %v", i, v.Encode(), pageNo, limit, ids(got), ids(want))
			}
			if len(got) < limit {
				break
			}
			last := got[len(got)-1]
			c := cursor{V: 2, Key: q.order.key(last), ID: last.ID}
			q2 := *q
			q2.after = &c
			q2.afterAt = time.Time{}
			if c.Key != "" {
				q2.afterAt, _ = time.Parse(time.RFC3339Nano, c.Key)
			}
			q = &q2
			for range rnd.IntN(3) {
				step() // tasks change between pages
			}
		}
	}
}
