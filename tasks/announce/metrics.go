package announce

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the pipeline's Prometheus metrics. Names follow
// https://prometheus.io/docs/practices/naming/; no label ever carries a secret or user text.
type Metrics struct {
	Polls         *prometheus.CounterVec // result: ok, error
	PollDuration  prometheus.Histogram   // seconds
	LastPoll      prometheus.Gauge       // Unix seconds of the last successful poll
	Transitions   *prometheus.CounterVec // event
	Announcements *prometheus.CounterVec // result: posted, summarized, shortened, dropped
	OutboxPending prometheus.Gauge       // entries not yet delivered
	TasksTracked  prometheus.Gauge       // task records in the state file
	APIErrors     *prometheus.CounterVec // status: HTTP status or "other"
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered, as in tests
// that read them directly).
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
			Name: "taskbot_announcements_total", Help: "Outbox entries handled, by result (posted, summarized, shortened, dropped).",
		}, []string{"result"}),
		OutboxPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "taskbot_outbox_pending", Help: "Announcements waiting in the outbox.",
		}),
		TasksTracked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "taskbot_tasks_tracked", Help: "Task records in the state file.",
		}),
		APIErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskbot_task_manager_errors_total", Help: "Failed Task Manager API calls by HTTP status.",
		}, []string{"status"}),
	}
	if reg != nil {
		reg.MustRegister(m.Polls, m.PollDuration, m.LastPoll, m.Transitions, m.Announcements,
			m.OutboxPending, m.TasksTracked, m.APIErrors)
	}
	return m
}
