package bot

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Slack side's Prometheus metrics (the pipeline's are announce.Metrics). Names
// follow https://prometheus.io/docs/practices/naming/; no label ever carries a secret or user
// text.
type Metrics struct {
	SlackErrors    *prometheus.CounterVec // code: Slack's error string, http_NNN, network
	Commands       *prometheus.CounterVec // kind: list, help, usage, refresh, bad_signature
	CommandLatency prometheus.Histogram   // seconds from request to answer
	// ResponseURLErrors counts answers that could not be posted to a response_url (late slash
	// command answers, button answers): each such user saw a progress note and no answer.
	ResponseURLErrors prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered, as in tests
// that read them directly). taskbot_slack_errors_total exists at 0 for the codes an alert rule
// would watch (countedCodes).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		SlackErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskbot_slack_errors_total", Help: "Failed Slack calls by error code.",
		}, []string{"code"}),
		Commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskbot_commands_total", Help: "Slash commands and interactions by kind.",
		}, []string{"kind"}),
		CommandLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "taskbot_command_answer_seconds", Help: "Time from a /tasks request to its answer.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 3, 5, 10, 30},
		}),
		ResponseURLErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "taskbot_response_url_errors_total", Help: "Answers that could not be posted to a response_url.",
		}),
	}
	for _, code := range countedCodes() {
		m.SlackErrors.WithLabelValues(code)
	}
	if reg != nil {
		reg.MustRegister(m.SlackErrors, m.Commands, m.CommandLatency, m.ResponseURLErrors)
	}
	return m
}
