// Package grafana builds taskbot's Grafana dashboard with the Grafana Foundation SDK. The JSON
// it makes is committed as deploy/grafana/taskbot.json (import it in Grafana: Dashboards → New →
// Import) and as the Helm chart's files/taskbot-dashboard.json; `go generate ./grafana` (in
// deploy/) writes both, and TestCommittedJSON fails while either differs from what Build makes.
//
// Every query reads only what taskbot exports on /metrics (README.md, "HTTP"): deploy's
// TestDashboardAndRulesUseExportedMetrics checks each metric and label value against a running
// taskbot.
package grafana

//go:generate go run ./gen

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// UID is the dashboard's uid: importing the JSON again replaces the dashboard instead of adding
// a second one.
const UID = "taskbot"

// Files are the paths, relative to deploy/, where the dashboard's JSON is committed.
var Files = []string{"grafana/taskbot.json", "helm/taskbot/files/taskbot-dashboard.json"}

// sel is the label selector of every query: the taskbots chosen in the dashboard's job and
// instance variables.
const sel = `job=~"$job", instance=~"$instance"`

// ds is the Prometheus data source chosen in the dashboard's datasource variable.
var ds = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// query is one PromQL target with its legend ("{{event}}" names a series by its label).
func query(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Expr(expr).LegendFormat(legend).Datasource(ds)
}

// thresholds are colour steps: green below the first value, then orange, then red.
func thresholds(orange, red float64) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
		{Value: nil, Color: "green"},
		{Value: cog.ToPtr(orange), Color: "orange"},
		{Value: cog.ToPtr(red), Color: "red"},
	})
}

// panelIDs numbers the panels and rows of one dashboard, from 1 in the order they are made.
type panelIDs uint32

func (n *panelIDs) next() uint32 { *n++; return uint32(*n) }

// refIDs names a panel's targets A, B, C… in order.
func refIDs(targets []*prometheus.DataqueryBuilder) {
	for i, t := range targets {
		t.RefId(string(rune('A' + i)))
	}
}

// graph is a time series panel of w×h grid units (24 is the dashboard's width).
func graph(id uint32, title, description, unit string, w, h uint32, targets ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	refIDs(targets)
	p := timeseries.NewPanelBuilder().Id(id).Title(title).Description(description).Unit(unit).Min(0).
		Span(w).Height(h).Datasource(ds).FillOpacity(10).
		Legend(common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
	for _, t := range targets {
		p.WithTarget(t)
	}
	return p
}

// Build returns the dashboard: rows for polls, announcements and the outbox, Slack, and the
// process. Its error is the SDK's, for a builder given an invalid value.
func Build() (dashboard.Dashboard, error) {
	perMinute := func(metric, by string) string {
		return fmt.Sprintf(`sum by (%s) (rate(%s{%s}[$__rate_interval])) * 60`, by, metric, sel)
	}
	quantile := func(q, metric string) string {
		return fmt.Sprintf(`histogram_quantile(%s, sum by (le) (rate(%s_bucket{%s}[$__rate_interval])))`, q, metric, sel)
	}
	var ids panelIDs
	b := dashboard.NewDashboardBuilder("taskbot").
		Uid(UID).
		Description("taskbot, the Slack bot for Acronis Cyber Protect Cloud tasks: polls of the Task Manager API, announcements, the outbox, Slack errors and slash commands. Alerts: deploy/prometheus/taskbot-rules.yaml; runbooks: docs/operations.md.").
		Tags([]string{"taskbot", "slack", "acronis"}).
		Refresh("1m").
		Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")).
		WithVariable(dashboard.NewQueryVariableBuilder("job").Label("Job").
			Datasource(ds).
			Query(dashboard.StringOrMap{String: cog.ToPtr("label_values(taskbot_polls_total, job)")}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).IncludeAll(true).AllValue(".*")).
		WithVariable(dashboard.NewQueryVariableBuilder("instance").Label("Instance").
			Datasource(ds).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(taskbot_polls_total{job=~"$job"}, instance)`)}).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).IncludeAll(true).AllValue(".*"))

	b.WithRow(dashboard.NewRowBuilder("Polls of the Task Manager API").Id(ids.next())).
		WithPanel(stat.NewPanelBuilder().Id(ids.next()).Title("Time since the last good poll").
			Description("Seconds since the last successful poll. TaskbotPollsStale fires over 15 minutes (for 5 more). Before the first successful poll the gauge is 0, so this shows decades.").
			Unit("s").Span(6).Height(8).Datasource(ds).
			Thresholds(thresholds(300, 900)).
			ColorMode(common.BigValueColorModeBackground).GraphMode(common.BigValueGraphModeArea).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
			WithTarget(query(fmt.Sprintf(`time() - max by (instance) (taskbot_last_successful_poll_timestamp_seconds{%s})`, sel), "{{instance}}").RefId("A"))).
		WithPanel(graph(ids.next(), "Polls by result", "Polls per minute, ok and error. A failed poll is retried with backoff (doubling from TASKBOT_POLL_INTERVAL, at most a minute apart).", "none", 9, 8,
			query(perMinute("taskbot_polls_total", "result"), "{{result}}"))).
		WithPanel(graph(ids.next(), "Task Manager API errors by status", "Failed Task Manager API calls per minute by HTTP status (\"other\": no answer, a timeout, a network error).", "none", 9, 8,
			query(perMinute("taskbot_task_manager_errors_total", "status"), "{{status}}"))).
		WithPanel(graph(ids.next(), "Poll duration", "How long one poll takes, paging included (50th and 95th percentile).", "s", 12, 8,
			query(quantile("0.5", "taskbot_poll_duration_seconds"), "p50"),
			query(quantile("0.95", "taskbot_poll_duration_seconds"), "p95"))).
		WithPanel(graph(ids.next(), "Tasks tracked and skipped", "Task records in the state file, and tasks per minute the API sent that could not be read (each is logged with the field).", "none", 12, 8,
			query(fmt.Sprintf(`sum(taskbot_tasks_tracked{%s})`, sel), "tracked"),
			query(fmt.Sprintf(`sum(rate(taskbot_tasks_skipped_total{%s}[$__rate_interval])) * 60`, sel), "skipped per minute")))

	b.WithRow(dashboard.NewRowBuilder("Announcements and the outbox").Id(ids.next())).
		WithPanel(graph(ids.next(), "Transitions by event", "Task transitions per minute that were queued for announcement, by event (started, resumed, paused, completed, failed, stuck, …).", "none", 12, 8,
			query(perMinute("taskbot_transitions_total", "event"), "{{event}}"))).
		WithPanel(graph(ids.next(), "Announcements by result", "Per minute: posted, summarized (transitions in one flood summary), shortened, digest (daily digests posted), dropped (Slack refused every form: TaskbotAnnouncementsDropped) and muted (dropped by a /tasks mute, never posted).", "none", 12, 8,
			query(perMinute("taskbot_announcements_total", "result"), "{{result}}"))).
		WithPanel(graph(ids.next(), "Outbox depth", "Announcements waiting in the outbox to be posted.", "none", 12, 8,
			query(fmt.Sprintf(`sum by (instance) (taskbot_outbox_pending{%s})`, sel), "{{instance}}"))).
		WithPanel(graph(ids.next(), "Oldest announcement waiting", "Age of the oldest announcement in the outbox (0 when it is empty). TaskbotOutboxNotDraining fires over 15 minutes (for 5 more).", "s", 12, 8,
			query(fmt.Sprintf(`max by (instance) (taskbot_outbox_oldest_age_seconds{%s})`, sel), "{{instance}}")).
			Thresholds(thresholds(300, 900)).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine)))

	b.WithRow(dashboard.NewRowBuilder("Slack").Id(ids.next())).
		WithPanel(graph(ids.next(), "Slack errors by code", "Failed Slack calls per minute by error code: invalid_auth, token_revoked, missing_scope … (TaskbotSlackAuthFailing), not_in_channel, channel_not_found, is_archived (TaskbotRemovedFromChannel), ratelimited, network, http_NNN.", "none", 12, 8,
			query(perMinute("taskbot_slack_errors_total", "code"), "{{code}}"))).
		WithPanel(graph(ids.next(), "Slash-command answer time", "Time from a /tasks request to its answer (50th, 95th and 99th percentile). Slack waits 3 s for the acknowledgement; a slower answer comes through response_url.", "s", 12, 8,
			query(quantile("0.5", "taskbot_command_answer_seconds"), "p50"),
			query(quantile("0.95", "taskbot_command_answer_seconds"), "p95"),
			query(quantile("0.99", "taskbot_command_answer_seconds"), "p99")).
			Thresholds(thresholds(2, 3)).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine))).
		WithPanel(graph(ids.next(), "Slash commands and clicks by kind", "/tasks requests and button clicks per minute by kind (bad_signature: refused requests).", "none", 12, 8,
			query(perMinute("taskbot_commands_total", "kind"), "{{kind}}"))).
		WithPanel(graph(ids.next(), "Late answers lost", "Answers that came after the 1 s budget and could not be posted to the request's response_url, per minute (the user saw only the progress note; the log names the host and the error).", "none", 12, 8,
			query(fmt.Sprintf(`sum(rate(taskbot_response_url_errors_total{%s}[$__rate_interval])) * 60`, sel), "lost per minute")))

	b.WithRow(dashboard.NewRowBuilder("Process").Id(ids.next())).
		WithPanel(graph(ids.next(), "Memory", "Resident memory of the taskbot process, and the Go heap in use.", "bytes", 12, 8,
			query(fmt.Sprintf(`process_resident_memory_bytes{%s}`, sel), "resident {{instance}}"),
			query(fmt.Sprintf(`go_memstats_heap_inuse_bytes{%s}`, sel), "heap {{instance}}"))).
		WithPanel(graph(ids.next(), "CPU", "CPU time used per second (1 = one core).", "none", 12, 8,
			query(fmt.Sprintf(`rate(process_cpu_seconds_total{%s}[$__rate_interval])`, sel), "{{instance}}")))

	return b.Build()
}

// JSON is the dashboard as the committed files hold it: indented by two spaces, with a final
// newline.
func JSON() ([]byte, error) {
	d, err := Build()
	if err != nil {
		return nil, fmt.Errorf("build the dashboard: %w", err)
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode the dashboard: %w", err)
	}
	return append(b, '\n'), nil
}
