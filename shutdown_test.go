package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// TestShutdown stops the real binary with signals, in the states the README promises to handle:
// SIGTERM finishes the post and the answers in flight (at most 10 s) and closes the state file,
// a second signal exits at once, and a second process on the same state file gives up quickly.
func TestShutdown(t *testing.T) {
	t.Parallel()
	t.Run("SIGTERM with nothing in flight exits 0 within 5s and closes the state file", func(t *testing.T) {
		t.Parallel()
		e := newBinEnv(t)
		e.api.Add(tasks.Task{State: tasks.Started, Context: map[string]any{"title": "quiet task"}})
		p := e.start(t)
		p.waitReady(t)
		sent := time.Now()
		p.signal(t, syscall.SIGTERM)
		code := p.wait(t, 30*time.Second)
		took := p.exitAt.Sub(sent)
		t.Logf("exited %d after %v", code, took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("exit took %v after SIGTERM, want under 5s", took)
		}
		if code != 0 {
			t.Errorf("exit status %d, want 0\n%s", code, p.tail(20))
		}
		if !strings.Contains(p.output(), "state file closed") {
			t.Errorf("no \"state file closed\" in the log\n%s", p.tail(20))
		}
	})

	t.Run("SIGTERM during a post finishes it, and a restart does not post it again", func(t *testing.T) {
		t.Parallel()
		e := newBinEnv(t)
		task := e.api.Add(tasks.Task{State: tasks.Started, Context: map[string]any{"title": "held-post task"}})
		p := e.start(t)
		p.waitReady(t)
		e.slack.Fail(bottest.Fault{Method: "chat.postMessage", Delay: 2 * time.Second, Times: 1})
		calls := e.slack.Calls()
		if _, err := e.api.SetState(task.UUID, tasks.Paused, ""); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 30*time.Second, "the announcement to be in flight", func() bool { return e.slack.Calls() > calls })
		sent := time.Now()
		p.signal(t, syscall.SIGTERM)
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("exit status %d, want 0\n%s", code, p.tail(20))
		}
		if got := announcementsOf(e.slack, "held-post task"); len(got) != 1 || !strings.Contains(got[0].Text, "Task paused") {
			t.Fatalf("after SIGTERM during the post, Slack has %+v, want the pause announcement once\n%s", got, p.tail(20))
		}
		took := p.exitAt.Sub(sent)
		t.Logf("exited 0 after %v, with the held post delivered", took.Round(time.Millisecond))
		if took > 10*time.Second {
			t.Errorf("exit took %v after SIGTERM, beyond the 10s grace", took)
		}
		if !strings.Contains(p.output(), "state file closed") {
			t.Errorf("no \"state file closed\" in the log\n%s", p.tail(20))
		}

		again := e.start(t)
		again.waitReady(t)
		// A pending announcement would be posted as soon as the announcer starts: let five
		// polls pass after the restart is ready, each of which could post it again.
		polls := e.api.TaskRequests()
		waitUntil(t, 30*time.Second, "five more polls", func() bool { return e.api.TaskRequests() >= polls+5 })
		if got := announcementsOf(e.slack, "held-post task"); len(got) != 1 {
			t.Errorf("after a restart, the announcement was posted %d times, want once: %+v\n%s", len(got), got, again.tail(20))
		}
		again.signal(t, syscall.SIGTERM)
		if code := again.wait(t, 30*time.Second); code != 0 {
			t.Errorf("restart: exit status %d, want 0\n%s", code, again.tail(20))
		}
	})

	t.Run("SIGTERM during a post Slack holds for 15s exits within 10s, and the restart delivers it", func(t *testing.T) {
		t.Parallel()
		e := newBinEnv(t)
		task := e.api.Add(tasks.Task{State: tasks.Started, Context: map[string]any{"title": "slow-slack task"}})
		p := e.start(t)
		p.waitReady(t)
		e.slack.Fail(bottest.Fault{Method: "chat.postMessage", Delay: 15 * time.Second, Times: 1})
		calls := e.slack.Calls()
		if _, err := e.api.SetState(task.UUID, tasks.Paused, ""); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 30*time.Second, "the announcement to be in flight", func() bool { return e.slack.Calls() > calls })
		sent := time.Now()
		p.signal(t, syscall.SIGTERM)
		code := p.wait(t, 30*time.Second)
		took := p.exitAt.Sub(sent)
		t.Logf("exited %d after %v with the post cut short", code, took.Round(time.Millisecond))
		if code != 0 || took >= 10*time.Second {
			t.Fatalf("exit %d after %v; want 0 within Docker's 10s stop timeout\n%s", code, took, p.tail(20))
		}
		if got := announcementsOf(e.slack, "slow-slack task"); len(got) != 0 {
			t.Fatalf("Slack recorded %+v though it never answered", got)
		}
		again := e.start(t)
		again.waitReady(t)
		waitUntil(t, 30*time.Second, "the cut-short announcement after the restart", func() bool {
			return len(announcementsOf(e.slack, "slow-slack task")) == 1
		})
		again.signal(t, syscall.SIGTERM)
		if code := again.wait(t, 30*time.Second); code != 0 {
			t.Errorf("restart: exit status %d, want 0\n%s", code, again.tail(20))
		}
	})

	for _, tc := range []struct {
		name  string
		delay time.Duration // of every list request, once the bot is ready
		want  string        // in the one response_url post before exit
	}{
		{"SIGTERM during a slash command delivers the answer to response_url before exit", 3 * time.Second, "paused-for-command task"},
		{"SIGTERM during a slash command the API will not answer tells the user before exit", time.Minute, "shutting down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sigtermDuringCommand(t, tc.delay, tc.want)
		})
	}

	t.Run("a second SIGTERM exits at once", func(t *testing.T) {
		t.Parallel()
		e := newBinEnv(t)
		task := e.api.Add(tasks.Task{State: tasks.Started, Context: map[string]any{"title": "long-held task"}})
		p := e.start(t)
		p.waitReady(t)
		e.slack.Fail(bottest.Fault{Method: "chat.postMessage", Delay: 8 * time.Second, Times: 1})
		calls := e.slack.Calls()
		if _, err := e.api.SetState(task.UUID, tasks.Paused, ""); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 30*time.Second, "the announcement to be in flight", func() bool { return e.slack.Calls() > calls })
		p.signal(t, syscall.SIGTERM)
		time.Sleep(500 * time.Millisecond)
		if p.exited() {
			t.Fatalf("exited (%v) with a post in flight, after one SIGTERM\n%s", p.state, p.tail(20))
		}
		second := time.Now()
		p.signal(t, syscall.SIGTERM)
		code := p.wait(t, 30*time.Second)
		took := p.exitAt.Sub(second)
		t.Logf("exited %d after %v after the second SIGTERM", code, took.Round(time.Millisecond))
		if took > 3*time.Second {
			t.Errorf("exit took %v after the second SIGTERM, want at once", took)
		}
		if code == 0 {
			t.Errorf("exit status 0 after a second SIGTERM, want a failure status")
		}
		if n := len(e.slack.Messages()); n != 0 {
			t.Errorf("the held post completed (%d messages): the process waited for it", n)
		}
		if !strings.Contains(p.output(), "second signal") {
			t.Errorf("the log does not say why it exited at once\n%s", p.tail(20))
		}
	})

	t.Run("a second process on the same state file exits 1 naming the file", func(t *testing.T) {
		t.Parallel()
		e := newBinEnv(t)
		first := e.start(t)
		first.waitReady(t)
		second := e.start(t)
		started := time.Now()
		code := second.wait(t, 30*time.Second)
		took := second.exitAt.Sub(started)
		t.Logf("the second process exited %d after %v", code, took.Round(time.Millisecond))
		if took > 10*time.Second {
			t.Errorf("the second process took %v to give up, want a few seconds", took)
		}
		if code != 1 {
			t.Errorf("second process: exit status %d, want 1\n%s", code, second.output())
		}
		if !strings.Contains(second.output(), e.db) {
			t.Errorf("the second process's output does not name %s:\n%s", e.db, second.output())
		}
		if resp, err := binHTTP.Get("http://" + first.addr + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("the first process is not healthy any more: %v", err)
		} else {
			resp.Body.Close()
		}
		first.signal(t, syscall.SIGTERM)
		if code := first.wait(t, 30*time.Second); code != 0 {
			t.Errorf("first process: exit status %d, want 0\n%s", code, first.tail(20))
		}
	})
}

// sigtermDuringCommand sends SIGTERM while a slash command waits for an API that takes delay
// per list request, and checks that taskbot exits 0 within Docker's 10 s with one response_url
// post containing want.
func sigtermDuringCommand(t *testing.T, delay time.Duration, want string) {
	e := newBinEnv(t)
	e.api.Add(tasks.Task{State: tasks.Paused, Context: map[string]any{"title": "paused-for-command task"}})
	p := e.start(t)
	p.waitReady(t)
	// Every list request takes delay from now on: longer than the 2 s within which taskbot
	// acknowledges a command, so the answer must go to response_url. (A single slow request
	// would likely be a poll's, which run every 100 ms.)
	e.api.Fail(taskstest.Fault{Delay: delay})
	before := len(e.api.Requests())
	type answer struct {
		status int
		body   string
		err    error
	}
	acked := make(chan answer, 1)
	go func() {
		body := bottest.CommandForm("paused", e.resp.URL)
		req, _ := http.NewRequest("POST", "http://"+p.addr+"/slack/commands", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		bottest.Sign(req, testSecret, body, time.Now())
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			acked <- answer{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		acked <- answer{status: resp.StatusCode, body: string(b)}
	}()
	waitUntil(t, 30*time.Second, "the command's API request", func() bool {
		for _, r := range e.api.Requests()[before:] {
			if strings.Contains(r.RawQuery, "state=paused") && !strings.Contains(r.RawQuery, "state=started") {
				return true
			}
		}
		return false
	})
	sent := time.Now()
	p.signal(t, syscall.SIGTERM)
	code := p.wait(t, 30*time.Second)
	got := e.resp.Posts() // what response_url had received when the process was gone
	t.Logf("exited %d after %v; response_url had %d answers", code, p.exitAt.Sub(sent).Round(time.Millisecond), len(got))
	if code != 0 {
		t.Errorf("exit status %d, want 0\n%s", code, p.tail(20))
	}
	a := <-acked
	if a.err != nil || a.status != http.StatusOK {
		t.Errorf("the command got %d %q (err %v), want 200 with a progress note", a.status, a.body, a.err)
	}
	if len(got) != 1 || !strings.Contains(string(got[0]), want) {
		t.Errorf("response_url received %d answers before exit, want 1 saying %q: %s\n%s", len(got), want, got, p.tail(20))
	}
	if took := p.exitAt.Sub(sent); took >= 10*time.Second {
		t.Errorf("exit took %v after SIGTERM, want under Docker's 10 s", took)
	}
}

// waitUntil polls cond until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
