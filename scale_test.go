package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// TestScale (TASKBOT_SCALE=1; sizes in TASKBOT_SCALE_SIZES, default 1000,10000,100000) runs the
// real binary, built as the Dockerfile builds it (or the one TASKBOT_SCALE_BIN names), against the fake Task
// Manager holding N tasks in progress (two tenants, a fifth of them paused), through its silent
// baseline, a burst of changes (1% of the tasks complete at once) and two reconciliations
// (polling every second: every tenth poll, spaced for the request budget at 100,000 tasks), and
// reports the process's peak resident memory (VmHWM) in each of the three phases, the CPU it
// used, the state file's size and the requests of a quiet poll after the burst. It asserts what must hold at any size (the
// baseline announced nothing, every change was announced once, a quiet poll is one request)
// and reports the figures (the README's Performance table) without failing on them: a
// machine's speed is not a test result.
func TestScale(t *testing.T) {
	if os.Getenv("TASKBOT_SCALE") != "1" {
		t.Skip("a scale run (minutes at 100,000 tasks); run it with TASKBOT_SCALE=1")
	}
	sizes := []int{1000, 10000, 100000}
	if v := os.Getenv("TASKBOT_SCALE_SIZES"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				t.Fatalf("TASKBOT_SCALE_SIZES: %q is not a positive number", f)
			}
			sizes = append(sizes, n)
		}
	}
	bin := os.Getenv("TASKBOT_SCALE_BIN") // another build to compare, e.g. of an older commit
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "taskbot")
		if out, err := shippedBuild(bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	for _, n := range sizes {
		t.Run(strconv.Itoa(n), func(t *testing.T) { scaleRun(t, bin, n) })
	}
}

func scaleRun(t *testing.T, bin string, n int) {
	e := newBinEnv(t)
	e.slack.SetChannel(binChannel, "ops-alerts", true)
	added := time.Now()
	var all []tasks.Task
	for i := range n {
		st, tenant := tasks.Started, crashAlpha
		if i%5 == 0 {
			st = tasks.Paused
		}
		if i%2 == 0 {
			tenant = crashBeta
		}
		all = append(all, e.api.Add(tasks.Task{State: st, Type: "MachineBackup", Tenant: tenant,
			Context: map[string]any{"title": fmt.Sprintf("Backup plan 'Daily' on machine-%06d", i)}}))
	}
	t.Logf("%d tasks added to the fake in %s", n, time.Since(added).Round(time.Millisecond))

	addr := freeAddr(t)
	env := append(e.environ(addr, e.db), "TASKBOT_POLL_INTERVAL=1s", "TASKBOT_LOG_LEVEL=info",
		"TASKBOT_ANNOUNCE_STATES=paused,failed,stuck") // stuck checks at the default limit (paused=1h)
	r := startBot(t, bin, env, addr, filepath.Join(e.dir, "run.log"))
	started := time.Now()
	// The peak of the process's own memory (RssAnon: heap, stacks) and of the state file's
	// pages mapped by bbolt (RssFile, with the binary's text): the kernel's VmHWM sums them.
	var peakAnon, peakFile atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if st, ok := procStatus(r.cmd.Process.Pid); ok {
				raise(&peakAnon, st["RssAnon"])
				raise(&peakFile, st["RssFile"])
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	polls := func() int { return int(scrapeMetric(t, addr, `taskbot_polls_total{result="ok"}`)) }
	// Each phase's peak: VmHWM at its end (then reset to the current RSS through clear_refs),
	// with the sampled peaks of its own memory and mapped pages.
	type peak struct{ hwm, anon, file int64 }
	var peaks []peak
	endPhase := func() {
		pid := r.cmd.Process.Pid
		peaks = append(peaks, peak{procStatusKB(t, pid, "VmHWM"), peakAnon.Swap(0), peakFile.Swap(0)})
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			t.Logf("cannot reset the peak RSS (%v): later phases report the peak so far", err)
		}
	}
	waitUntil(t, 30*time.Minute, "the baseline", func() bool { return polls() >= 1 })
	baseline := time.Since(started)
	endPhase()

	// 1% of the tasks change: each that was started completes, failed one time in ten.
	changed := 0
	for i := 1; i < n; i += 100 {
		if all[i].State != tasks.Started {
			continue
		}
		code := tasks.ResultOK
		if i%1000 == 1 {
			code = tasks.ResultError
		}
		if _, err := e.api.SetState(all[i].UUID, tasks.Completed, code); err != nil {
			t.Fatal(err)
		}
		changed++
	}
	if got := len(e.slack.Posts()); got != 0 {
		t.Errorf("the baseline posted %d messages", got)
	}
	changedAt := time.Now()
	failed := 0
	for i := 1; i < n; i += 100 {
		if all[i].State == tasks.Started && i%1000 == 1 {
			failed++
		}
	}
	// The burst: the incremental polls that list the changes (a thousand tasks a transaction).
	failures := func() int { return int(scrapeMetric(t, addr, `taskbot_transitions_total{event="failed"}`)) }
	waitUntil(t, 10*time.Minute, "the changes' announcements", func() bool { return failures() >= failed })
	p0 := polls()
	waitUntil(t, time.Minute, "a poll after the burst", func() bool { return polls() > p0 })
	endPhase()
	// A reconciliation starts with the first page of the in-progress list (state=…; later
	// pages carry only the cursor); the baseline's was the first.
	reconciliations := func() int {
		n := 0
		for _, req := range e.api.Requests() {
			if strings.Contains(req.RawQuery, "state=") {
				n++
			}
		}
		return n - 1
	}
	// An older build may never get to a reconciliation at this size (one whose every poll lists
	// the whole burst again): its run goes on to report what it has.
	if reconciled(15*time.Minute, func() bool { return reconciliations() >= 2 }) {
		p0 = polls()
		waitUntil(t, 10*time.Minute, "the second reconciliation's end", func() bool { return polls() > p0 })
	} else {
		t.Errorf("no two reconciliations within 15 minutes of the burst (%d polls)", polls())
	}
	endPhase()
	transitions := failures()
	// Quiet polls once the overlap (2 minutes) has passed since the changes, between
	// reconciliations: requests per poll.
	waitUntil(t, 5*time.Minute, "the overlap after the changes", func() bool { return time.Since(changedAt) > 2*time.Minute+5*time.Second })
	var quiet float64
	for range 20 {
		r0, q0, n0 := reconciliations(), polls(), e.api.TaskRequests()
		waitUntil(t, time.Minute, "quiet polls", func() bool { return polls() >= q0+3 })
		if reconciliations() == r0 {
			quiet = float64(e.api.TaskRequests()-n0) / float64(polls()-q0)
			break
		}
	}
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	close(stopSampling)
	<-sampled
	select {
	case <-r.done:
	case <-time.After(time.Minute):
		t.Fatal("taskbot did not stop within a minute of SIGINT")
	}
	cpu := r.state.UserTime() + r.state.SystemTime()
	fi, err := os.Stat(e.db)
	if err != nil {
		t.Fatal(err)
	}
	if transitions != failed {
		t.Errorf("%v failures announced, want %d", transitions, failed)
	}
	if quiet == 0 || quiet > 1.5 {
		t.Errorf("quiet polls after the changes made %.1f requests each, want 1 (0: no quiet stretch was found)", quiet)
	}
	phase := func(p peak) string {
		return fmt.Sprintf("%.1fMiB (anon %.1fMiB, file %.1fMiB)", float64(p.hwm)/1024, float64(p.anon)/1024, float64(p.file)/1024)
	}
	t.Logf("SCALE n=%d baseline=%s peak_rss_baseline=%s peak_rss_burst=%s peak_rss_reconciliations=%s cpu=%s state_file=%.1fMiB (%d B/task) changed=%d failed=%d quiet_poll_requests=%.1f",
		n, baseline.Round(time.Millisecond), phase(peaks[0]), phase(peaks[1]), phase(peaks[2]), cpu.Round(time.Millisecond),
		float64(fi.Size())/(1<<20), fi.Size()/int64(n), changed, failed, quiet)
}

// shippedBuild is the go build command of the Dockerfile (static, no cgo, no symbol table)
// that writes the binary to bin from the package in dir: memory is measured on what ships (a
// cgo build maps the C library's pages too).
func shippedBuild(bin, dir string) *exec.Cmd {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "CGO_ENABLED=0")
	return cmd
}

// reconciled polls cond until it holds (true) or d has passed (false).
func reconciled(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// raise sets a to v if v is larger.
func raise(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// procStatus reads the kB fields of /proc/<pid>/status (VmHWM, RssAnon, RssFile, …); ok
// false once the process is gone.
func procStatus(pid int) (map[string]int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, false
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(v, " kB") {
			out[k], _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, " kB")), 10, 64)
		}
	}
	return out, true
}

// procStatusKB reads one kB field of /proc/<pid>/status.
func procStatusKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	st, ok := procStatus(pid)
	if _, has := st[field]; !ok || !has {
		t.Fatalf("/proc/%d/status has no %s", pid, field)
	}
	return st[field]
}

// scrapeMetric reads one sample (name with its labels, as /metrics writes it) from taskbot's
// /metrics; 0 when it is not there (yet).
func scrapeMetric(t *testing.T, addr, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}
