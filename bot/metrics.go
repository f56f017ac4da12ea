package bot

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are taskbot's Prometheus metrics, on a registry of their own so that several bots can
// run in one process (tests). Names follow https://prometheus.io/docs/practices/naming/.
// No label ever carries a secret or user text.
type Metrics struct {
	Registry *prometheus.Registry

	Polls          *prometheus.CounterVec // result: ok, error
	PollDuration   prometheus.Histogram   // seconds
	LastPoll       prometheus.Gauge       // Unix seconds of the last successful poll
	Transitions    *prometheus.CounterVec // event
	Announcements  *prometheus.CounterVec // result: posted, summarized, shortened, dropped
	SlackErrors    *prometheus.CounterVec // code: Slack's error string, http_NNN, network
	OutboxPending  prometheus.Gauge       // entries not yet delivered
	TasksTracked   prometheus.Gauge       // task records in the state file
	Commands       *prometheus.CounterVec // kind: list, help, usage, refresh, bad_signature
	CommandLatency prometheus.Histogram   // seconds from request to answer
	APIErrors      *prometheus.CounterVec // status: HTTP status or "network"
}

// NewMetrics creates and registers the metrics, plus the Go and process collectors.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
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
		SlackErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskbot_slack_errors_total", Help: "Failed Slack calls by error code.",
		}, []string{"code"}),
		OutboxPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "taskbot_outbox_pending", Help: "Announcements waiting in the outbox.",
		}),
		TasksTracked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "taskbot_tasks_tracked", Help: "Task records in the state file.",
		}),
		Commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskbot_commands_total", Help: "Slash commands and interactions by kind.",
		}, []string{"kind"}),
		CommandLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "taskbot_command_answer_seconds", Help: "Time from a /tasks request to its answer.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 3, 5, 10, 30},
		}),
		APIErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskbot_task_manager_errors_total", Help: "Failed Task Manager API calls by HTTP status.",
		}, []string{"status"}),
	}
	r.MustRegister(m.Polls, m.PollDuration, m.LastPoll, m.Transitions, m.Announcements, m.SlackErrors,
		m.OutboxPending, m.TasksTracked, m.Commands, m.CommandLatency, m.APIErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
