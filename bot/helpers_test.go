package bot

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// countingLister is a Lister for handler tests that only need to know whether the API was
// called; tests of real API behaviour use tasks/taskstest.
type countingLister struct {
	calls atomic.Int64
	delay time.Duration
	tasks []tasks.Task
}

func (c *countingLister) List(ctx context.Context, q tasks.Query) (*tasks.ListResult, error) {
	c.calls.Add(1)
	if c.delay > 0 {
		select {
		case <-time.After(c.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &tasks.ListResult{Tasks: c.tasks}, nil
}

// snap is the Snapshot an outbox entry would hold of t.
func snap(t tasks.Task) tasks.Snapshot { return tasks.NewSnapshot(&t, nil) }

// SummaryItem is one transition of a test flood.
type SummaryItem struct {
	Event tasks.Event
	Task  tasks.Task
}

// summaryOf is the Summary the announce policy makes of a flood of items: every item counted,
// the first announce.SummaryFirst kept in full.
func summaryOf(items []SummaryItem) *announce.Summary {
	s := &announce.Summary{Counts: map[tasks.Event]int{}}
	for _, it := range items {
		s.Counts[it.Event]++
		if len(s.First) < announce.SummaryFirst {
			s.First = append(s.First, announce.Transition{Event: it.Event, Task: snap(it.Task)})
		}
	}
	return s
}
