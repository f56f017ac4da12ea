package acronis_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// The real Task Manager API departs from its OpenAPI document; public clients of it (Zabbix's
// template, a Prometheus exporter, Acronis's samples) cope with what follows. Each test injects
// the quirk into the fake over HTTP and checks what the client makes of it.

// logRecord is one log record with its attributes as strings.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// logRecorder is a slog.Handler that keeps every record at any level.
type logRecorder struct {
	mu      *sync.Mutex
	records *[]logRecord
	attrs   []slog.Attr
}

func newLogRecorder() *logRecorder {
	return &logRecorder{mu: &sync.Mutex{}, records: &[]logRecord{}}
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, rec)
	return nil
}

func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(slices.Clip(h.attrs), as...)
	return &c
}

func (h *logRecorder) WithGroup(string) slog.Handler { return h }

// warnings are the WARN records so far.
func (h *logRecorder) warnings() []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range *h.records {
		if r.level == slog.LevelWarn {
			out = append(out, r)
		}
	}
	return out
}

// withLogger sets the client's logger.
func withLogger(h slog.Handler) func(*acronis.Config) {
	return func(c *acronis.Config) { c.Logger = slog.New(h) }
}

func TestMalformedItemsAreSkippedAndTheRestOfThePageKept(t *testing.T) {
	s := newServer(t)
	added := addN(s, 3, tasks.Started)
	const (
		badID   = "38045860-8901-426e-b51f-fc6d24d1cbe0"
		badTime = "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69"
		goodRaw = "0b7e3c4d-1111-4a2b-8c3d-9e8f7a6b5c4d"
	)
	s.SetRawItems(
		`{"id":"abc","uuid":"`+badID+`","state":"started"}`,
		`{"id":944455285181770001,"uuid":"`+badTime+`","state":"completed","completedAt":12}`,
		`{"id":944455285181770002,"state":5}`,
		// Empty and null times are absent times, not errors: this task is kept.
		`{"id":944455285181770003,"uuid":"`+goodRaw+`","state":"started","enqueuedAt":"2020-04-22T10:00:00Z","updatedAt":"2020-04-22T10:00:01Z","completedAt":"","startedAt":null,"issuer":{"id":"x"},"assignCount":1}`,
	)
	logs := newLogRecorder()
	c := newClient(t, s, withLogger(logs))
	res, err := c.List(context.Background(), tasks.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, tk := range res.Tasks {
		keys = append(keys, tk.Key())
	}
	want := []string{added[0].UUID, added[1].UUID, added[2].UUID, goodRaw}
	if !slices.Equal(keys, want) {
		t.Errorf("tasks %v, want %v", keys, want)
	}
	if res.Skipped != 3 {
		t.Errorf("Skipped = %d, want 3", res.Skipped)
	}
	if kept := res.Tasks[3]; !kept.CompletedAt.IsZero() || !kept.StartedAt.IsZero() || kept.State != tasks.Started {
		t.Errorf("kept task %+v, want no completedAt nor startedAt", kept)
	}
	type warning struct{ task, field string }
	var got []warning
	for _, w := range logs.warnings() {
		got = append(got, warning{w.attrs["task"], w.attrs["field"]})
	}
	if want := []warning{{badID, "id"}, {badTime, "completedAt"}, {"", "state"}}; !slices.Equal(got, want) {
		t.Errorf("warnings %v, want one per bad item %v", got, want)
	}
}

func TestTaskByKeyReadsEmptyTimesAsAbsent(t *testing.T) {
	s := newServer(t)
	const id = "944455285181770003"
	s.Fail(taskstest.Fault{Path: taskstest.TasksPath + "/" + id, Status: 200, ContentType: "application/json",
		Body: `{"id":` + id + `,"state":"started","enqueuedAt":"2020-04-22T10:00:00Z","updatedAt":"2020-04-22T10:00:01Z","startedAt":"","completedAt":null,"issuer":{"id":"x"},"assignCount":1}`})
	c := newClient(t, s)
	got, err := c.Task(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got.IDString != "" || got.Key() != id || !got.StartedAt.IsZero() || !got.CompletedAt.IsZero() || got.UpdatedAt.IsZero() {
		t.Errorf("task %+v, want id %s with startedAt and completedAt absent", got, id)
	}
}
