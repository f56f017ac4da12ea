package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// The real taskbot, built once from the product module (../) for every test that needs it.
var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string // removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// taskbotBinary builds taskbot from ../ with the product's own go.mod (as the Dockerfile does)
// and returns the binary's path.
func taskbotBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "taskbot-deploy-test-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "taskbot")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build in ..: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// productVariables are the environment variables taskbot reads, as `taskbot help` lists them.
func productVariables(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command(taskbotBinary(t), "help").Output()
	if err != nil {
		t.Fatalf("taskbot help: %v", err)
	}
	_, env, ok := strings.Cut(string(out), "\nenvironment:\n")
	if !ok {
		t.Fatalf("taskbot help lists no environment:\n%s", out)
	}
	var names []string
	sc := bufio.NewScanner(strings.NewReader(env))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 && strings.ToUpper(f[0]) == f[0] {
			names = append(names, f[0])
		}
	}
	if len(names) < 10 {
		t.Fatalf("taskbot help lists only %d variables: %v", len(names), names)
	}
	return names
}

// testSigningSecret signs the slash commands the tests send.
const testSigningSecret = "deploy-test-signing-secret"

// running is a taskbot serve process against the product's fakes: the Task Manager API of
// tasks/taskstest and the Slack of bot/bottest.
type running struct {
	api   *taskstest.Server
	slack *bottest.Slack
	resp  *bottest.ResponseURL
	addr  string
	cmd   *exec.Cmd
	out   *bytes.Buffer
	done  chan struct{}
}

// startTaskbot starts `taskbot serve` with extra environment variables (KEY=VALUE) and waits,
// at most 60 s, until /readyz answers 200. The process is stopped at the end of the test.
func startTaskbot(t *testing.T, api *taskstest.Server, extra ...string) *running {
	t.Helper()
	r := &running{api: api, slack: bottest.NewSlack(), resp: bottest.NewResponseURL(), out: &bytes.Buffer{},
		done: make(chan struct{})}
	t.Cleanup(r.slack.Close)
	t.Cleanup(r.resp.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	ln.Close()
	env := []string{
		"ACRONIS_URL=" + api.URL,
		"ACRONIS_CLIENT_ID=" + api.ClientID,
		"ACRONIS_CLIENT_SECRET=" + api.ClientSecret,
		"SLACK_BOT_TOKEN=xoxb-deploy-test",
		"SLACK_SIGNING_SECRET=" + testSigningSecret,
		"SLACK_CHANNEL=C0DEPLOY01",
		"SLACK_API_URL=" + r.slack.URL(),
		"TASKBOT_LISTEN_ADDR=" + r.addr,
		"TASKBOT_DB_PATH=" + filepath.Join(t.TempDir(), "taskbot.db"),
		"TASKBOT_POLL_INTERVAL=200ms",
		"TASKBOT_ANNOUNCE_STATES=started,paused,completed,failed",
		"PATH=" + os.Getenv("PATH"),
		"TMPDIR=" + t.TempDir(),
	}
	r.cmd = exec.Command(taskbotBinary(t), "serve")
	r.cmd.Env = append(env, extra...)
	r.cmd.Stdout, r.cmd.Stderr = &lockedWriter{w: r.out}, &lockedWriter{w: r.out}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		r.cmd.Process.Signal(os.Interrupt)
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
		}
	})
	waitUntil(t, 60*time.Second, "taskbot's /readyz to answer 200", func() bool {
		select {
		case <-r.done:
			t.Fatalf("taskbot exited before it was ready:\n%s", r.output())
		default:
		}
		resp, err := http.Get("http://" + r.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return r
}

// output is what the process logged so far.
func (r *running) output() string {
	outMu.Lock()
	defer outMu.Unlock()
	return r.out.String()
}

// command sends a signed /tasks slash command and returns the HTTP status.
func (r *running) command(t *testing.T, text string) int {
	t.Helper()
	body := bottest.CommandForm(text, r.resp.URL)
	req, err := http.NewRequest(http.MethodPost, "http://"+r.addr+"/slack/commands", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	bottest.Sign(req, testSigningSecret, body, time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// metrics scrapes /metrics and parses it as Prometheus does: metric families by name.
func (r *running) metrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// waitUntil polls cond every 20 ms until it holds, and fails the test after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outMu guards the output buffers of the processes the tests start.
var outMu sync.Mutex

type lockedWriter struct{ w io.Writer }

func (l *lockedWriter) Write(p []byte) (int, error) {
	outMu.Lock()
	defer outMu.Unlock()
	return l.w.Write(p)
}
