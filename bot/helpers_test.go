package bot

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/taskbot/taskbot/tasks"
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

func filepathRead(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
