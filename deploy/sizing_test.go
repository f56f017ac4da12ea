package deploy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// Sizing load: tasks in progress when taskbot starts, and per second of the run, tasks that start
// and tasks that complete (each start is enqueued → started, two transitions).
const (
	sizingInProgress = 1000
	sizingPerSecond  = 20
	sizingRun        = 90 * time.Second
)

// TestSizing measures taskbot under a load far above a busy MSP's (sizingPerSecond tasks starting
// and as many completing every second, polled every second, on top of sizingInProgress tasks in
// progress) and checks the chart's resources against it: the peak resident memory must stay
// under half the chart's memory limit and within twice its request. docs/operations.md
// ("Sizing") quotes its figures. It takes about two minutes, so it runs only with
// TASKBOT_SIZING=1: cd deploy && TASKBOT_SIZING=1 go test -run TestSizing -v .
func TestSizing(t *testing.T) {
	if os.Getenv("TASKBOT_SIZING") != "1" {
		t.Skip("a measurement of about two minutes; run it with TASKBOT_SIZING=1")
	}
	api := taskstest.NewServer()
	t.Cleanup(api.Close)
	var running []string
	for i := range sizingInProgress {
		st := tasks.Started
		if i%10 == 0 {
			st = tasks.Paused
		}
		running = append(running, api.Add(tasks.Task{State: st, Context: map[string]any{"title": fmt.Sprintf("Backup plan 'Daily' on host-%04d", i)}}).UUID)
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "taskbot.db")
	r := startTaskbot(t, api, "TASKBOT_POLL_INTERVAL=1s", "TASKBOT_DB_PATH="+db, "TASKBOT_LOG_LEVEL=warn")

	gauge := func(f map[string]*dto.MetricFamily, name string) float64 {
		if fam := f[name]; fam != nil && len(fam.GetMetric()) > 0 {
			m := fam.GetMetric()[0]
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
		t.Fatalf("no %s", name)
		return 0
	}
	start := r.metrics(t)
	cpu0, requests0 := gauge(start, "process_cpu_seconds_total"), api.TaskRequests()
	startRSS := gauge(start, "process_resident_memory_bytes")
	var peakRSS, peakHeap float64
	began := time.Now()
	n := sizingInProgress
	for time.Since(began) < sizingRun {
		tick := time.Now()
		for range sizingPerSecond {
			done := running[0]
			running = running[1:]
			if _, err := api.SetState(done, tasks.Completed, tasks.ResultOK); err != nil {
				t.Fatal(err)
			}
			nt := api.Add(tasks.Task{State: tasks.Enqueued, Context: map[string]any{"title": fmt.Sprintf("Backup plan 'Daily' on host-%04d", n)}})
			n++
			if _, err := api.SetState(nt.UUID, tasks.Started, ""); err != nil {
				t.Fatal(err)
			}
			running = append(running, nt.UUID)
		}
		f := r.metrics(t)
		peakRSS = max(peakRSS, gauge(f, "process_resident_memory_bytes"))
		peakHeap = max(peakHeap, gauge(f, "go_memstats_heap_inuse_bytes"))
		time.Sleep(time.Until(tick.Add(time.Second)))
	}
	elapsed := time.Since(began)
	end := r.metrics(t)
	cpu := (gauge(end, "process_cpu_seconds_total") - cpu0) / elapsed.Seconds()
	info, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	transitions := 0.0
	for _, m := range end["taskbot_transitions_total"].GetMetric() {
		transitions += m.GetCounter().GetValue()
	}
	t.Logf("load: %d tasks in progress, %d started and %d completed per second, polled every 1s, for %v",
		sizingInProgress, sizingPerSecond, sizingPerSecond, elapsed.Round(time.Second))
	t.Logf("transitions %.0f, tasks tracked %.0f, Task Manager requests %d",
		transitions, gauge(end, "taskbot_tasks_tracked"), api.TaskRequests()-requests0)
	t.Logf("resident memory after the first poll %.1f MiB", startRSS/(1<<20))
	t.Logf("peak resident memory %.1f MiB, peak Go heap in use %.1f MiB, CPU %.3f cores on average, state file %.1f MiB",
		peakRSS/(1<<20), peakHeap/(1<<20), cpu, float64(info.Size())/(1<<20))

	limit, request := chartMemory(t)
	if peakRSS > float64(limit)/2 {
		t.Errorf("peak resident memory %.1f MiB is over half the chart's memory limit (%d MiB)", peakRSS/(1<<20), limit>>20)
	}
	if peakRSS > 2*float64(request) {
		t.Errorf("peak resident memory %.1f MiB is over twice the chart's memory request (%d MiB)", peakRSS/(1<<20), request>>20)
	}
}

// chartMemory is the memory limit and request, in bytes, of the chart's default values.
func chartMemory(t *testing.T) (limit, request int64) {
	t.Helper()
	c := mustRender(t, httpValues()).statefulSet(t).Spec.Template.Spec.Containers[0]
	l, r := c.Resources.Limits[corev1.ResourceMemory], c.Resources.Requests[corev1.ResourceMemory]
	if l.Value() == 0 || r.Value() == 0 {
		t.Fatalf("memory limit %s, request %s", l.String(), r.String())
	}
	return l.Value(), r.Value()
}
