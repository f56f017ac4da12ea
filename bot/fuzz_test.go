package bot

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
)

// FuzzParseCommand: any text gives either a *UsageError whose message cannot mention or link,
// or a valid command that String() and ParseCommand turn back into itself. Seeds are in
// testdata/fuzz/FuzzParseCommand too.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"", "paused started", "Paused,  STARTED", "failed", "paused failed",
		"help", "&lt;!channel&gt;", "<@U123>", "paused\u00a0started\u3000failed", "completed failed", "x\x00y"} {
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
				t.Fatalf("command %+v returned with an error", cmd)
			}
			if n := utf8.RuneCountInString(ue.Word); n > maxUsageWord {
				t.Fatalf("Word %q has %d characters, limit %d", ue.Word, n, maxUsageWord)
			}
			if msg := err.Error(); strings.ContainsAny(msg, "<>") {
				t.Fatalf("usage message %q contains < or >", msg)
			}
			if m := RenderUsage(err); CheckLimits(m) != nil {
				t.Fatalf("usage reply: %v", CheckLimits(m))
			}
			return
		}
		if cmd.Help && (cmd.States != nil || cmd.Failed) {
			t.Fatalf("help command with states: %+v", cmd)
		}
		if cmd.Failed && slices.Contains(cmd.States, tasks.Completed) {
			t.Fatalf("failed together with completed: %+v", cmd)
		}
		last := -1
		for _, s := range cmd.States {
			i := slices.Index(tasks.States, s)
			if i <= last {
				t.Fatalf("states %v not valid, unique and in lifecycle order", cmd.States)
			}
			last = i
		}
		back, err := ParseCommand(cmd.String())
		if err != nil || !reflect.DeepEqual(back, cmd) {
			t.Fatalf("ParseCommand(%q) = %+v, %v; want %+v", cmd.String(), back, err, cmd)
		}
		qs := cmd.Queries()
		if cmd.Help != (len(qs) == 0) {
			t.Fatalf("%d queries for %+v", len(qs), cmd)
		}
		for _, q := range qs {
			for _, s := range acronis.QueryValues(q)["state"] {
				if !tasks.State(s).Valid() {
					t.Fatalf("query state %q", s)
				}
			}
		}
	})
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
