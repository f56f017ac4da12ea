package bot

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
)

// FuzzParseCommand: any text gives either a *UsageError whose message is safe to paste into
// mrkdwn (checkUsageSafe), or a command that is consistent (commandProblem) and that String()
// and ParseCommand turn back into itself; a listing's String fits a button. Seeds are in
// testdata/fuzz/FuzzParseCommand too.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"", "paused started", "Paused,  STARTED", "failed", "paused failed",
		"help", "&lt;!channel&gt;", "<@U123>", "paused\u00a0started\u3000failed", "completed failed", "x\x00y",
		`failed tenant:"Acme Corp" tenant:Beta`, "tenant:\u201cAcme, Inc.\u201d", `tenant:"Acme`, "tenant:", `tenant:"a"b`,
		"tenant:Smith&amp;amp;Sons", "show 944455285181775872", "show 6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69", "show 1 2",
		"subscribe stuck failed tenant:x", "unsubscribe tenant:x", "subscriptions", "mutes", "unmute #3", "unmute 0",
		`mute tenant:"Acme Corp" 1h30m maintenance &amp;lt; window`, "mute task:1 10y", "mute plan:x 0m", "mute plan:x 31d",
		"scope", "scope all", "scope all tenant:x", "scope tenant:\u201dx\"", "show help"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cmd, err := ParseCommand(text)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %T %v is not a *UsageError", err, err)
			}
			if !reflect.DeepEqual(cmd, Command{}) {
				t.Fatalf("command %#v returned with an error", cmd)
			}
			checkUsageSafe(t, ue)
			if m := RenderUsage(err); CheckLimits(m) != nil {
				t.Fatalf("usage reply: %v", CheckLimits(m))
			}
			return
		}
		if p := commandProblem(cmd); p != "" {
			t.Fatalf("ParseCommand(%q) = %#v: %s", text, cmd, p)
		}
		s := cmd.String()
		back, err := ParseCommand(s)
		if err != nil || !reflect.DeepEqual(back, cmd) {
			t.Fatalf("ParseCommand(%q) = %#v, %v; want %#v", s, back, err, cmd)
		}
		qs := cmd.Queries()
		if (cmd.Verb == List) != (len(qs) > 0) {
			t.Fatalf("%d queries for %#v", len(qs), cmd)
		}
		for _, q := range qs {
			for _, s := range acronis.QueryValues(q)["state"] {
				if !tasks.State(s).Valid() {
					t.Fatalf("query state %q", s)
				}
			}
		}
		if cmd.Verb == List {
			if n := utf8.RuneCountInString(s); n > 1800 {
				t.Fatalf("String() of a listing has %d characters: %q", n, s)
			}
			if err := CheckLimits(RenderList(cmd, nil, false, renderNow)); err != nil {
				t.Fatalf("RenderList(%q): %v", s, err)
			}
		}
	})
}

// checkUsageSafe fails t unless e can be pasted into mrkdwn as it is: Word is escaped (Escape
// leaves its decoded text as it is) and at most maxUsageWord characters; Problem is one short
// line of valid UTF-8 with no < or >, & only in &amp; &lt; &gt;, no mrkdwn markers (* _ ~ `:
// taskbot's words use none, Escape replaces the user's), no control or invisible characters,
// and it quotes Word where there is one; Error() is Problem and the usage.
func checkUsageSafe(t *testing.T, e *UsageError) {
	t.Helper()
	if n := utf8.RuneCountInString(e.Word); n > maxUsageWord {
		t.Fatalf("Word %q has %d characters, limit %d", e.Word, n, maxUsageWord)
	}
	if Escape(unescapeSlack(e.Word)) != e.Word {
		t.Fatalf("Word %q is not escaped", e.Word)
	}
	p := e.Problem
	switch {
	case p == "" || utf8.RuneCountInString(p) > 400 || !utf8.ValidString(p):
		t.Fatalf("Problem %q is empty, longer than 400 characters or not UTF-8", p)
	case strings.ContainsAny(p, "<>*_~`"):
		t.Fatalf("Problem %q contains < > or a mrkdwn marker", p)
	case strings.ContainsFunc(p, func(r rune) bool { return dropInvisible(r) < 0 || r == '\n' }):
		t.Fatalf("Problem %q contains a line break, a control or an invisible character", p)
	case e.Word != "" && !strings.Contains(p, `"`+e.Word+`"`):
		t.Fatalf("Problem %q does not quote Word %q", p, e.Word)
	case e.Error() != p+"\n"+Usage():
		t.Fatalf("Error() = %q, want the problem and the usage", e.Error())
	}
	for i := strings.IndexByte(p, '&'); i >= 0; i = strings.IndexByte(p, '&') {
		p = p[i:]
		if !strings.HasPrefix(p, "&amp;") && !strings.HasPrefix(p, "&lt;") && !strings.HasPrefix(p, "&gt;") {
			t.Fatalf("Problem %q has an & that starts no entity", e.Problem)
		}
		p = p[1:]
	}
}

// FuzzRender: whatever the API sends as title, tenant and type (and how many tasks), every
// renderer's message passes CheckLimits and nothing from the input can mention or link (see
// checkSafe); and escapeCut, the bounded-time path, agrees with truncate(Escape(…)). Seeds are
// in testdata/fuzz/FuzzRender too.
func FuzzRender(f *testing.F) {
	f.Add("Backup plan 'R&D <nightly> & archive' on FS-02", "Customer B GmbH", "MachineBackup", uint16(2), false)
	f.Add("<!channel> <@U123> <https://evil|click>", "<!here>", "*bold* _it_", uint16(51), true)
	f.Add("", " ", "\n", uint16(0), false)
	f.Add(strings.Repeat("&", 400), strings.Repeat("<", 400), strings.Repeat("x", 400), uint16(500), true)
	base := fixtureTask(f, fxPaused)
	failedBase := fixtureTask(f, fxFailed)
	f.Fuzz(func(t *testing.T, title, tenant, typ string, n uint16, failed bool) {
		for _, max := range []int{1, 4, 5, 6, 40, 150} {
			if got, want := escapeCut(title, max), truncate(Escape(title), max); got != want {
				t.Fatalf("escapeCut(%q, %d) = %q, want %q", title, max, got, want)
			}
		}
		count := int(n % 600)
		task := withTitle(base, title, tenant, typ)
		task.StartedByUser, task.Queue, task.UUID = tenant, typ, title
		if failed {
			task = withTitle(failedBase, title, tenant, typ)
			task.Result = &tasks.Result{Code: tasks.ResultError, Error: &tasks.DomainError{
				Domain: typ, Code: title, Reason: tenant, Context: map[string]any{title: tenant, typ: title}}}
		}
		list := manyTasks(task, count)
		var items []SummaryItem
		for i := range list[:min(count, 7)] {
			items = append(items, SummaryItem{tasks.Event(typ), list[i]})
		}
		// Only the full list depends on count; the others render a few tasks, to keep the
		// fuzzer fast.
		checkSafe(t, RenderList(Command{}, list, count%2 == 1, renderNow))
		for _, m := range []Message{
			RenderList(Command{States: []tasks.State{tasks.Paused}, Failed: true}, list[:min(count, 2)], false, renderNow),
			RenderAnnouncement(tasks.EventFor(tasks.Started, &task, nil), tasks.Started, snap(task), renderNow),
			RenderAnnouncement(tasks.Event(title), tasks.State(typ), snap(task), renderNow),
			RenderStatus(snap(task), renderNow),
			RenderSummary(summaryOf(items), renderNow),
		} {
			checkSafe(t, m)
			_ = PlainText(m)
		}
	})
}
