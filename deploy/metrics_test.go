package deploy_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// scrapeLabels are added by Prometheus to every series it scrapes (from the target and the
// Prometheus Operator's relabelling): no exporter has them, so no check asks for them.
var scrapeLabels = map[string]bool{"job": true, "instance": true, "namespace": true, "pod": true,
	"service": true, "endpoint": true, "container": true, "le": true}

// selector is one vector selector of a rule or a dashboard query, with where it was found.
type selector struct {
	where    string
	matchers []*labels.Matcher
}

// metricName is the selector's metric name ("" when it selects by labels only).
func (s selector) metricName() string {
	for _, m := range s.matchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// selectorsOf parses expr with Prometheus's PromQL parser and returns its vector selectors.
func selectorsOf(t *testing.T, where, expr string) []selector {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: PromQL %q: %v", where, expr, err)
		return nil
	}
	var out []selector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, selector{where: where, matchers: vs.LabelMatchers})
		}
		return nil
	})
	return out
}

// grafanaVariables stand in for the dashboard's variables, so that its queries parse as PromQL:
// "All" for job and instance, a range for $__rate_interval.
var grafanaVariables = strings.NewReplacer(`$job`, `.*`, `$instance`, `.*`, `$__rate_interval`, `5m`)

// labelValuesQuery is a Grafana variable query, label_values(SELECTOR, LABEL).
var labelValuesQuery = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)

// dashboardSelectors are the selectors of every panel target and variable query of the
// committed dashboard.
func dashboardSelectors(t *testing.T) []selector {
	t.Helper()
	b, err := os.ReadFile("grafana/taskbot.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var out []selector
	for _, p := range d.Panels {
		for _, target := range p.Targets {
			out = append(out, selectorsOf(t, "dashboard panel "+p.Title, grafanaVariables.Replace(target.Expr))...)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		m := labelValuesQuery.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("dashboard variable %s: query %q is not label_values(SELECTOR, LABEL)", v.Name, q)
			continue
		}
		out = append(out, selectorsOf(t, "dashboard variable "+v.Name, grafanaVariables.Replace(m[1]))...)
	}
	if len(out) < 15 {
		t.Fatalf("the dashboard has only %d selectors", len(out))
	}
	return out
}

// ruleSelectors are the selectors of every expression of the rules file.
func ruleSelectors(t *testing.T) []selector {
	t.Helper()
	var out []selector
	for _, r := range loadRules(t) {
		out = append(out, selectorsOf(t, "rule "+r.Alert, r.Expr)...)
	}
	return out
}

// family finds the metric family a series name belongs to: its own, or, for a histogram's or
// summary's _bucket, _sum and _count series, the histogram's.
func family(families map[string]*dto.MetricFamily, name string) *dto.MetricFamily {
	if f, ok := families[name]; ok {
		return f
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f, ok := families[base]; ok && (f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY) {
				return f
			}
		}
	}
	return nil
}

// answered says whether the histogram f has observed an answer.
func answered(f *dto.MetricFamily) bool {
	for _, m := range f.GetMetric() {
		if m.GetHistogram().GetSampleCount() > 0 {
			return true
		}
	}
	return false
}

// hasLabelValue says whether a series of f has label name = value.
func hasLabelValue(f *dto.MetricFamily, name, value string) bool {
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == name && l.GetValue() == value {
				return true
			}
		}
	}
	return false
}

// literalAlternatives splits a regular expression that is an alternation of plain words
// ("a|b|c") into the words; ok is false for anything else.
func literalAlternatives(re string) (words []string, ok bool) {
	for _, w := range strings.Split(re, "|") {
		if w == "" || regexp.QuoteMeta(w) != w {
			return nil, false
		}
		words = append(words, w)
	}
	return words, true
}

// TestDashboardAndRulesUseExportedMetrics runs the real taskbot against the fakes, makes it poll,
// announce and answer a slash command, and checks that every metric the alert rules and the
// dashboard select is on its /metrics (a histogram's _bucket, _sum and _count count as its
// name), and that every label value they select (result="dropped", code=~"not_in_channel|…") is
// one of its series: taskbot creates the series of the values alerts watch at 0, so an alert on a
// misspelt value would never fire.
func TestDashboardAndRulesUseExportedMetrics(t *testing.T) {
	api := taskstest.NewServer()
	t.Cleanup(api.Close)
	task := api.Add(tasks.Task{State: tasks.Started, Type: "MachineBackup", Context: map[string]any{"title": "deploy test backup"}})
	r := startTaskbot(t, api)

	// A transition (the first poll was the silent baseline), its announcement, and a command.
	if _, err := api.SetState(task.UUID, tasks.Paused, ""); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the pause to be announced", func() bool { return len(r.slack.Messages()) > 0 })
	if code := r.command(t, "paused"); code != http.StatusOK {
		t.Fatalf("/tasks paused: HTTP %d\n%s", code, r.output())
	}
	var families map[string]*dto.MetricFamily
	waitUntil(t, 30*time.Second, "the transition, the post and the command in /metrics", func() bool {
		families = r.metrics(t)
		return family(families, "taskbot_transitions_total") != nil && family(families, "taskbot_commands_total") != nil &&
			hasLabelValue(families["taskbot_announcements_total"], "result", "posted") &&
			answered(families["taskbot_command_answer_seconds"])
	})

	rules, dash := ruleSelectors(t), dashboardSelectors(t)
	covered := map[string]map[string]bool{}
	for _, s := range append(rules, dash...) {
		name := s.metricName()
		if name == "" {
			t.Errorf("%s: a selector without a metric name: %v", s.where, s.matchers)
			continue
		}
		f := family(families, name)
		if f == nil {
			t.Errorf("%s: %s is not on taskbot's /metrics", s.where, name)
			continue
		}
		if covered[f.GetName()] == nil {
			covered[f.GetName()] = map[string]bool{}
		}
		covered[f.GetName()][strings.SplitN(s.where, " ", 2)[0]] = true
		for _, m := range s.matchers {
			if m.Name == labels.MetricName || scrapeLabels[m.Name] {
				continue
			}
			var want []string
			switch m.Type {
			case labels.MatchEqual:
				want = []string{m.Value}
			case labels.MatchRegexp:
				words, ok := literalAlternatives(m.Value)
				if !ok {
					t.Errorf("%s: %s{%s} is not an alternation of plain values; the test cannot check it", s.where, name, m)
					continue
				}
				want = words
			default:
				t.Errorf("%s: %s{%s}: a negative matcher; the test cannot check it", s.where, name, m)
				continue
			}
			for _, v := range want {
				if !hasLabelValue(f, m.Name, v) {
					t.Errorf("%s: %s has no series with %s=%q", s.where, f.GetName(), m.Name, v)
				}
			}
		}
	}

	// The list for the closing note of the issue: which metric is read by the rules, the dashboard.
	names := slices.Sorted(maps.Keys(covered))
	var lines []string
	for _, n := range names {
		by := slices.Sorted(maps.Keys(covered[n]))
		lines = append(lines, n+" ("+strings.Join(by, ", ")+")")
	}
	t.Logf("metrics covered (%d):\n  %s", len(lines), strings.Join(lines, "\n  "))

	// Every taskbot_ metric is watched somewhere: a new one must be added to the dashboard (or
	// an alert), or here with the reason it is left out.
	var unwatched []string
	for name := range families {
		if strings.HasPrefix(name, "taskbot_") && covered[name] == nil {
			unwatched = append(unwatched, name)
		}
	}
	sort.Strings(unwatched)
	if len(unwatched) > 0 {
		t.Errorf("taskbot exports metrics neither the dashboard nor the rules use: %v", unwatched)
	}
}
