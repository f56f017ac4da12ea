package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// TestSlashCommandLoad is a bounded load run of slash commands, on loopback only, against the
// real binary (`taskbot serve`) with the fake Task Manager and the fake Slack of this process.
// It is skipped unless TASKBOT_LOAD=1, and it measures rather than judges time: it fails only
// on errors (a refused or failed request, an answer that never reached its response_url), and
// logs the figures, acknowledgements later than Slack's 3 s among them:
//
//	TASKBOT_LOAD=1 go test -run TestSlashCommandLoad -v -count=1 .
//
// Settings (environment): TASKBOT_LOAD_RATE commands a second (default 200, at most 1000),
// TASKBOT_LOAD_FOR how long to send them (default 10s, at most 60s), TASKBOT_LOAD_API_DELAY how
// long the Task Manager takes to answer each request (default 0; 2s is the slow API),
// TASKBOT_LOAD_TEXT the command's text (default "paused": one page of 50 paused tasks),
// TASKBOT_LOAD_BIN another build of taskbot to run (e.g. an older commit's, for before/after
// figures; default: this tree's, built for the test).
//
// It reports the acknowledgement's latency (from the moment the command was due, so a
// generator that falls behind counts against the bot, not in its favour) as p50, p99 and max;
// how many were answered inline and how many through response_url; and taskbot's CPU time
// (user+system, from /proc) per command, end to end: HTTP, signature, the API call and decoding,
// rendering, and the response_url post.
func TestSlashCommandLoad(t *testing.T) {
	if os.Getenv("TASKBOT_LOAD") != "1" {
		t.Skip("a load run; run it with TASKBOT_LOAD=1 (see its comment)")
	}
	rate := loadSetting(t, "TASKBOT_LOAD_RATE", 200, strconv.Atoi)
	length := loadSetting(t, "TASKBOT_LOAD_FOR", 10*time.Second, time.ParseDuration)
	delay := loadSetting(t, "TASKBOT_LOAD_API_DELAY", time.Duration(0), time.ParseDuration)
	text := loadSetting(t, "TASKBOT_LOAD_TEXT", "paused", func(s string) (string, error) { return s, nil })
	if rate < 1 || rate > 1000 || length <= 0 || length > time.Minute {
		t.Fatalf("rate %d/s for %v: the run is bounded to 1..1000/s for at most 1m", rate, length)
	}

	e := newBinEnv(t)
	for i := range 60 {
		st := tasks.Started
		if i < 50 {
			st = tasks.Paused
		}
		e.api.Add(tasks.Task{State: st, Context: map[string]any{"title": fmt.Sprintf("Backup plan 'Nightly' on FS-%02d", i)}})
	}
	addr := freeAddr(t)
	env := append(e.environ(addr, e.db), "TASKBOT_POLL_INTERVAL=1h", "TASKBOT_LOG_LEVEL=info") // the last value wins
	bin := os.Getenv("TASKBOT_LOAD_BIN")
	if bin == "" {
		bin = taskbotBinary(t)
	}
	r := startBot(t, bin, env, addr, e.dir+"/load.log")
	r.waitReady(t)
	if delay > 0 {
		e.api.Fail(taskstest.Fault{Delay: delay})
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * rate}}
	n := int(length.Seconds() * float64(rate))
	type result struct {
		took   time.Duration
		status int
		err    error
		late   bool // a progress note: the answer goes to response_url
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	cpu0 := processCPU(t, r.cmd.Process.Pid)
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(rate))
	for i := range n {
		due := start
		if i > 0 {
			due = <-tick.C
		}
		wg.Go(func() {
			body := bottest.CommandForm(text, e.resp.URL)
			req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/slack/commands", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			bottest.Sign(req, testSecret, body, time.Now())
			resp, err := client.Do(req)
			res := result{err: err}
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				res.status = resp.StatusCode
				res.late = bytes.Contains(b, []byte("follows"))
			}
			res.took = time.Since(due)
			results[i] = res
		})
	}
	tick.Stop()
	wg.Wait()
	sent := time.Since(start)
	late := 0
	for _, res := range results {
		if res.late {
			late++
		}
	}
	deadline := time.Now().Add(delay + 30*time.Second)
	for len(e.resp.Posts()) < late && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cpu := processCPU(t, r.cmd.Process.Pid) - cpu0

	var lat []time.Duration
	errs, over3s := 0, 0
	for _, res := range results {
		lat = append(lat, res.took)
		switch {
		case res.err != nil || res.status != http.StatusOK:
			errs++
			if errs <= 3 {
				t.Errorf("command failed: status %d, %v", res.status, res.err)
			}
		case res.took > 3*time.Second:
			over3s++
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	t.Logf("%d commands %q at %d/s in %v, API delay %v: ack p50 %v p99 %v max %v; errors %d; acks over 3s %d; inline %d, through response_url %d (arrived %d); taskbot CPU %v = %.2f ms/command",
		n, text, rate, sent.Round(time.Millisecond), delay, pct(.5).Round(100*time.Microsecond), pct(.99).Round(100*time.Microsecond),
		lat[len(lat)-1].Round(100*time.Microsecond), errs, over3s, n-late, late, len(e.resp.Posts()), cpu.Round(time.Millisecond),
		float64(cpu)/float64(time.Millisecond)/float64(n))
	if got := len(e.resp.Posts()); got != late {
		t.Errorf("response_url got %d answers, want %d (one per progress note)\n%s", got, late, r.tail(20))
	}
}

// loadSetting is the environment variable name parsed by parse, or def when it is unset.
func loadSetting[T any](t *testing.T, name string, def T, parse func(string) (T, error)) T {
	t.Helper()
	s, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	v, err := parse(s)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return v
}

// processCPU is the user and system CPU time process pid has used so far (Linux /proc).
func processCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Skipf("no /proc to read the CPU time from: %v", err)
	}
	// Fields after the command name (which is in parentheses and may hold spaces): utime is the
	// 14th field of the line, stime the 15th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
