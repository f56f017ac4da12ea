package state

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func quiet() *slog.Logger { return quietTo(io.Discard) }

func quietTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func openTest(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func task(key string, st tasks.State, at time.Time) tasks.Task {
	t := tasks.Task{UUID: key, State: st, UpdatedAt: at, Context: map[string]any{"title": "Backup " + key}}
	if st == tasks.Completed {
		t.Result = &tasks.Result{Code: tasks.ResultOK}
		t.CompletedAt = at
	}
	return t
}

func failed(key string, at time.Time) tasks.Task {
	t := task(key, tasks.Completed, at)
	t.Result = &tasks.Result{Code: tasks.ResultError}
	return t
}

// everything announces every event, with no flood limit: most tests here are about storage.
var everything, _ = tasks.ParseAnnounceSet([]string{"enqueued", "assigned", "started", "paused", "completed", "failed"})

// apply records p with the announce policy that announces everything, one entry per transition.
func apply(s *Store, p announce.Poll) ([]announce.Entry, error) {
	return applyRules(s, announce.Rules{Announce: everything, Burst: -1}, p)
}

// applyRules records p with the policy r, deciding at the store's clock.
// The API's clock is the real one (the tasks here are from 2026-11-29), so no task is stamped
// in its future.
func applyRules(s *Store, r announce.Rules, p announce.Poll) ([]announce.Entry, error) {
	if p.ServerTime.IsZero() {
		p.ServerTime = time.Now()
	}
	return s.Apply(p, func(in announce.Input) announce.Decision { return r.Decide(in, s.opts.Now()) })
}

// allPending is every outbox entry, in sequence order.
func allPending(s *Store) ([]announce.Entry, error) {
	chans, err := s.Channels()
	if err != nil {
		return nil, err
	}
	var all []announce.Entry
	for _, ch := range chans {
		p, err := s.Pending(ch, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, p...)
	}
	slices.SortFunc(all, func(a, b announce.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	return all, nil
}

// events are the announcements among es as "key:event" (thread refreshes left out: they are
// the policy's business, tested in package announce).
func events(es []announce.Entry) []string {
	var out []string
	for _, e := range es {
		if e.Refresh {
			continue
		}
		out = append(out, fmt.Sprintf("%s:%s", e.Task.Key, e.Event))
	}
	return out
}

func TestApplyTransitions(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "taskbot.db"), Options{Now: func() time.Time { return t0 }})

	got, err := apply(s, announce.Poll{Baseline: true, Tasks: []tasks.Task{
		task("a", tasks.Started, t0.Add(-3*time.Hour)),
		task("b", tasks.Paused, t0.Add(-2*time.Hour)),
	}, Watermark: t0.Add(-time.Minute)})
	if err != nil || len(got) != 0 {
		t.Fatalf("baseline queued %v, %v; want nothing", events(got), err)
	}
	if ok, _ := s.Baselined(); !ok {
		t.Fatal("Baselined() = false after a baseline poll")
	}
	if w, _ := s.Watermark(); !w.Equal(t0.Add(-time.Minute)) {
		t.Fatalf("watermark after baseline = %v, want %v", w, t0.Add(-time.Minute))
	}

	steps := []struct {
		name string
		poll []tasks.Task
		want []string
	}{
		{"unchanged tasks queue nothing", []tasks.Task{task("a", tasks.Started, t0.Add(-3*time.Hour))}, nil},
		{"started to paused", []tasks.Task{task("a", tasks.Paused, t0.Add(time.Second))}, []string{"a:paused"}},
		{"the same answer again (overlapping poll)", []tasks.Task{task("a", tasks.Paused, t0.Add(time.Second))}, nil},
		{"a stale answer does not regress", []tasks.Task{task("a", tasks.Started, t0)}, nil},
		{"paused to started is resumed; updates sorted by time", []tasks.Task{
			failed("b", t0.Add(3*time.Second)), task("a", tasks.Started, t0.Add(2*time.Second)),
		}, []string{"a:resumed", "b:failed"}},
		{"a new task first seen started", []tasks.Task{task("c", tasks.Started, t0.Add(4*time.Second))}, []string{"c:started"}},
		{"same state, newer updatedAt: no transition", []tasks.Task{task("c", tasks.Started, t0.Add(5*time.Second))}, nil},
		{"completed ok", []tasks.Task{task("c", tasks.Completed, t0.Add(6*time.Second))}, []string{"c:completed"}},
	}
	var all []string
	for _, st := range steps {
		got, err := apply(s, announce.Poll{Tasks: st.poll})
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if g := strings.Join(events(got), " "); g != strings.Join(st.want, " ") {
			t.Errorf("%s: queued %q, want %q", st.name, g, strings.Join(st.want, " "))
		}
		all = append(all, st.want...)
	}
	pending, err := allPending(s)
	if err != nil {
		t.Fatal(err)
	}
	pending = slices.DeleteFunc(pending, func(e announce.Entry) bool { return e.Refresh })
	if g := strings.Join(events(pending), " "); g != strings.Join(all, " ") {
		t.Fatalf("Pending = %q, want %q", g, strings.Join(all, " "))
	}
	for i := 1; i < len(pending); i++ {
		if pending[i].Seq <= pending[i-1].Seq {
			t.Fatalf("outbox out of order: %d after %d", pending[i].Seq, pending[i-1].Seq)
		}
	}
	if pending[0].From != tasks.Started || pending[3].From != "" {
		t.Errorf("From = %q, %q; want started, \"\"", pending[0].From, pending[3].From)
	}
	if w, _ := s.Watermark(); !w.Equal(t0.Add(6 * time.Second)) {
		t.Errorf("watermark = %v, want the latest updatedAt %v", w, t0.Add(6*time.Second))
	}
}

func TestAnnounceFilter(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "taskbot.db"), Options{})
	set, err := tasks.ParseAnnounceSet([]string{"paused", "failed"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apply(s, announce.Poll{Baseline: true}); err != nil {
		t.Fatal(err)
	}
	got, err := applyRules(s, announce.Rules{Announce: set, Burst: -1}, announce.Poll{Tasks: []tasks.Task{
		task("a", tasks.Started, t0), task("b", tasks.Paused, t0.Add(time.Second)),
		task("c", tasks.Completed, t0.Add(2*time.Second)), failed("d", t0.Add(3*time.Second)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(events(got), " "); g != "b:paused d:failed" {
		t.Fatalf("queued %q, want only the paused and the failed task", g)
	}
	if rec, ok, _ := s.Sighting("a"); !ok || rec.State != tasks.Started {
		t.Fatalf("unannounced task a not recorded: %+v %v", rec, ok)
	}
}

func TestDeliveredSetsThreadOnce(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "taskbot.db"), Options{})
	apply(s, announce.Poll{Baseline: true})
	q1, _ := apply(s, announce.Poll{Tasks: []tasks.Task{task("a", tasks.Started, t0)}})
	q2, _ := apply(s, announce.Poll{Tasks: []tasks.Task{task("a", tasks.Paused, t0.Add(time.Second))}})
	q2 = slices.DeleteFunc(q2, func(e announce.Entry) bool { return e.Refresh })
	if len(q1) != 1 || len(q2) != 1 {
		t.Fatalf("queued %d and %d entries, want 1 and 1", len(q1), len(q2))
	}
	if err := s.Delivered("", q1[0].Seq, "a", "1700000000.000100", false); err != nil {
		t.Fatal(err)
	}
	if err := s.Delivered("", q2[0].Seq, "a", "1700000000.000200", false); err != nil {
		t.Fatal(err)
	}
	if err := s.Delivered("", q2[0].Seq, "a", "", false); err != nil {
		t.Fatalf("delivering twice: %v", err)
	}
	if p, _ := allPending(s); len(p) != 1 || !p[0].Refresh {
		t.Fatalf("outbox holds %+v, want the refresh of a's thread", p)
	} else if err := s.Delivered("", p[0].Seq, "a", "", false); err != nil {
		t.Fatal(err)
	}
	rec, _, _ := s.Sighting("a")
	if rec.Threads[""] != "1700000000.000100" {
		t.Fatalf("thread ts = %q, want the first message's ts", rec.Threads[""])
	}
	if p, _ := allPending(s); len(p) != 0 {
		t.Fatalf("outbox still holds %d entries", len(p))
	}
	// A later poll keeps the thread.
	apply(s, announce.Poll{Tasks: []tasks.Task{task("a", tasks.Started, t0.Add(2*time.Second))}})
	if rec, _, _ := s.Sighting("a"); rec.Threads[""] != "1700000000.000100" {
		t.Fatalf("thread ts lost after an update: %q", rec.Threads[""])
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taskbot.db")
	s, err := Open(path, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	apply(s, announce.Poll{Baseline: true, Tasks: []tasks.Task{task("a", tasks.Started, t0)}})
	apply(s, announce.Poll{Tasks: []tasks.Task{task("a", tasks.Paused, t0.Add(time.Second))}})
	s.Close()

	s = openTest(t, path, Options{})
	if ok, _ := s.Baselined(); !ok {
		t.Fatal("baseline lost on reopen")
	}
	p, _ := allPending(s)
	if g := strings.Join(events(p), " "); g != "a:paused" {
		t.Fatalf("pending after reopen = %q, want a:paused", g)
	}
	got, _ := apply(s, announce.Poll{Tasks: []tasks.Task{task("a", tasks.Paused, t0.Add(time.Second))}})
	if len(got) != 0 {
		t.Fatalf("re-seeing the same state after restart queued %v", events(got))
	}
}

func TestGoneTasksAreRememberedForAWhile(t *testing.T) {
	now := t0
	s := openTest(t, filepath.Join(t.TempDir(), "taskbot.db"), Options{GoneAfter: time.Hour, PruneEvery: time.Nanosecond,
		Now: func() time.Time { return now }})
	a, b := task("a", tasks.Started, t0.Add(-time.Hour)), task("b", tasks.Paused, t0.Add(-time.Hour))
	apply(s, announce.Poll{Baseline: true, Tasks: []tasks.Task{a, b}})

	// The API answers with nothing for a while: a and b are missing, not forgotten.
	now = now.Add(time.Minute)
	if q, err := apply(s, announce.Poll{Gone: []string{"a", "b"}}); err != nil || len(q) != 0 {
		t.Fatalf("Gone queued %v, %v", q, err)
	}
	rec, ok, _ := s.Sighting("b")
	if !ok || !rec.MissingSince.Equal(now) {
		t.Fatalf("record b after Gone: %+v, %v; want kept, missing since %v", rec, ok, now)
	}
	// They come back unchanged: no announcement, no longer missing.
	now = now.Add(10 * time.Minute)
	if q, _ := apply(s, announce.Poll{Tasks: []tasks.Task{a, b}}); len(q) != 0 {
		t.Fatalf("tasks back after an empty answer were announced: %v", events(q))
	}
	if rec, _, _ := s.Sighting("b"); !rec.MissingSince.IsZero() {
		t.Fatalf("b still marked missing after it was seen again")
	}
	// b disappears for good: it is dropped once missing for GoneAfter.
	apply(s, announce.Poll{Gone: []string{"b"}})
	now = now.Add(2 * time.Hour)
	apply(s, announce.Poll{})
	if _, ok, _ := s.Sighting("b"); ok {
		t.Fatal("b kept after missing for longer than GoneAfter")
	}
	if keys, _ := s.InProgressKeys(); len(keys) != 1 || keys[0] != "a" {
		t.Fatalf("InProgressKeys = %q, want only a", keys)
	}
}

func TestLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "taskbot.db")
	openTest(t, path, Options{})
	start := time.Now()
	_, err := Open(path, Options{LockTimeout: 300 * time.Millisecond, Logger: quiet()})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open took %v", d)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("locked file was touched: %v", err)
	}
}

func TestCorruptFileMovedAside(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, path string)
	}{
		{"not a bbolt file", func(t *testing.T, path string) {
			os.WriteFile(path, []byte(strings.Repeat("this is not a database\n", 1000)), 0o600)
		}},
		{"a few bytes", func(t *testing.T, path string) { os.WriteFile(path, []byte("x"), 0o600) }},
		{"truncated store", func(t *testing.T, path string) {
			s, err := Open(path, Options{Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			var many []tasks.Task
			for i := range 2000 {
				many = append(many, task(fmt.Sprintf("task-%05d", i), tasks.Started, t0))
			}
			apply(s, announce.Poll{Baseline: true, Tasks: many})
			s.Close()
			fi, _ := os.Stat(path)
			os.Truncate(path, fi.Size()/2)
		}},
		{"a large store cut to a few pages (reads past the end of the memory map)", func(t *testing.T, path string) {
			s, err := Open(path, Options{Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			var many []tasks.Task
			for i := range 6000 {
				many = append(many, task(fmt.Sprintf("task-%05d", i), tasks.Started, t0))
			}
			apply(s, announce.Poll{Baseline: true, Tasks: many})
			s.Close()
			os.Truncate(path, 20000)
		}},
		{"meta pages overwritten", func(t *testing.T, path string) {
			s, _ := Open(path, Options{Logger: quiet()})
			apply(s, announce.Poll{Baseline: true, Tasks: []tasks.Task{task("a", tasks.Started, t0)}})
			s.Close()
			f, _ := os.OpenFile(path, os.O_WRONLY, 0)
			f.WriteAt([]byte(strings.Repeat("\xff", 8192)), 0)
			f.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "taskbot.db")
			tc.write(t, path)
			var logged strings.Builder
			s, err := Open(path, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
			if err != nil {
				t.Fatalf("Open of a damaged file: %v", err)
			}
			defer s.Close()
			if ok, _ := s.Baselined(); ok {
				t.Fatal("a new store claims a baseline")
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("moved-aside files = %v, want one", aside)
			}
			if !strings.Contains(logged.String(), "level=ERROR") || !strings.Contains(logged.String(), aside[0]) {
				t.Fatalf("log %q does not say loudly where the file went", logged.String())
			}
		})
	}
}

func TestPruneKeepsFileBounded(t *testing.T) {
	now := t0
	path := filepath.Join(t.TempDir(), "taskbot.db")
	s := openTest(t, path, Options{Retention: time.Hour, PruneEvery: time.Minute, Now: func() time.Time { return now }})
	apply(s, announce.Poll{Baseline: true})
	var sizes []int64
	n := 0
	for round := range 60 {
		// 100 short-lived tasks a round: each starts and completes; every announcement delivered.
		var poll []tasks.Task
		for range 100 {
			key := fmt.Sprintf("task-%06d", n)
			n++
			poll = append(poll, task(key, tasks.Started, now))
		}
		q, err := apply(s, announce.Poll{Tasks: poll})
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(10 * time.Minute)
		for i := range poll {
			poll[i] = task(poll[i].UUID, tasks.Completed, now)
		}
		q2, err := apply(s, announce.Poll{Tasks: poll})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range append(q, q2...) {
			if err := s.Delivered("", e.Seq, e.Task.Key, "1.1", false); err != nil {
				t.Fatal(err)
			}
		}
		st, _ := s.Stats()
		if round%10 == 9 {
			sizes = append(sizes, st.FileSize)
		}
		if st.Tasks > 800 {
			t.Fatalf("round %d: %d task records kept with a 1h retention of 10-minute rounds", round, st.Tasks)
		}
	}
	// 6,000 tasks went through; the file must level off once pruning balances new tasks.
	// bbolt grows the file a page or two at a time as its free list fragments; a file that kept
	// growing with the tasks seen would be about 200 KiB larger after 6,000 tasks than after
	// 3,000. Allow four pages of slack.
	if last, mid := sizes[len(sizes)-1], sizes[2]; last > mid+4*4096 {
		t.Fatalf("file keeps growing: sizes every 10 rounds %v", sizes)
	}
	t.Logf("file sizes every 10 rounds (6,000 tasks): %v", sizes)
}

func BenchmarkApply100(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "taskbot.db"), Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	apply(s, announce.Poll{Baseline: true})
	poll := make([]tasks.Task, 100)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for j := range poll {
			st := tasks.Started
			if i%2 == 1 {
				st = tasks.Paused
			}
			poll[j] = task(fmt.Sprintf("task-%03d", j), st, t0.Add(time.Duration(i)*time.Second))
		}
		if _, err := apply(s, announce.Poll{Tasks: poll}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBurstBecomesOneSummary(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "taskbot.db"), Options{})
	apply(s, announce.Poll{Baseline: true})
	var poll []tasks.Task
	for i := range 30 {
		st := tasks.Started
		if i%3 == 0 {
			st = tasks.Paused
		}
		poll = append(poll, task(fmt.Sprintf("t%02d", i), st, t0.Add(time.Duration(i)*time.Second)))
	}
	// Ten transitions in a poll are posted one by one.
	q, err := applyRules(s, announce.Rules{Announce: everything, Burst: 10}, announce.Poll{Tasks: poll[:10]})
	if err != nil || len(q) != 10 || q[0].Summary != nil {
		t.Fatalf("10 transitions with burst 10: %d entries, %v", len(q), err)
	}
	// Twenty in one poll become one summary that counts all of them.
	q, err = applyRules(s, announce.Rules{Announce: everything, Burst: 10}, announce.Poll{Tasks: poll[10:]})
	if err != nil || len(q) != 1 || q[0].Summary == nil {
		t.Fatalf("20 transitions with burst 10: %+v, %v; want one summary", q, err)
	}
	sum := q[0].Summary
	if sum.Counts[tasks.EventStarted] != 14 || sum.Counts[tasks.EventPaused] != 6 || len(sum.First) != announce.SummaryFirst {
		t.Fatalf("summary counts %v with %d named transitions", sum.Counts, len(sum.First))
	}
	if sum.First[0].Task.Key != "t10" {
		t.Errorf("summary starts with %s, want the earliest transition t10", sum.First[0].Task.Key)
	}
	// The tasks are recorded all the same: the next poll does not announce them again.
	if q, _ := applyRules(s, announce.Rules{Announce: everything, Burst: 10}, announce.Poll{Tasks: poll[10:]}); len(q) != 0 {
		t.Fatalf("re-seen flood queued %d entries", len(q))
	}
	p, _ := allPending(s)
	if len(p) != 11 {
		t.Fatalf("outbox holds %d entries, want 10 + 1 summary", len(p))
	}
}

// TestUnchangedTasksAreNotRead: with the rules' Tag, a task listed again as its record was
// stored (same updatedAt, state, result code, tenant, rules) is left out of the policy's Input
// unread, so a reconciliation of unchanged tasks reads the index only. A change of any of those
// brings it back; a record stored without a stamp (an older taskbot, other rules) is stamped
// once, without being rewritten.
func TestUnchangedTasksAreNotRead(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"), Options{})
	at := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	rules := announce.Rules{Announce: everything, Burst: -1}
	tag := rules.Tag()
	acme := func(tk tasks.Task) tasks.Task { tk.Tenant = &tasks.Tenant{ID: "1001", Name: "Acme"}; return tk }
	a, b := acme(task("a", tasks.Started, at)), acme(task("b", tasks.Paused, at))
	var got []string // the keys the last poll's Input held, listed and last seen
	decided := 0
	poll := func(p announce.Poll) []announce.Entry {
		t.Helper()
		p.ServerTime = time.Now()
		q, err := s.Apply(p, func(in announce.Input) announce.Decision {
			decided++
			got = nil
			for _, tk := range in.Tasks {
				got = append(got, tk.Key())
			}
			if len(in.Last) > len(in.Tasks)+len(in.Gone)+len(in.Due) {
				t.Errorf("%d records read for %d tasks", len(in.Last), len(in.Tasks))
			}
			return rules.Decide(in, s.opts.Now())
		})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	poll(announce.Poll{Tasks: []tasks.Task{a, b}}) // stored without a stamp (no Tag)
	poll(announce.Poll{Tasks: []tasks.Task{a, b}, Tag: tag})
	if want := []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("records stored without a stamp: Input %q, want %q", got, want)
	}
	poll(announce.Poll{Tasks: []tasks.Task{a, b}, Tag: tag})
	if len(got) != 0 {
		t.Fatalf("unchanged tasks, stamped: Input %q, want none", got)
	}

	renamed := b
	renamed.Tenant = &tasks.Tenant{ID: "1001", Name: "Acme Corp"}
	newer := task("a", tasks.Started, at.Add(time.Minute))
	newer.Tenant = a.Tenant
	done := acme(task("a", tasks.Completed, at.Add(2*time.Minute)))
	for _, c := range []struct {
		name string
		p    announce.Poll
		want []string
	}{
		{"a later updatedAt", announce.Poll{Tasks: []tasks.Task{newer, b}, Tag: tag}, []string{"a"}},
		{"the same again", announce.Poll{Tasks: []tasks.Task{newer, b}, Tag: tag}, nil},
		{"a renamed tenant", announce.Poll{Tasks: []tasks.Task{newer, renamed}, Tag: tag}, []string{"b"}},
		{"other rules", announce.Poll{Tasks: []tasks.Task{newer, renamed}, Tag: tag + 1}, []string{"a", "b"}},
		{"back to the first rules", announce.Poll{Tasks: []tasks.Task{newer, renamed}, Tag: tag}, []string{"a", "b"}},
		{"stamped again", announce.Poll{Tasks: []tasks.Task{newer, renamed}, Tag: tag}, nil},
		{"no tag", announce.Poll{Tasks: []tasks.Task{newer, renamed}}, []string{"a", "b"}},
		{"a completion", announce.Poll{Tasks: []tasks.Task{done, renamed}, Tag: tag}, []string{"a"}},
		{"a completed task (not indexed)", announce.Poll{Tasks: []tasks.Task{done, renamed}, Tag: tag}, []string{"a"}},
	} {
		q := poll(c.p)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: Input %q, want %q", c.name, got, c.want)
		}
		if c.name == "a completion" && (len(q) == 0 || q[0].Event != tasks.EventCompleted || q[0].Task.Key != "a") {
			t.Errorf("the completion queued %v, want a's completed first", events(q))
		}
	}
	// A page of a poll (Partial) with nothing to decide is answered without a transaction
	// that writes: the policy is not even asked.
	before := decided
	poll(announce.Poll{Tasks: []tasks.Task{renamed}, Tag: tag, Partial: true})
	if decided != before {
		t.Errorf("an unchanged page of a reconciliation was decided (%d times)", decided-before)
	}
	poll(announce.Poll{Tasks: []tasks.Task{renamed, newer}, Tag: tag, Partial: true})
	if decided != before+1 || !slices.Equal(got, []string{"a"}) {
		t.Errorf("a page with a changed task: decided %d times, Input %q", decided-before, got)
	}
	if rec, _, _ := s.Sighting("b"); rec.TenantName != "Acme Corp" {
		t.Errorf("b's tenant after the rename: %q", rec.TenantName)
	}
}
