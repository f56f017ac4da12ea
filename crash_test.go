package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// The tests in this file and in shutdown_test.go run the real taskbot binary, built once per
// test process (with -race when the tests run with -race), against the in-process fakes: it is
// killed, signalled and restarted the way an operator or the kernel would do it.

var (
	binOnce sync.Once
	binDir  string // removed by TestMain
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// taskbotBinary builds the module's binary once per test process and returns its path.
func taskbotBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "taskbot-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "taskbot")
		args := []string{"build", "-o", binPath}
		if raceEnabled() {
			args = append(args, "-race") // the binary's data races fail the tests too
		}
		cmd := exec.Command("go", append(args, ".")...) // the test runs in the module root
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// soak skips a long test unless TASKBOT_SOAK=1 (as .ci/run sets it), so that `go test ./...`
// stays fast; why says how long the test takes.
func soak(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("TASKBOT_SOAK") != "1" {
		t.Skipf("a soak test (%s); run it with TASKBOT_SOAK=1", why)
	}
}

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

const binChannel = "C0123ABCDEF"

// The crash test's tasks belong to two tenants; Crash Beta's channel subscribes to its tasks.
var (
	crashAlpha = &tasks.Tenant{ID: "1001", Name: "Crash Alpha"}
	crashBeta  = &tasks.Tenant{ID: "2002", Name: "Crash Beta"}
)

const crashBetaChannel = "C0CRASHBETA"

// binEnv is a state file and the fakes a series of taskbot processes share.
type binEnv struct {
	api   *taskstest.Server
	slack *bottest.Slack
	resp  *bottest.ResponseURL
	db    string
	dir   string // per-run output files
	runs  []*botRun
}

func newBinEnv(t *testing.T) *binEnv {
	t.Helper()
	taskbotBinary(t)
	dir := t.TempDir()
	e := &binEnv{api: taskstest.NewServer(), slack: bottest.NewSlack(), resp: bottest.NewResponseURL(),
		db: filepath.Join(dir, "taskbot.db"), dir: dir}
	t.Cleanup(e.api.Close)
	t.Cleanup(e.slack.Close)
	t.Cleanup(e.resp.Close)
	t.Cleanup(func() {
		if t.Failed() && len(e.runs) > 0 {
			last := e.runs[max(0, len(e.runs)-2):]
			for _, r := range last {
				t.Logf("output of run %d (last 60 lines):\n%s", r.n, r.tail(60))
			}
		}
	})
	return e
}

// environ is the complete environment of a taskbot process: the contract's variables and the
// few basics a process needs, nothing inherited from the test's environment beyond those.
func (e *binEnv) environ(addr, db string) []string {
	env := []string{
		"ACRONIS_URL=" + e.api.URL,
		"ACRONIS_CLIENT_ID=" + e.api.ClientID,
		"ACRONIS_CLIENT_SECRET=" + e.api.ClientSecret,
		"SLACK_BOT_TOKEN=xoxb-test-token",
		"SLACK_SIGNING_SECRET=" + testSecret,
		"SLACK_CHANNEL=" + binChannel,
		"SLACK_API_URL=" + e.slack.URL(),
		"TASKBOT_LISTEN_ADDR=" + addr,
		"TASKBOT_DB_PATH=" + db,
		"TASKBOT_POLL_INTERVAL=100ms",
		"TASKBOT_ANNOUNCE_STATES=started,paused,completed,failed",
		"TASKBOT_LOG_LEVEL=debug",
	}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	// A -race binary sleeps a second before exiting by default, time in which work the
	// process did not wait for could still finish.
	return append(env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

// start starts taskbot serve on a free port with the env's state file.
func (e *binEnv) start(t *testing.T) *botRun { return e.startOn(t, e.db) }

// startOn starts taskbot serve on a free port with state file db.
func (e *binEnv) startOn(t *testing.T, db string) *botRun {
	t.Helper()
	n := len(e.runs) + 1
	addr := freeAddr(t)
	r := startBot(t, taskbotBinary(t), e.environ(addr, db), addr, filepath.Join(e.dir, fmt.Sprintf("run-%03d.log", n)))
	r.n = n
	e.runs = append(e.runs, r)
	return r
}

// races returns the runs whose output reports a data race.
func (e *binEnv) races() []int {
	var out []int
	for _, r := range e.runs {
		if strings.Contains(r.output(), "WARNING: DATA RACE") {
			out = append(out, r.n)
		}
	}
	return out
}

// botRun is one taskbot process; its stdout and stderr go to a file.
type botRun struct {
	n       int
	cmd     *exec.Cmd
	addr    string
	logPath string
	done    chan struct{} // closed when the process has exited and state is set
	state   *os.ProcessState
	exitAt  time.Time
}

func startBot(t *testing.T, bin string, env []string, addr, logPath string) *botRun {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	cmd.SysProcAttr = dieWithParent()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start taskbot: %v", err)
	}
	r := &botRun{cmd: cmd, addr: addr, logPath: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		r.exitAt = time.Now()
		r.state = cmd.ProcessState
		f.Close()
		close(r.done)
	}()
	t.Cleanup(r.kill)
	return r
}

// dieWithParent asks the kernel to SIGKILL the process when the test process dies (Linux's
// Pdeathsig), so a test killed by its timeout leaves no taskbot running. Other systems have no
// such field; there the cleanups alone stop the processes.
func dieWithParent() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{}
	if f := reflect.ValueOf(attr).Elem().FieldByName("Pdeathsig"); f.IsValid() && f.CanSet() {
		f.Set(reflect.ValueOf(syscall.SIGKILL))
	}
	return attr
}

// exited reports whether the process has ended.
func (r *botRun) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs the process and waits until it is gone.
func (r *botRun) kill() {
	if !r.exited() {
		r.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-r.done
}

func (r *botRun) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to run %d: %v\n%s", sig, r.n, err, r.tail(40))
	}
}

// wait waits at most d for the process to end and returns its exit status (-1 for a signal).
func (r *botRun) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-r.done:
		return r.state.ExitCode()
	case <-time.After(d):
		t.Fatalf("run %d did not exit within %v\n%s", r.n, d, r.tail(40))
		return 0
	}
}

func (r *botRun) output() string {
	b, _ := os.ReadFile(r.logPath)
	return string(b)
}

func (r *botRun) tail(n int) string {
	lines := strings.Split(strings.TrimRight(r.output(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

var binHTTP = &http.Client{Timeout: 2 * time.Second}

// waitReady waits until /readyz answers 200 (the state file is open and a poll succeeded).
func (r *botRun) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := binHTTP.Get("http://" + r.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if r.exited() {
			t.Fatalf("run %d exited (%v) before it was ready\n%s", r.n, r.state, r.tail(40))
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d not ready after 60s\n%s", r.n, r.tail(40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metric reads one series of /metrics, e.g. `taskbot_polls_total{result="ok"}`; ok is false
// when the process does not answer or lacks the series.
func (r *botRun) metric(series string) (v float64, ok bool) {
	resp, err := binHTTP.Get("http://" + r.addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, found := strings.CutPrefix(sc.Text(), series+" "); found {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// --- the crash test ---

const (
	crashMinCycles   = 50
	crashTransitions = 256 // 64 tasks × 4 transitions
	// crashMaxBacklog bounds the transitions made but not yet seen in Slack: no poll can find
	// more than that many (the flood guard summarises a poll that finds more than 10), and the
	// outbox stays short enough to drain in seconds.
	crashMaxBacklog = 8
	crashMaxRound   = 5                       // distinct tasks moved at once
	crashHold       = 1200 * time.Millisecond // how long Slack holds a post, before or after recording it
)

// crashTask is one task the crash test drives through enqueued → started → paused → started →
// completed, and what it has made of it.
type crashTask struct {
	uuid, title string
	beta        bool     // of tenant Crash Beta: announced in crashBetaChannel too
	made        []string // events of the transitions made, in order
	// unconfirmed: the last transition may not be recorded by the bot yet, so the task must not
	// move again (the bot would never see the state in between). It is recorded once a poll
	// that started after the move has completed: in process epoch movedEpoch, when the
	// process's successful polls reach movedPolls+2 (the poll in progress when the count was
	// read may have listed the tasks before the move); in any later process, after its first
	// successful poll.
	unconfirmed bool
	movedEpoch  int
	movedPolls  int
}

// crashRun is the crash test's bookkeeping.
type crashRun struct {
	t         *testing.T
	e         *binEnv
	rng       *rand.Rand
	tasks     []*crashTask
	byTitle   map[string]*crashTask
	made      int // transitions made
	madeBeta  int // of them, of Crash Beta's tasks
	epoch     int
	proc      *botRun // nil while no process runs
	polls     int     // successful polls of proc, last read
	baselined bool
	kills     map[string]int
	// progress is when the announcements last caught up or grew; delivered is their count in
	// both channels.
	progress  time.Time
	delivered int
}

var announceRe = regexp.MustCompile(`^Task (started|paused|resumed|completed|failed): (crash-task-\d{3}) \(`)

func TestCrashLosesNothing(t *testing.T) {
	soak(t, "takes about five minutes: the announcer posts about one message a second")
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TASKBOT_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("TASKBOT_CRASH_SEED: %v", err)
		}
	}
	t.Logf("seed %d (rerun with TASKBOT_CRASH_SEED=%d)", seed, seed)
	e := newBinEnv(t)
	e.slack.SetChannel(crashBetaChannel, "crash-beta", true)
	r := &crashRun{t: t, e: e, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		byTitle: map[string]*crashTask{}, kills: map[string]int{}, progress: time.Now()}

	// Before the first start: tasks the silent baseline records. The bystanders never move and
	// must never be announced.
	for range 8 {
		r.addTask()
	}
	e.api.Add(tasks.Task{State: tasks.Started, Context: map[string]any{"title": "crash-bystander-started"}})
	e.api.Add(tasks.Task{State: tasks.Paused, Context: map[string]any{"title": "crash-bystander-paused"}})

	began := time.Now()
	cycles := 0
	for cycles < crashMinCycles || r.made < crashTransitions {
		if time.Since(began) > 8*time.Minute {
			t.Fatalf("after %s: %d cycles, %d of %d transitions made; too slow", time.Since(began).Round(time.Second), cycles, r.made, crashTransitions)
		}
		cycles++
		if r.baselined && r.rng.IntN(4) == 0 {
			r.moveRound(false) // changes made while the bot is down
		}
		r.start()
		if cycles == 1 {
			r.proc.waitReady(t) // the baseline is recorded
			// Before any task moves: Crash Beta's channel subscribes, so each of its tasks'
			// transitions must reach two channels through every kill.
			_, body := postSlash(t, r.proc.addr, e.resp.URL, crashBetaChannel, "U0CRASH001",
				`subscribe started paused completed failed tenant:"Crash Beta"`)
			if !strings.Contains(body, `"response_type":"in_channel"`) || !strings.Contains(body, "Crash Beta") {
				t.Fatalf("subscribe confirmation: %s", body)
			}
			r.observe()
		}
		switch mode := r.pick(); mode {
		case "startup": // while the process starts: opening the file, first poll, first post
			time.Sleep(time.Duration(r.rng.Int64N(int64(150 * time.Millisecond))))
			r.kill(mode)
		case "random":
			r.runFor(r.between(300*time.Millisecond, 8*time.Second))
			r.kill(mode)
		case "mid-poll": // while a list request is held by the API
			r.runFor(r.between(300*time.Millisecond, 5*time.Second))
			e.api.Fail(taskstest.Fault{Delay: 500 * time.Millisecond, Times: 1})
			r.awaitListRequest()
			time.Sleep(r.between(0, 450*time.Millisecond))
			r.kill(mode)
			e.api.ClearFaults()
		case "mid-transaction": // just after a list request arrived: its answer decoded, diffed, committed
			r.runFor(r.between(300*time.Millisecond, 5*time.Second))
			r.awaitListRequest()
			time.Sleep(r.between(0, 15*time.Millisecond))
			r.kill(mode)
		case "mid-post": // the post is on its way; Slack has not accepted it yet
			r.runFor(r.between(300*time.Millisecond, 4*time.Second))
			e.slack.Fail(bottest.Fault{Method: "chat.postMessage", Delay: crashHold, Times: 1})
			r.awaitHeldPost()
			time.Sleep(r.between(20*time.Millisecond, crashHold-200*time.Millisecond))
			r.kill(mode)
			e.slack.ClearFaults()
		case "post-window": // Slack recorded the post; the bot has not heard back nor marked it
			r.runFor(r.between(300*time.Millisecond, 4*time.Second))
			before := len(e.slack.Messages())
			e.slack.Fail(bottest.Fault{Method: "chat.postMessage", DelayAfterRecord: crashHold, Times: 1})
			r.awaitPost(before)
			time.Sleep(r.between(20*time.Millisecond, crashHold-200*time.Millisecond))
			r.kill(mode)
			e.slack.ClearFaults()
		}
	}
	kills := 0
	for _, n := range r.kills {
		kills += n
	}

	// The final run: no kill; wait until every transition was announced and nothing more comes.
	r.start()
	r.drain()
	if v, ok := r.proc.metric("taskbot_outbox_pending"); !ok || v != 0 {
		t.Errorf("outbox not drained at the end: taskbot_outbox_pending = %v (read: %v)", v, ok)
	}
	final := r.proc
	final.signal(t, syscall.SIGTERM)
	if code := final.wait(t, 30*time.Second); code != 0 {
		t.Errorf("final run exited with status %d after SIGTERM, want 0\n%s", code, final.tail(30))
	}
	if !strings.Contains(final.output(), "state file closed") {
		t.Errorf("final run did not log closing the state file\n%s", final.tail(30))
	}
	took := time.Since(began)

	// The values that matter.
	announced := r.announced()
	posts := len(e.slack.Messages())
	lost := map[string]int{}
	for _, ch := range []string{binChannel, crashBetaChannel} {
		for _, tk := range r.tasks {
			want := tk.want(ch)
			got := dedupe(announced[ch][tk.title])
			lost[ch] += len(want) - lcs(got, want)
			if !slices.Equal(got, want) {
				t.Errorf("%s in %s: announced %v (repeats removed: %v), want %v", tk.title, ch, announced[ch][tk.title], got, want)
			}
		}
	}
	duplicates := posts - r.expected()
	t.Logf("crash figures: cycles=%d kills=%d (startup %d, random %d, mid-poll %d, mid-transaction %d, mid-post %d, post-window %d) transitions=%d (of Crash Beta %d) posts=%d (in Crash Beta's channel %d) duplicates=%d lost=%d+%d seed=%d duration=%s",
		cycles, kills, r.kills["startup"], r.kills["random"], r.kills["mid-poll"], r.kills["mid-transaction"], r.kills["mid-post"], r.kills["post-window"],
		r.made, r.madeBeta, posts, len(postsIn(e.slack, crashBetaChannel)), duplicates, lost[binChannel], lost[crashBetaChannel], seed, took.Round(time.Second))
	if r.made < crashTransitions || cycles < crashMinCycles {
		t.Errorf("made %d transitions in %d cycles, want at least %d in %d", r.made, cycles, crashTransitions, crashMinCycles)
	}
	if r.madeBeta == 0 || r.madeBeta == r.made {
		t.Errorf("%d of %d transitions were of Crash Beta's tasks; the test needs both tenants", r.madeBeta, r.made)
	}
	for ch, n := range lost {
		if n != 0 {
			t.Errorf("%d transitions were never announced in %s", n, ch)
		}
	}
	// Each channel has its own worker, so a kill may repeat one post in flight per channel.
	if duplicates < 0 || duplicates > 2*kills {
		t.Errorf("%d duplicate posts after %d kills; a kill may repeat at most the one post in flight in each channel", duplicates, kills)
	}
	if runs := e.races(); len(runs) > 0 {
		t.Errorf("data races reported by runs %v", runs)
	}
}

// want is the events tk's transitions must be announced with in channel ch.
func (tk *crashTask) want(ch string) []string {
	if ch == crashBetaChannel && !tk.beta {
		return nil
	}
	return tk.made
}

// expected is the number of announcements the transitions made call for, in both channels.
func (r *crashRun) expected() int { return r.made + r.madeBeta }

// addTask adds an enqueued task with the next title; every other one is Crash Beta's.
func (r *crashRun) addTask() *crashTask {
	title := fmt.Sprintf("crash-task-%03d", len(r.tasks)+1)
	beta := len(r.tasks)%2 == 1
	tenant := crashAlpha
	if beta {
		tenant = crashBeta
	}
	got := r.e.api.Add(tasks.Task{State: tasks.Enqueued, Tenant: tenant, Context: map[string]any{"title": title}})
	tk := &crashTask{uuid: got.UUID, title: title, beta: beta}
	r.tasks = append(r.tasks, tk)
	r.byTitle[title] = tk
	return tk
}

// pick chooses how the current run ends.
func (r *crashRun) pick() string {
	switch n := r.rng.IntN(20); {
	case n < 2:
		return "startup"
	case n < 7:
		return "random"
	case n < 10:
		return "mid-poll"
	case n < 14:
		return "mid-transaction"
	case n < 17:
		return "mid-post"
	default:
		return "post-window"
	}
}

func (r *crashRun) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(r.rng.Int64N(int64(hi-lo)+1))
}

func (r *crashRun) start() {
	r.epoch++
	r.proc = r.e.start(r.t)
	r.polls = 0
}

func (r *crashRun) kill(mode string) {
	r.t.Helper()
	if r.proc.exited() {
		r.t.Fatalf("run %d exited on its own (%v)\n%s", r.proc.n, r.proc.state, r.proc.tail(40))
	}
	r.proc.kill()
	r.proc = nil
	r.kills[mode]++
}

// observe reads the process's successful polls, confirms the moves they recorded, and checks
// what Slack received so far.
func (r *crashRun) observe() {
	r.t.Helper()
	if r.proc == nil {
		return
	}
	if r.proc.exited() {
		r.t.Fatalf("run %d exited on its own (%v)\n%s", r.proc.n, r.proc.state, r.proc.tail(40))
	}
	if v, ok := r.proc.metric(`taskbot_polls_total{result="ok"}`); ok {
		r.polls = int(v)
	}
	if r.polls >= 1 {
		r.baselined = true
	}
	if n := r.countDelivered(); n > r.delivered || n == r.expected() {
		r.delivered, r.progress = n, time.Now()
	} else if time.Since(r.progress) > time.Minute {
		var missing []string
		announced := r.announced()
		for ch, byTitle := range announced {
			for _, tk := range r.tasks {
				if got, want := dedupe(byTitle[tk.title]), tk.want(ch); len(got) < len(want) {
					missing = append(missing, fmt.Sprintf("%s in %s %v of %v", tk.title, ch, got, want))
				}
			}
		}
		r.t.Fatalf("no new announcement for a minute with %d announcements pending: %s\n%s",
			r.expected()-n, strings.Join(missing, "; "), r.proc.tail(40))
	}
	for _, tk := range r.tasks {
		if tk.unconfirmed && (r.epoch > tk.movedEpoch && r.polls >= 1 || r.epoch == tk.movedEpoch && r.polls >= tk.movedPolls+2) {
			tk.unconfirmed = false
		}
	}
}

// announced parses every message Slack received into the events announced per channel and
// task title. It stops the test at once on a flood-guard summary or a message it cannot place:
// in Crash Beta's channel, only Crash Beta's tasks belong.
func (r *crashRun) announced() map[string]map[string][]string {
	r.t.Helper()
	out := map[string]map[string][]string{binChannel: {}, crashBetaChannel: {}}
	for i, p := range r.e.slack.Messages() {
		if strings.HasPrefix(p.Text, "Task updates:") {
			r.t.Fatalf("post %d is a flood-guard summary; every transition must be posted on its own: %q", i+1, p.Text)
		}
		m := announceRe.FindStringSubmatch(p.Text)
		if m == nil || r.byTitle[m[2]] == nil {
			r.t.Fatalf("post %d is not an announcement of a task the test moved: %q", i+1, p.Text)
		}
		byTitle, ok := out[p.Channel]
		if !ok || p.Channel == crashBetaChannel && !r.byTitle[m[2]].beta {
			r.t.Fatalf("post %d about %s went to channel %q", i+1, m[2], p.Channel)
		}
		byTitle[m[2]] = append(byTitle[m[2]], m[1])
	}
	return out
}

// countDelivered counts the announcements seen in Slack, in both channels; an announcement that
// is not the next transition made (a lost or reordered one) stops the test at once.
func (r *crashRun) countDelivered() int {
	n, _ := r.delivery()
	return n
}

// delivery counts the announcements seen in Slack in both channels and in SLACK_CHANNEL alone.
func (r *crashRun) delivery() (both, ops int) {
	r.t.Helper()
	for ch, byTitle := range r.announced() {
		for title, evs := range byTitle {
			want := r.byTitle[title].want(ch)
			got := dedupe(evs)
			if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
				r.t.Fatalf("%s in %s: announced %v, but the transitions made are %v", title, ch, evs, want)
			}
			both += len(got)
			if ch == binChannel {
				ops += len(got)
			}
		}
	}
	return both, ops
}

// moveRound moves up to crashMaxRound distinct tasks one step each, keeping the backlog under
// crashMaxBacklog. alive says whether a process is running (else the moves happen while the
// bot is down and are confirmed by the next process's first poll).
func (r *crashRun) moveRound(alive bool) {
	r.t.Helper()
	_, ops := r.delivery()
	want := min(crashMaxBacklog-(r.made-ops), 1+r.rng.IntN(crashMaxRound), crashTransitions-r.made)
	if want <= 0 {
		return
	}
	var cands []*crashTask
	for _, tk := range r.tasks {
		if !tk.unconfirmed && len(tk.made) < 4 {
			cands = append(cands, tk)
		}
	}
	r.rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	for len(cands) < want && 4*len(r.tasks) < crashTransitions {
		cands = append(cands, r.addTask())
	}
	moved := cands[:min(want, len(cands))]
	for _, tk := range moved {
		st, code, ev := tasks.Started, tasks.ResultCode(""), "started"
		switch len(tk.made) {
		case 1:
			st, ev = tasks.Paused, "paused"
		case 2:
			ev = "resumed"
		case 3:
			st, code, ev = tasks.Completed, tasks.ResultOK, "completed"
			if r.rng.IntN(3) == 0 {
				code, ev = tasks.ResultError, "failed"
			}
		}
		if _, err := r.e.api.SetState(tk.uuid, st, code); err != nil {
			r.t.Fatal(err)
		}
		tk.made = append(tk.made, ev)
		tk.unconfirmed = true
		r.made++
		if tk.beta {
			r.madeBeta++
		}
	}
	epoch, polls := r.epoch+1, -1 // down: the next process's first poll records them
	if alive {
		epoch, polls = r.epoch, 1<<30 // unknown: only a later process confirms them
		if v, ok := r.proc.metric(`taskbot_polls_total{result="ok"}`); ok {
			polls = int(v)
		}
	}
	for _, tk := range moved {
		tk.movedEpoch, tk.movedPolls = epoch, polls
	}
}

// runFor lets the process run for d while moving tasks whenever the backlog allows.
func (r *crashRun) runFor(d time.Duration) {
	r.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		r.observe()
		if r.baselined && r.made < crashTransitions {
			r.moveRound(true)
		}
		time.Sleep(min(100*time.Millisecond, time.Until(end)))
	}
}

// awaitListRequest returns as soon as the API receives the next list request (or after 5 s).
func (r *crashRun) awaitListRequest() {
	n := r.e.api.TaskRequests()
	for end := time.Now().Add(5 * time.Second); r.e.api.TaskRequests() == n && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
}

// awaitPost returns as soon as Slack has recorded more than before posts (or after 5 s).
func (r *crashRun) awaitPost(before int) {
	for end := time.Now().Add(5 * time.Second); len(r.e.slack.Messages()) == before && time.Now().Before(end); {
		time.Sleep(2 * time.Millisecond)
	}
}

// awaitHeldPost returns as soon as Slack holds a call it has not recorded (or after 5 s).
func (r *crashRun) awaitHeldPost() {
	for end := time.Now().Add(5 * time.Second); r.e.slack.Calls() == len(r.e.slack.Posts()) && time.Now().Before(end); {
		time.Sleep(2 * time.Millisecond)
	}
}

// drain waits until every transition made was announced and no post came for 3 s.
func (r *crashRun) drain() {
	r.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	last, since := -1, time.Now()
	for {
		r.observe()
		n := len(r.e.slack.Messages())
		if n != last {
			last, since = n, time.Now()
		}
		if r.countDelivered() == r.expected() && time.Since(since) >= 3*time.Second {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("after 3 minutes of the final run, %d of %d announcements were made\n%s",
				r.countDelivered(), r.expected(), r.proc.tail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dedupe removes immediate repeats: a post repeated after a crash.
func dedupe(s []string) []string {
	return slices.Compact(slices.Clone(s))
}

// lcs is the length of the longest common subsequence of a and b.
func lcs(a, b []string) int {
	prev := make([]int, len(b)+1)
	for i := range a {
		cur := make([]int, len(b)+1)
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(prev[j+1], cur[j])
			}
		}
		prev = cur
	}
	return prev[len(b)]
}
