package deploy_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// rulesFile is the one source of taskbot's alert rules; the chart's copy must equal it.
const (
	rulesFile      = "prometheus/taskbot-rules.yaml"
	chartRulesFile = "helm/taskbot/files/taskbot-rules.yaml"
	operationsDoc  = "../docs/operations.md"
)

// loadRules parses the rules file as Prometheus does (rulefmt: unknown fields, PromQL and the
// annotations' templates are errors) and returns its rules.
func loadRules(t *testing.T) []rulefmt.Rule {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(b, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("%s: %v", rulesFile, err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	var rules []rulefmt.Rule
	for _, g := range groups.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// alertScenario is a set of series (promqltest's load syntax, one sample a minute from time 0)
// and whether the alert's expression selects something at the given time: when it does, the
// alert is pending (firing after its `for`).
type alertScenario struct {
	name   string
	series string
	at     time.Duration
	fires  bool
	labels map[string]string // labels a firing result must have
}

// scenarios holds, for every alert of the rules file, cases where it must fire and where it must
// not.
var scenarios = map[string][]alertScenario{
	"TaskbotPollsFailing": {
		{name: "every poll of 10 minutes failed", fires: true, at: 30 * time.Minute, labels: map[string]string{"instance": "a"},
			series: `taskbot_polls_total{job="taskbot", instance="a", result="error"} 0+2x30
				taskbot_polls_total{job="taskbot", instance="a", result="ok"} 100x30`},
		{name: "some polls fail, others succeed", at: 30 * time.Minute,
			series: `taskbot_polls_total{job="taskbot", instance="a", result="error"} 0+1x30
				taskbot_polls_total{job="taskbot", instance="a", result="ok"} 0+1x30`},
		{name: "polls succeed", at: 30 * time.Minute,
			series: `taskbot_polls_total{job="taskbot", instance="a", result="error"} 0x30
				taskbot_polls_total{job="taskbot", instance="a", result="ok"} 0+2x30`},
	},
	"TaskbotPollsStale": {
		{name: "the last good poll was 29 minutes ago", fires: true, at: 30 * time.Minute, labels: map[string]string{"instance": "a"},
			series: `taskbot_last_successful_poll_timestamp_seconds{job="taskbot", instance="a"} 60x30`},
		{name: "no good poll since the start 29 minutes ago", fires: true, at: 30 * time.Minute,
			series: `taskbot_last_successful_poll_timestamp_seconds{job="taskbot", instance="a"} 0x30
				process_start_time_seconds{job="taskbot", instance="a"} 60x30`},
		{name: "another job's process is no taskbot", at: 30 * time.Minute,
			series: `process_start_time_seconds{job="node", instance="b"} 60x30`},
		{name: "no good poll yet, started 5 minutes ago", at: 30 * time.Minute,
			series: `taskbot_last_successful_poll_timestamp_seconds{job="taskbot", instance="a"} 0x30
				process_start_time_seconds{job="taskbot", instance="a"} 1500x30`},
		{name: "a good poll every minute", at: 30 * time.Minute,
			series: `taskbot_last_successful_poll_timestamp_seconds{job="taskbot", instance="a"} 0+60x30`},
	},
	"TaskbotOutboxNotDraining": {
		{name: "the oldest entry waits for 30 minutes", fires: true, at: 30 * time.Minute, labels: map[string]string{"instance": "a"},
			series: `taskbot_outbox_oldest_age_seconds{job="taskbot", instance="a"} 0+60x30`},
		{name: "entries come and go", at: 30 * time.Minute,
			series: `taskbot_outbox_oldest_age_seconds{job="taskbot", instance="a"} 0 2 0 0 5 1 0 0 0 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0`},
		{name: "an empty outbox", at: 30 * time.Minute,
			series: `taskbot_outbox_oldest_age_seconds{job="taskbot", instance="a"} 0x30`},
	},
	"TaskbotAnnouncementsDropped": {
		{name: "one dropped 40 minutes ago", fires: true, at: 60 * time.Minute, labels: map[string]string{"result": "dropped"},
			series: `taskbot_announcements_total{job="taskbot", instance="a", result="dropped"} 0x20 1x40`},
		{name: "none dropped, many posted", at: 60 * time.Minute,
			series: `taskbot_announcements_total{job="taskbot", instance="a", result="dropped"} 0x60
				taskbot_announcements_total{job="taskbot", instance="a", result="posted"} 0+5x60`},
	},
	"TaskbotSlackAuthFailing": {
		{name: "invalid_auth at every post", fires: true, at: 30 * time.Minute, labels: map[string]string{"code": "invalid_auth"},
			series: `taskbot_slack_errors_total{job="taskbot", instance="a", code="invalid_auth"} 0+1x30`},
		{name: "token_revoked", fires: true, at: 30 * time.Minute, labels: map[string]string{"code": "token_revoked"},
			series: `taskbot_slack_errors_total{job="taskbot", instance="a", code="token_revoked"} 0+1x30`},
		{name: "rate limited only", at: 30 * time.Minute,
			series: `taskbot_slack_errors_total{job="taskbot", instance="a", code="invalid_auth"} 0x30
				taskbot_slack_errors_total{job="taskbot", instance="a", code="ratelimited"} 0+3x30`},
	},
	"TaskbotRemovedFromChannel": {
		{name: "not_in_channel at every retry", fires: true, at: 30 * time.Minute, labels: map[string]string{"code": "not_in_channel"},
			series: `taskbot_slack_errors_total{job="taskbot", instance="a", code="not_in_channel"} 0+1x30`},
		{name: "an archived channel", fires: true, at: 30 * time.Minute, labels: map[string]string{"code": "is_archived"},
			series: `taskbot_slack_errors_total{job="taskbot", instance="a", code="is_archived"} 0+1x30`},
		{name: "an old not_in_channel, fixed an hour ago", at: 90 * time.Minute,
			series: `taskbot_slack_errors_total{job="taskbot", instance="a", code="not_in_channel"} 0+1x30 30x60
				taskbot_slack_errors_total{job="taskbot", instance="a", code="invalid_auth"} 0x90`},
	},
	"TaskbotAbsent": {
		{name: "no taskbot scraped", fires: true, at: 30 * time.Minute,
			series: `up{job="other"} 1x30`},
		{name: "a taskbot scraped", at: 30 * time.Minute,
			series: `taskbot_polls_total{job="taskbot", instance="a", result="ok"} 0+2x30`},
	},
}

// TestAlertRules validates the rules file as Prometheus does, checks each alert's labels and
// annotations and its runbook section in docs/operations.md, and evaluates each alert's
// expression with Prometheus's engine on the series of its scenarios.
func TestAlertRules(t *testing.T) {
	rules := loadRules(t)
	doc, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	sections := markdownSections(string(doc))
	seen := map[string]bool{}
	for _, r := range rules {
		t.Run(r.Alert, func(t *testing.T) {
			if r.Alert == "" || !strings.HasPrefix(r.Alert, "Taskbot") {
				t.Fatalf("rule %q: want an alert named Taskbot…, not a recording rule", r.Expr)
			}
			seen[r.Alert] = true
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("severity %q, want warning or critical", s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("no %s annotation", a)
				}
			}
			anchor := strings.ToLower(r.Alert)
			if want := "docs/operations.md#" + anchor; r.Annotations["runbook_url"] != want {
				t.Errorf("runbook_url %q, want %q", r.Annotations["runbook_url"], want)
			}
			if body, ok := sections[anchor]; !ok {
				t.Errorf("%s has no section #%s (a heading %q)", operationsDoc, anchor, r.Alert)
			} else if len(strings.Fields(body)) < 30 {
				t.Errorf("%s#%s: the runbook has only %d words: %q", operationsDoc, anchor, len(strings.Fields(body)), body)
			}

			cases := scenarios[r.Alert]
			var fires, quiet bool
			for _, c := range cases {
				fires, quiet = fires || c.fires, quiet || !c.fires
				t.Run(c.name, func(t *testing.T) { checkScenario(t, r.Expr, c) })
			}
			if !fires || !quiet {
				t.Errorf("scenarios: want at least one where %s fires and one where it does not", r.Alert)
			}
		})
	}
	for name := range scenarios {
		if !seen[name] {
			t.Errorf("a scenario for %s, which the rules file does not have", name)
		}
	}
	if len(rules) < 6 {
		t.Errorf("the rules file has %d alerts, want the six of the issue and more", len(rules))
	}
}

// checkScenario evaluates expr at c.at on c.series.
func checkScenario(t *testing.T, expr string, c alertScenario) {
	storage := promqltest.LoadedStorage(t, "load 1m\n"+indent(c.series))
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	q, err := engine.NewInstantQuery(context.Background(), storage, nil, expr, time.Unix(0, 0).UTC().Add(c.at))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	res := q.Exec(context.Background())
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	vec, err := res.Vector()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(vec) > 0; got != c.fires {
		t.Fatalf("fires = %v, want %v; result %v", got, c.fires, vec)
	}
	for _, s := range vec {
		for k, v := range c.labels {
			if got := s.Metric.Get(k); got != v {
				t.Errorf("result %v: label %s = %q, want %q", s.Metric, k, got, v)
			}
		}
	}
}

// indent puts each line of a scenario's series under promqltest's load command.
func indent(series string) string {
	var b strings.Builder
	for _, l := range strings.Split(series, "\n") {
		b.WriteString("  " + strings.TrimSpace(l) + "\n")
	}
	return b.String()
}

// heading is a Markdown ATX heading.
var heading = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *#*$`)

// markdownSections maps each heading's anchor, as GitHub makes it (lower case, punctuation
// removed, spaces as hyphens), to the text up to the next heading.
func markdownSections(doc string) map[string]string {
	out := map[string]string{}
	locs := heading.FindAllStringSubmatchIndex(doc, -1)
	for i, l := range locs {
		end := len(doc)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		out[anchorOf(doc[l[2]:l[3]])] = strings.TrimSpace(doc[l[1]:end])
	}
	return out
}

// anchorOf is GitHub's anchor of a heading's text.
func anchorOf(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestChartRulesAreTheRulesFile: the chart's PrometheusRule reads files/taskbot-rules.yaml (a
// chart cannot read files outside its directory), which must be a copy of the one source.
func TestChartRulesAreTheRulesFile(t *testing.T) {
	want, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(chartRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s; copy it: cp deploy/%s deploy/%s", chartRulesFile, rulesFile, rulesFile, chartRulesFile)
	}
}
