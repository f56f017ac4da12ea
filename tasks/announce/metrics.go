package announce

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the pipeline's Prometheus metrics. Names follow
// https://prometheus.io/docs/practices/naming/; no label ever carries a secret or user text.
// Counters whose label values are known exist at 0 from the start, so alert rules can use
// them before the first error.
type Metrics struct {
	Polls         *prometheus.CounterVec // result: ok, error
	PollDuration  prometheus.Histogram   // seconds
	LastPoll      prometheus.Gauge       // Unix seconds of the last successful poll
	Transitions   *prometheus.CounterVec // event
	Announcements *prometheus.CounterVec // result: posted, summarized, shortened, dropped, muted, digest
	TasksTracked  prometheus.Gauge       // task records in the state file
	TasksSkipped  prometheus.Counter     // list items the API sent that could not be decoded
	APIErrors     *prometheus.CounterVec // status: HTTP status or "other"

	mu     sync.Mutex
	outbox OutboxStore // read by the outbox gauges at scrape time
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered, as in tests
// that read them directly). The outbox gauges, taskbot_outbox_pending and
// taskbot_outbox_oldest_age_seconds, read the store of the Announcer using the metrics when
// Prometheus scrapes them, so they stay true while the Announcer waits.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskbot_polls_total", Help: "Polls of the Task Manager API by result.",
		}, []string{"result"}),
		PollDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "taskbot_poll_duration_seconds", Help: "Duration of a poll, paging included.",
			Buckets: prometheus.DefBuckets,
		}),
		LastPoll: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "taskbot_last_successful_poll_timestamp_seconds", Help: "Unix time of the last successful poll.",
		}),
		Transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskbot_transitions_total", Help: "Task transitions queued for announcement, by event.",
		}, []string{"event"}),
		Announcements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskbot_announcements_total", Help: "Announcements by result (posted, summarized, shortened, dropped, digest; muted ones never reach the outbox).",
		}, []string{"result"}),
		TasksTracked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "taskbot_tasks_tracked", Help: "Task records in the state file.",
		}),
		TasksSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taskbot_tasks_skipped_total", Help: "Tasks the API sent that could not be read and were left out (each is logged).",
		}),
		APIErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskbot_task_manager_errors_total", Help: "Failed Task Manager API calls by HTTP status.",
		}, []string{"status"}),
	}
	for _, r := range []string{"ok", "error"} {
		m.Polls.WithLabelValues(r)
	}
	for _, r := range []string{"posted", "summarized", "shortened", "dropped", "muted", "digest"} {
		m.Announcements.WithLabelValues(r)
	}
	m.APIErrors.WithLabelValues("other")
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "taskbot_outbox_pending", Help: "Announcements waiting in the outbox.",
	}, func() float64 { n, _ := m.backlog(); return float64(n) })
	oldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "taskbot_outbox_oldest_age_seconds", Help: "Age of the oldest announcement waiting in the outbox (0 when it is empty).",
	}, func() float64 {
		if _, t := m.backlog(); !t.IsZero() {
			return time.Since(t).Seconds()
		}
		return 0
	})
	if reg != nil {
		reg.MustRegister(m.Polls, m.PollDuration, m.LastPoll, m.Transitions, m.Announcements,
			m.TasksTracked, m.TasksSkipped, m.APIErrors, pending, oldest)
	}
	return m
}

// watchOutbox makes the outbox gauges read store.
func (m *Metrics) watchOutbox(store OutboxStore) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.outbox = store
}

// backlog is the outbox's size and oldest entry, zero when unknown.
func (m *Metrics) backlog() (int, time.Time) {
	m.mu.Lock()
	store := m.outbox
	m.mu.Unlock()
	if store == nil {
		return 0, time.Time{}
	}
	n, oldest, err := store.Backlog()
	if err != nil {
		return 0, time.Time{}
	}
	return n, oldest
}
