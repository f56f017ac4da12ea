package taskstest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// cronScript is the cron + curl + jq poller a team would run instead of taskbot.
const cronScript = "../../testdata/cron/poll-tasks.sh"

// runCronScript runs the script once against s with state in dir and returns what it printed.
func runCronScript(t *testing.T, s *taskstest.Server, dir string) string {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the cron baseline needs %s: %v", tool, err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", cronScript, dir)
	cmd.Env = append(os.Environ(), "ACRONIS_URL="+s.URL, "ACRONIS_CLIENT_ID="+s.ClientID, "ACRONIS_CLIENT_SECRET="+s.ClientSecret)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cronScript, err, stderr.String())
	}
	return string(out)
}

// TestCronBaselineScript: the script lists every page of tasks in progress and prints, on its
// second run, exactly the tasks whose state changed, that are new, or that left the list.
func TestCronBaselineScript(t *testing.T) {
	s := newServer(t)
	var all []tasks.Task
	for i := range 250 { // three pages
		st := tasks.Started
		if i%5 == 0 {
			st = tasks.Paused
		}
		all = append(all, s.Add(tasks.Task{State: st, Context: map[string]any{"title": fmt.Sprintf("Backup %03d", i)}}))
	}
	s.Add(tasks.Task{State: tasks.Completed})
	dir := t.TempDir()
	if out := runCronScript(t, s, dir); out != "" {
		t.Errorf("the first run printed %q, want nothing (no last run to diff against)", out)
	}
	last, err := os.ReadFile(filepath.Join(dir, "last.tsv"))
	if n := strings.Count(string(last), "\n"); err != nil || n != 250 {
		t.Fatalf("the first run kept %d tasks (%v), want the 250 in progress", n, err)
	}
	s.SetState(all[1].UUID, tasks.Paused, "")
	s.SetState(all[0].UUID, tasks.Completed, tasks.ResultError)
	s.SetState(all[2].UUID, tasks.Started, "") // updated, same state: not news
	added := s.Add(tasks.Task{State: tasks.Started, Context: map[string]any{"title": "Backup new"}})
	got := strings.Split(strings.TrimSpace(runCronScript(t, s, dir)), "\n")
	want := []string{
		all[0].UUID + "\tpaused -> -\tBackup 000",
		all[1].UUID + "\tstarted -> paused\tBackup 001",
		added.UUID + "\t- -> started\tBackup new",
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the second run printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if out := runCronScript(t, s, dir); out != "" {
		t.Errorf("a third run with nothing changed printed %q", out)
	}
}

// TestCronBaselineTimes times the cron baseline against the fake with many tasks in progress
// (TASKBOT_BASELINE=1; TASKBOT_BASELINE_TASKS, default "1000,10000"; TASKBOT_BASELINE_RUNS runs
// each, default 3, 1% of the tasks changing between runs), beside taskbot's client fetching and
// decoding the same pages. It logs each run's time, and the minimum and median:
//
//	TASKBOT_BASELINE=1 TASKBOT_BASELINE_TASKS=1000,10000,100000 go test -run TestCronBaselineTimes -v -timeout 2h ./tasks/taskstest/
func TestCronBaselineTimes(t *testing.T) {
	if os.Getenv("TASKBOT_BASELINE") != "1" {
		t.Skip("times the cron baseline at scale; run it with TASKBOT_BASELINE=1")
	}
	sizes := []int{1000, 10000}
	if v := os.Getenv("TASKBOT_BASELINE_TASKS"); v != "" {
		sizes = nil
		for f := range strings.SplitSeq(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 || n > 200000 {
				t.Fatalf("TASKBOT_BASELINE_TASKS=%q: sizes are 1 to 200000", v)
			}
			sizes = append(sizes, n)
		}
	}
	runs := 3
	if v := os.Getenv("TASKBOT_BASELINE_RUNS"); v != "" {
		var err error
		if runs, err = strconv.Atoi(v); err != nil || runs < 1 || runs > 20 {
			t.Fatalf("TASKBOT_BASELINE_RUNS=%q: 1 to 20", v)
		}
	}
	for _, n := range sizes {
		s := taskstest.NewServer()
		var keys []string
		for i := range n {
			st := tasks.Started
			if i%10 == 0 {
				st = tasks.Paused
			}
			keys = append(keys, s.Add(tasks.Task{State: st, Context: map[string]any{"title": fmt.Sprintf("Backup plan 'Nightly' on FS-%06d", i)}}).UUID)
		}
		client, err := acronis.NewClient(acronis.Config{BaseURL: s.URL, ClientID: s.ClientID, ClientSecret: s.ClientSecret})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		var script, fetch []time.Duration
		for run := range runs {
			for i := range n / 100 { // 1% change between runs
				st := tasks.Paused
				if run%2 == 1 {
					st = tasks.Started
				}
				s.SetState(keys[i*97%n], st, "")
			}
			start := time.Now()
			out := runCronScript(t, s, dir)
			script = append(script, time.Since(start))
			start = time.Now()
			res, err := client.List(t.Context(), tasks.Query{States: []tasks.State{tasks.Started, tasks.Paused}, Limit: 100})
			fetch = append(fetch, time.Since(start))
			if err != nil || len(res.Tasks) != n {
				t.Fatalf("the client listed %d of %d tasks: %v", len(res.Tasks), n, err)
			}
			t.Logf("%d tasks, run %d: cron script %v (%d lines printed); Go client fetch+decode of the same %d pages %v",
				n, run+1, script[run].Round(time.Millisecond), strings.Count(out, "\n"), (n+99)/100, fetch[run].Round(time.Millisecond))
		}
		t.Logf("%d tasks: cron script min %v median %v; Go client fetch+decode min %v median %v",
			n, minOf(script), medianOf(script), minOf(fetch), medianOf(fetch))
		s.Close()
	}
}

func minOf(ds []time.Duration) time.Duration { return slices.Min(ds).Round(time.Millisecond) }

func medianOf(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	return s[len(s)/2].Round(time.Millisecond)
}
