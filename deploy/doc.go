// Package deploy holds the tests of taskbot's deployment files, in a Go module of its own so
// that the product's go.mod does not carry Helm's, Kubernetes' and Prometheus' dependencies:
//
//   - helm/taskbot: the Helm chart, rendered with Helm's Go library and decoded strictly into
//     Kubernetes' and the Prometheus Operator's types (chart_test.go);
//   - prometheus/taskbot-rules.yaml: the alert rules, parsed and validated as Prometheus does,
//     each alert evaluated on series where it must fire and where it must not (rules_test.go);
//   - grafana: the dashboard and its generator (package grafana);
//   - every metric the rules and the dashboard name, checked against the /metrics of a taskbot
//     built from ../ and run against the fakes of the product's tests (metrics_test.go).
//
// Run them with `cd deploy && go test ./...` (.ci/run does).
package deploy
