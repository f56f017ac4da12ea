package bot

import (
	"encoding/base64"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
	"github.com/taskbot/taskbot/tasks/announce"
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

// FuzzRender: whatever the API sends as title, tenant and type (and how many tasks, blockers,
// subscriptions and mutes; whatever a page's offset and total and its buttons' values), every
// renderer's message passes CheckLimits and nothing from the input can mention or link (see
// checkSafe); a button is there exactly when its value is set and within MaxButtonValue; and
// escapeCut, the bounded-time path, agrees with truncate(Escape(…)). Seeds are in
// testdata/fuzz/FuzzRender too (the arguments stay as they are, so the seeds stay valid).
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
			RenderTask(showTask(task, count, n, title, tenant, typ), tasks.Failures{tasks.ResultCode(typ)}, renderNow),
			RenderTaskNotFound(title),
			RenderTaskNotAvailable(tenant),
			RenderSubscriptions("C1", fuzzSubscriptions(count, title, tenant, typ), []string{typ, title}),
			RenderMutes(fuzzMutes(count, n, title, tenant, typ), renderNow),
		} {
			checkSafe(t, m)
			_ = PlainText(m)
		}

		// Pages and buttons: odd offsets and totals; values from empty to over Slack's limit.
		// Values are signed tokens in real use, base64 here, so checkSafe can read the payload.
		value := func(k int) string {
			enc := base64.RawURLEncoding.EncodeToString([]byte(title))
			if enc == "" {
				return ""
			}
			return strings.Repeat(enc, 2600/len(enc)+1)[:(int(n)*k)%2600]
		}
		b := ListButtons{Refresh: value(131), Next: value(17), Share: value(7)}
		wantButtons := func(pairs ...string) []string {
			var out []string
			for i := 0; i < len(pairs); i += 2 {
				if v := pairs[i+1]; v != "" && utf8.RuneCountInString(v) <= MaxButtonValue {
					out = append(out, pairs[i]+"="+v)
				}
			}
			return out
		}
		want := wantButtons(RefreshActionID, b.Refresh, NextActionID, b.Next, ShareActionID, b.Share)
		for _, p := range []ListPage{
			{Tasks: list, Offset: int(n)*97 - 5000, Total: int(n) % 7, More: failed, Buttons: b},
			{Tasks: list[:min(count, 3)], Offset: math.MaxInt - int(n), Total: math.MinInt + int(n), Buttons: b},
			{Offset: int(n), Total: -int(n), More: !failed, Buttons: b},
		} {
			m := RenderListPage(Command{States: []tasks.State{tasks.Paused}, Failed: failed}, p, renderNow)
			checkSafe(t, m)
			if got := buttonsOf(m); !slices.Equal(got, want) {
				t.Fatalf("buttons = %.100q, want %.100q", got, want)
			}
			if len(m.Blocks) > MaxBlocks-2 {
				t.Fatalf("%d blocks: no room for a notice", len(m.Blocks))
			}
			_ = PlainText(m)
		}
		a := RenderAnnouncement(tasks.EventFor(tasks.Started, &task, nil), tasks.Started, snap(task), renderNow)
		m := WithAnnouncementButtons(a, b.Next, b.Refresh)
		checkSafe(t, m)
		if got, want := buttonsOf(m), wantButtons(DetailsActionID, b.Next, MuteActionID, b.Refresh); !slices.Equal(got, want) {
			t.Fatalf("announcement buttons = %.100q, want %.100q", got, want)
		}
	})
}

// showTask is t as `/tasks show` may find it: count blockers with possible solutions, and
// progress from n, with the fuzzer's texts everywhere.
func showTask(t tasks.Task, count int, n uint16, title, tenant, typ string) tasks.Task {
	t.Resource, t.Policy = &tasks.Reference{Name: tenant}, &tasks.Reference{Name: typ}
	t.IDString, t.Priority = typ, title
	t.CancelRequested = n%3 == 0
	sols := []tasks.Message{{Key: typ}, {Key: "k", Context: map[string]any{"message": title}}, {Key: tenant}}
	for i := range count {
		t.Blockers = append(t.Blockers, tasks.Blocker{Issue: tasks.Message{Key: typ, Context: map[string]any{"text": title}},
			PossibleSolutions: sols[:i%4]})
	}
	t.Progress = &tasks.Progress{Total: int64(n) - 100, Current: int64(n) * int64(count), BytesProcessed: int64(n) << 47,
		ProcessingSpeed: float64(n) * 1e5, LeftTime: typ}
	if t.Result != nil {
		t.Result.Warnings = []tasks.DomainError{{Domain: title, Code: typ, Reason: tenant}, {}}
	}
	return t
}

// fuzzSubscriptions are count subscriptions of the fuzzer's texts, in channel C1 and another.
func fuzzSubscriptions(count int, title, tenant, typ string) []announce.Subscription {
	subs := make([]announce.Subscription, count)
	for i := range subs {
		subs[i] = announce.Subscription{Channel: []string{"C1", "C2", "C1"}[i%3], Tenant: []string{"", tenant, title}[i%3],
			Events: []string{typ, title}[:i%3], By: title, At: renderNow.Add(-time.Duration(i) * time.Hour)}
	}
	return subs
}

// fuzzMutes are count mutes of the fuzzer's texts, some ended.
func fuzzMutes(count int, n uint16, title, tenant, typ string) []announce.Mute {
	mutes := make([]announce.Mute, count)
	kinds := []announce.MuteKind{announce.MuteTask, announce.MuteTenant, announce.MutePlan, announce.MuteKind(typ)}
	for i := range mutes {
		mutes[i] = announce.Mute{N: uint64(n) * uint64(i), Kind: kinds[i%4], Value: []string{title, tenant, typ}[i%3],
			Until: renderNow.Add(time.Duration(i-3) * time.Hour * time.Duration(n%50)), Reason: tenant, By: title}
	}
	return mutes
}
