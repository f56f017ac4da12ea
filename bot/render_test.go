package bot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks"
)

// renderNow is "now" in rendering tests: a few minutes after the fixtures' last update.
var renderNow = time.Date(2020, 4, 22, 12, 10, 0, 0, time.UTC)

// renderFixtures decodes a file of testdata/acronis, a GET /tasks answer.
func renderFixtures(t testing.TB, name string) []tasks.Task {
	t.Helper()
	data, err := os.ReadFile("../testdata/acronis/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Items []tasks.Task }
	if err := json.Unmarshal(data, &page); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return page.Items
}

// fixtureTask returns the fixture task whose uuid begins with prefix.
func fixtureTask(t testing.TB, prefix string) tasks.Task {
	t.Helper()
	for _, name := range []string{"tasks-in-progress.json", "tasks-completed-page2.json"} {
		for _, task := range renderFixtures(t, name) {
			if strings.HasPrefix(task.UUID, prefix) {
				return task
			}
		}
	}
	t.Fatalf("no fixture task %s…", prefix)
	return tasks.Task{}
}

// Fixture tasks by uuid prefix.
const (
	fxStarted = "38045860" // started, "Adding agent 'WS-0001' …", customer-a@example.com
	fxPaused  = "6f1c2a0e" // paused, "Backup plan 'R&D <nightly> & archive' on FS-02", Customer B GmbH
	fxFailed  = "0b7e3c4d-1111"
	fxOK      = "0b7e3c4d-2222"
)

// manyTasks returns n copies of base with distinct ids, updated a minute apart, newest first.
func manyTasks(base tasks.Task, n int) []tasks.Task {
	ts := make([]tasks.Task, n)
	for i := range ts {
		ts[i] = base
		ts[i].ID = base.ID + int64(i)
		ts[i].IDString = fmt.Sprint(ts[i].ID)
		ts[i].UUID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		ts[i].UpdatedAt = base.UpdatedAt.Add(-time.Duration(i) * time.Minute)
	}
	return ts
}

// withTitle returns t with context.title, tenant name and type replaced.
func withTitle(t tasks.Task, title, tenant, typ string) tasks.Task {
	t.Context = map[string]any{"title": title}
	t.Tenant = &tasks.Tenant{ID: "1496300", Name: tenant}
	t.Type = typ
	return t
}

// payload marshals m as Slack receives it, without Go's HTML escaping of < > &, so that a
// forged "<!channel>" would show as such.
func payload(t testing.TB, m Message) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// dateToken matches a date token taskbot writes itself (slackDate, slackAgo), at the start of
// the text.
var dateToken = regexp.MustCompile(`^<!date\^-?\d+\^(\{date_short_pretty\} \{time\}|\{ago\})\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>`)

// jsonHTMLEscapes undoes the escaping of < > & that json.Marshal applies inside the blocks
// slack-go marshals itself (context blocks, actions), so checkSafe sees what Slack reads.
var jsonHTMLEscapes = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")

// entity matches, at the start of the text, what a '&' in escaped text must begin.
var entity = regexp.MustCompile(`^&(amp|lt|gt);`)

// checkSafe fails unless m passes CheckLimits and nothing in it can mention or link: no
// "<!channel>", "<@", "<http" anywhere in the payload (also where json.Marshal wrote \u003c),
// no '<' but in taskbot's own date tokens, and every '&' starts one of Slack's three entities
// (truncation never split one).
func checkSafe(t testing.TB, m Message) {
	t.Helper()
	if err := CheckLimits(m); err != nil {
		t.Fatalf("CheckLimits: %v", err)
	}
	p := jsonHTMLEscapes.Replace(payload(t, m))
	for _, bad := range []string{"<!channel>", "<!here>", "<@", "<http", "<#"} {
		if strings.Contains(p, bad) {
			t.Fatalf("payload contains %q:\n%s", bad, p)
		}
	}
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '<':
			loc := dateToken.FindStringIndex(p[i:min(len(p), i+100)])
			if loc == nil {
				t.Fatalf("payload has a '<' that is not a date token: …%s…", p[max(0, i-40):min(len(p), i+40)])
			}
			i += loc[1] - 1
		case '&':
			if !entity.MatchString(p[i:min(len(p), i+5)]) {
				t.Fatalf("payload has a '&' that starts no entity (split, or text left unescaped): …%s…", p[max(0, i-40):min(len(p), i+40)])
			}
		}
	}
}

// sectionTexts returns the text of every section block of m.
func sectionTexts(m Message) []string {
	var out []string
	for _, b := range m.Blocks {
		if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil {
			out = append(out, s.Text.Text)
		}
	}
	return out
}

// contextText returns the text of m's last context block.
func contextText(t testing.TB, m Message) string {
	t.Helper()
	for i := len(m.Blocks) - 1; i >= 0; i-- {
		if c, ok := m.Blocks[i].(*slack.ContextBlock); ok {
			return c.ContextElements.Elements[0].(*slack.TextBlockObject).Text
		}
	}
	t.Fatal("no context block")
	return ""
}

func TestRenderListCounts(t *testing.T) {
	paused := fixtureTask(t, fxPaused)
	asOf := "as of " + slackDate(renderNow)
	for _, tc := range []struct {
		name       string
		n          int
		more       bool
		header     string
		sections   int
		footer     string
		text       string
		firstEntry string // first section's text; "" to skip
	}{
		{name: "none", n: 0, header: "Tasks paused — 0", sections: 1, footer: asOf, text: "Tasks paused: 0",
			firstEntry: "No paused tasks right now."},
		{name: "none, more pages", n: 0, more: true, header: "Tasks paused — 0+", sections: 1, footer: asOf, text: "Tasks paused: 0+",
			firstEntry: "No paused tasks on the first page; the API has more."},
		{name: "one", n: 1, header: "Tasks paused — 1", sections: 1, footer: asOf, text: "Tasks paused: 1",
			firstEntry: "*Backup plan 'R&amp;D &lt;nightly&gt; &amp; archive' on FS-02*\n" +
				":double_vertical_bar: paused · Customer B GmbH · MachineBackup\n" +
				"started " + slackDate(paused.StartedAt) + " · updated 2m ago"},
		{name: "as many as fit", n: MaxListedTasks, header: "Tasks paused — 45", sections: 45, footer: asOf, text: "Tasks paused: 45"},
		{name: "one too many", n: MaxListedTasks + 1, header: "Tasks paused — 46", sections: 45, footer: "tasks 1–45 of 46 · newest first · " + asOf, text: "Tasks paused: 46"},
		{name: "50", n: 50, header: "Tasks paused — 50", sections: 45, footer: "tasks 1–45 of 50 · newest first · " + asOf, text: "Tasks paused: 50"},
		{name: "51", n: 51, header: "Tasks paused — 51", sections: 45, footer: "tasks 1–45 of 51 · newest first · " + asOf, text: "Tasks paused: 51"},
		{name: "500", n: 500, header: "Tasks paused — 500", sections: 45, footer: "tasks 1–45 of 500 · newest first · " + asOf, text: "Tasks paused: 500"},
		{name: "500 and more pages", n: 500, more: true, header: "Tasks paused — 500+", sections: 45, footer: "tasks 1–45 of 500+ · newest first · " + asOf, text: "Tasks paused: 500+"},
		{name: "all shown, more pages", n: 3, more: true, header: "Tasks paused — 3+", sections: 3, footer: "tasks 1–3 of 3+ · newest first · " + asOf, text: "Tasks paused: 3+"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := Command{States: []tasks.State{tasks.Paused}}
			m := RenderList(cmd, manyTasks(paused, tc.n), tc.more, renderNow)
			checkSafe(t, m)
			if m.Text != tc.text {
				t.Errorf("Text = %q, want %q", m.Text, tc.text)
			}
			if got := len(m.Blocks); got != tc.sections+3 {
				t.Errorf("%d blocks, want header + %d sections + context + actions", got, tc.sections)
			}
			h, ok := m.Blocks[0].(*slack.HeaderBlock)
			if !ok || h.Text.Text != tc.header {
				t.Errorf("first block = %#v, want header %q", m.Blocks[0], tc.header)
			}
			secs := sectionTexts(m)
			if len(secs) != tc.sections {
				t.Errorf("%d sections, want %d", len(secs), tc.sections)
			}
			if tc.firstEntry != "" && secs[0] != tc.firstEntry {
				t.Errorf("first section =\n%s\nwant\n%s", secs[0], tc.firstEntry)
			}
			if got := contextText(t, m); got != tc.footer {
				t.Errorf("footer = %q, want %q", got, tc.footer)
			}
			a, ok := m.Blocks[len(m.Blocks)-1].(*slack.ActionBlock)
			if !ok || len(a.Elements.ElementSet) != 1 {
				t.Fatalf("last block = %#v, want actions with one button", m.Blocks[len(m.Blocks)-1])
			}
			b := a.Elements.ElementSet[0].(*slack.ButtonBlockElement)
			if b.ActionID != RefreshActionID || b.Value != "paused" || b.Text.Text != "Refresh" {
				t.Errorf("button = %q %q %q, want %q %q %q", b.ActionID, b.Value, b.Text.Text, RefreshActionID, "paused", "Refresh")
			}
		})
	}
}

func TestRenderListFixtures(t *testing.T) {
	all := MergeTasks(renderFixtures(t, "tasks-in-progress.json"), renderFixtures(t, "tasks-completed-page2.json"))
	failed := fixtureTask(t, fxFailed)
	for _, tc := range []struct {
		name    string
		cmd     Command
		text    string
		entries []string
	}{
		{
			name: "default", cmd: Command{}, text: "Tasks in progress (started, paused): 4",
			entries: []string{
				"*Backup plan 'R&amp;D &lt;nightly&gt; &amp; archive' on FS-02*\n" +
					":double_vertical_bar: paused · Customer B GmbH · MachineBackup\n" +
					"started <!date^1587556801^{date_short_pretty} {time}|2020-04-22 12:00 UTC> · updated 2m ago",
				"*Adding agent 'WS-0001' to the management server*\n" +
					":arrow_forward: started · customer-a@example.com · A59E8BF2-39C3-42C4-B667-CB672381A214\n" +
					"started <!date^1587555243^{date_short_pretty} {time}|2020-04-22 11:34 UTC> · running for 35m · updated 35m ago",
				"*Backup plan 'Daily' on SQL-01*\n" +
					":x: failed · Backup/VolumeNotFound · Customer B GmbH · MachineBackup\n" +
					"started " + slackDate(failed.StartedAt) + " · completed " + slackDate(failed.CompletedAt) + " · took 41m",
				"*Replicating archive to cloud storage*\n" +
					":white_check_mark: completed · customer-a@example.com · ArchiveReplication\n" +
					"started <!date^1587546005^{date_short_pretty} {time}|2020-04-22 09:00 UTC> · completed <!date^1587546720^{date_short_pretty} {time}|2020-04-22 09:12 UTC> · took 11m",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := RenderList(tc.cmd, all, false, renderNow)
			checkSafe(t, m)
			if m.Text != tc.text {
				t.Errorf("Text = %q, want %q", m.Text, tc.text)
			}
			got := sectionTexts(m)
			if len(got) != len(tc.entries) {
				t.Fatalf("%d sections, want %d", len(got), len(tc.entries))
			}
			for i := range got {
				if got[i] != tc.entries[i] {
					t.Errorf("section %d =\n%s\nwant\n%s", i, got[i], tc.entries[i])
				}
			}
		})
	}
}

func TestRenderListHeaderAndEmpty(t *testing.T) {
	for _, tc := range []struct {
		name, text, header, empty string
	}{
		{"default", "", "Tasks in progress (started, paused) — 0", "No tasks in progress right now."},
		{"paused", "paused", "Tasks paused — 0", "No paused tasks right now."},
		{"paused or failed", "paused failed", "Tasks paused or failed — 0", "No paused or failed tasks right now."},
		{"every state and failed", "enqueued assigned started paused failed", "Tasks enqueued, assigned, started, paused or failed — 0", "No enqueued, assigned, started, paused or failed tasks right now."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := ParseCommand(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			m := RenderList(cmd, nil, false, renderNow)
			checkSafe(t, m)
			if h := m.Blocks[0].(*slack.HeaderBlock).Text.Text; h != tc.header {
				t.Errorf("header = %q, want %q", h, tc.header)
			}
			if s := sectionTexts(m); len(s) != 1 || s[0] != tc.empty {
				t.Errorf("sections = %q, want [%q]", s, tc.empty)
			}
			b := m.Blocks[len(m.Blocks)-1].(*slack.ActionBlock).Elements.ElementSet[0].(*slack.ButtonBlockElement)
			if b.Value != cmd.String() {
				t.Errorf("Refresh value = %q, want %q", b.Value, cmd.String())
			}
		})
	}
}

func TestRenderListHelp(t *testing.T) {
	m := RenderList(Command{Help: true}, nil, false, renderNow)
	checkSafe(t, m)
	if s := sectionTexts(m); len(s) != 1 || s[0] != Usage() {
		t.Errorf("sections = %q, want the usage", s)
	}
}

// hostileTitles are titles, tenants and types from the API that must not break a message.
var hostileTitles = []struct {
	name, title, want string // want: the title as the list shows it, inside * *
}{
	{"ampersand", "R&D", "R&amp;D"},
	{"angle brackets", "a <b> c", "a &lt;b&gt; c"},
	{"channel mention", "<!channel> wake up", "&lt;!channel&gt; wake up"},
	{"here mention", "<!here|here>", "&lt;!here|here&gt;"},
	{"user mention", "ping <@U123>", "ping &lt;@U123&gt;"},
	{"forged link", "<https://evil|click>", "&lt;https://evil|click&gt;"},
	{"already escaped", "&lt;!channel&gt;", "&amp;lt;!channel&amp;gt;"},
	{"mrkdwn markers", "*a* _b_ ~c~ `d`", "\u2217a\u2217 \u02cdb\u02cd \u223cc\u223c \u02cbd\u02cb"},
	{"newlines and tabs", "line one\n\tline two\r\n", "line one line two"},
	{"terminal escape", "\x1b[31mred\x1b[0m", "[31mred[0m"},
	{"empty falls back to type", "", "MachineBackup"},
	{"blank falls back to type", " \n\t ", "MachineBackup"},
	{"zero-width falls back to type", "\u200b\u200b", "MachineBackup"},
	{"3,500 characters", strings.Repeat("x", 3500), strings.Repeat("x", 149) + "…"},
	{"3,500 ampersands", strings.Repeat("&", 3500), strings.Repeat("&amp;", 29) + "…"},
	{"3,500 mentions", strings.Repeat("<!channel>", 350), strings.Repeat("&lt;!channel&gt;", 9) + "&lt;!…"},
}

func TestRenderHostileText(t *testing.T) {
	base := fixtureTask(t, fxPaused)
	failedBase := fixtureTask(t, fxFailed)
	for _, tc := range hostileTitles {
		t.Run(tc.name, func(t *testing.T) {
			task := withTitle(base, tc.title, tc.title+" tenant", "MachineBackup")
			m := RenderList(Command{}, []tasks.Task{task}, false, renderNow)
			checkSafe(t, m)
			if first, _, _ := strings.Cut(sectionTexts(m)[0], "\n"); first != "*"+tc.want+"*" {
				t.Errorf("title line = %q, want %q", first, "*"+tc.want+"*")
			}

			// The same text in the tenant, type, user, queue, error and error context.
			evil := withTitle(base, tc.title, tc.title, tc.title)
			evil.StartedByUser, evil.Queue, evil.Priority = tc.title, tc.title, tc.title
			f := withTitle(failedBase, tc.title, strings.Repeat(tc.title, 3), tc.title)
			f.Result = &tasks.Result{Code: tasks.ResultError, Error: &tasks.DomainError{
				Domain: tc.title, Code: tc.title, Reason: tc.title,
				Context: map[string]any{tc.title: tc.title, "volume": "D:"},
			}}
			for _, m := range []Message{
				RenderList(Command{}, manyTasks(evil, 60), true, renderNow),
				RenderList(Command{Failed: true}, manyTasks(f, 60), true, renderNow),
				RenderAnnouncement(tasks.EventPaused, tasks.Started, snap(evil), renderNow),
				RenderAnnouncement(tasks.EventFailed, tasks.Started, snap(f), renderNow),
				RenderStatus(snap(evil), renderNow),
				RenderStatus(snap(f), renderNow),
				RenderSummary(summaryOf([]SummaryItem{{tasks.EventPaused, evil}, {tasks.EventFailed, f}}), renderNow),
			} {
				checkSafe(t, m)
				if n := len([]rune(m.Text)); n > FallbackTextTarget {
					t.Errorf("Text is %d characters, want at most %d", n, FallbackTextTarget)
				}
			}
		})
	}
}

func TestRenderUntitledTask(t *testing.T) {
	task := tasks.Task{UUID: " ", State: tasks.Started, Context: map[string]any{"title": "  "}}
	m := RenderList(Command{}, []tasks.Task{task}, false, renderNow)
	checkSafe(t, m)
	if first, _, _ := strings.Cut(sectionTexts(m)[0], "\n"); first != "*(untitled task)*" {
		t.Errorf("title line = %q, want *(untitled task)*", first)
	}
	a := RenderAnnouncement(tasks.EventStarted, "", snap(task), renderNow)
	checkSafe(t, a)
	if a.Text != "Task started: (untitled task)" {
		t.Errorf("Text = %q", a.Text)
	}
}

func TestRenderAnnouncement(t *testing.T) {
	paused := fixtureTask(t, fxPaused)
	started := fixtureTask(t, fxStarted)
	failed := fixtureTask(t, fxFailed)
	ok := fixtureTask(t, fxOK)
	enqueued := started
	enqueued.State, enqueued.StartedAt = tasks.Enqueued, time.Time{}
	assigned := started
	assigned.State = tasks.Assigned
	resumed := paused
	resumed.State = tasks.Started

	const agent = "Adding agent 'WS-0001' to the management server"
	const backup = "Backup plan 'R&amp;D &lt;nightly&gt; &amp; archive' on FS-02"
	for _, tc := range []struct {
		name    string
		ev      tasks.Event
		from    tasks.State
		task    tasks.Task
		text    string
		head    string
		state   string // the State field
		details string // the error section, "" for none
	}{
		{"enqueued", tasks.EventEnqueued, "", enqueued, "Task enqueued: " + agent + " (customer-a@example.com)",
			":hourglass_flowing_sand: *Enqueued* · *" + agent + "*", "*State*\nenqueued (first seen)", ""},
		{"assigned", tasks.EventAssigned, tasks.Enqueued, assigned, "Task assigned: " + agent + " (customer-a@example.com)",
			":inbox_tray: *Assigned* · *" + agent + "*", "*State*\nenqueued → assigned", ""},
		{"started", tasks.EventStarted, tasks.Assigned, started, "Task started: " + agent + " (customer-a@example.com)",
			":arrow_forward: *Started* · *" + agent + "*", "*State*\nassigned → started", ""},
		{"paused", tasks.EventPaused, tasks.Started, paused, "Task paused: " + backup + " (Customer B GmbH)",
			":double_vertical_bar: *Paused* · *" + backup + "*", "*State*\nstarted → paused", ""},
		{"resumed", tasks.EventResumed, tasks.Paused, resumed, "Task resumed: " + backup + " (Customer B GmbH)",
			":repeat: *Resumed* · *" + backup + "*", "*State*\npaused → started", ""},
		{"completed", tasks.EventCompleted, tasks.Started, ok, "Task completed: Replicating archive to cloud storage (customer-a@example.com)",
			":white_check_mark: *Completed* · *Replicating archive to cloud storage*", "*State*\nstarted → completed (ok)", ""},
		{"failed", tasks.EventFailed, tasks.Started, failed, "Task failed: Backup plan 'Daily' on SQL-01 (Customer B GmbH)",
			":x: *Failed* · *Backup plan 'Daily' on SQL-01*", "*State*\nstarted → completed (error)", "*Error:* Backup/VolumeNotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ev := tasks.EventFor(tc.from, &tc.task, nil); ev != tc.ev {
				t.Fatalf("test case: EventFor = %s, want %s", ev, tc.ev)
			}
			m := RenderAnnouncement(tc.ev, tc.from, snap(tc.task), renderNow)
			checkSafe(t, m)
			if m.Text != tc.text {
				t.Errorf("Text = %q, want %q", m.Text, tc.text)
			}
			s := m.Blocks[0].(*slack.SectionBlock)
			if s.Text.Text != tc.head {
				t.Errorf("head = %q, want %q", s.Text.Text, tc.head)
			}
			var fields []string
			for _, f := range s.Fields {
				fields = append(fields, f.Text)
			}
			if !containsString(fields, tc.state) {
				t.Errorf("fields %q lack %q", fields, tc.state)
			}
			if !containsString(fields, "*Tenant*\n"+snap(tc.task).Tenant()) {
				t.Errorf("fields %q lack the tenant", fields)
			}
			secs := sectionTexts(m)
			switch {
			case tc.details == "" && len(secs) != 1:
				t.Errorf("sections = %q, want only the head", secs)
			case tc.details != "" && (len(secs) != 2 || secs[1] != tc.details):
				t.Errorf("sections = %q, want the head and %q", secs, tc.details)
			}
			// "updated" is a Slack date token that keeps saying how long ago.
			wantCtx := "Task " + tc.task.IDString + " · updated " + slackAgo(tc.task.UpdatedAt)
			if got := contextText(t, m); got != wantCtx {
				t.Errorf("context = %q, want %q", got, wantCtx)
			}
		})
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestRenderAnnouncementErrorCauseAndEffect(t *testing.T) {
	task := fixtureTask(t, fxFailed)
	task.Result = &tasks.Result{Code: tasks.ResultError, Error: &tasks.DomainError{
		Domain: "Backup", Code: "VolumeNotFound", Reason: "The volume\nis gone",
		Context: map[string]any{"cause_str": "Disk 2 is <offline>", "effect_str": "The backup did not run",
			"$module": "disk_bundle_vs_14", "_src": map[string]any{"file": "volume.cpp", "line": 412}}}}
	m := RenderAnnouncement(tasks.EventFailed, tasks.Started, snap(task), renderNow)
	checkSafe(t, m)
	want := "*Error:* Backup/VolumeNotFound\nThe volume is gone\n*Cause:* Disk 2 is &lt;offline&gt;\n*Effect:* The backup did not run"
	if s := sectionTexts(m); len(s) != 2 || s[1] != want {
		t.Errorf("error section = %q, want %q", s, want)
	}
	if strings.Contains(fmt.Sprint(sectionTexts(m)), "module") || strings.Contains(fmt.Sprint(sectionTexts(m)), "volume.cpp") {
		t.Errorf("raw context shown: %q", sectionTexts(m))
	}

	task.Result = &tasks.Result{Code: tasks.ResultError}
	m = RenderAnnouncement(tasks.EventFailed, tasks.Started, snap(task), renderNow)
	checkSafe(t, m)
	if s := sectionTexts(m); len(s) != 2 || s[1] != "*Error:* no details given" {
		t.Errorf("error section without error = %q", s)
	}

	// A timed-out task is a failure too (tasks.DefaultFailures), and says which.
	task.Result = &tasks.Result{Code: tasks.ResultTimedOut}
	m = RenderStatus(snap(task), renderNow)
	if !strings.Contains(m.Text, "Failed (timedout)") {
		t.Errorf("status of a timed-out task: %q", m.Text)
	}
}

func TestRenderAnnouncementShowsWhatOnCallNeeds(t *testing.T) {
	task := fixtureTask(t, fxPaused)
	task.Resource = &tasks.Reference{Name: "FS-02"}
	task.Policy = &tasks.Reference{Name: "Nightly <files>"}
	task.Blockers = []tasks.Blocker{{ID: 1, Issue: tasks.Message{Key: "ask_insert_tape", Context: map[string]any{"message": "Insert tape 7 into drive 1"}},
		PossibleSolutions: []tasks.Message{{Key: "retry"}, {Key: "cancel_backup"}}}}
	m := RenderAnnouncement(tasks.EventPaused, tasks.Started, snap(task), renderNow)
	checkSafe(t, m)
	var fields []string
	for _, f := range m.Blocks[0].(*slack.SectionBlock).Fields {
		fields = append(fields, f.Text)
	}
	for _, want := range []string{"*Tenant*\nCustomer B GmbH", "*Machine*\nFS-02", "*Plan*\nNightly &lt;files&gt;", "*State*\nstarted → paused"} {
		if !containsString(fields, want) {
			t.Errorf("fields %q lack %q", fields, want)
		}
	}
	want := "*Waiting for:*\n• Insert tape 7 into drive 1\n   possible solutions: retry · cancel backup"
	if s := sectionTexts(m); len(s) != 2 || s[1] != want {
		t.Errorf("sections = %q, want the head and %q", s, want)
	}
}

func TestRenderStatus(t *testing.T) {
	for _, tc := range []struct {
		name, uuid, text, section, context string
	}{
		{"paused", fxPaused, "Paused: Backup plan 'R&amp;D &lt;nightly&gt; &amp; archive' on FS-02 (Customer B GmbH)",
			":double_vertical_bar: *Backup plan 'R&amp;D &lt;nightly&gt; &amp; archive' on FS-02*\n" +
				"*Paused* since <!date^1587557263^{date_short_pretty} {time}|2020-04-22 12:07 UTC>\n" +
				"Customer B GmbH · MachineBackup",
			"Task 944455285181775999"},
		{"failed", fxFailed, "Failed: Backup plan 'Daily' on SQL-01 (Customer B GmbH)",
			":x: *Backup plan 'Daily' on SQL-01*\n" +
				"*Failed* (Backup/VolumeNotFound) <!date^1587552077^{date_short_pretty} {time}|2020-04-22 10:41 UTC>\n" +
				"Customer B GmbH · MachineBackup",
			"Task 944455285181770001"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := RenderStatus(snap(fixtureTask(t, tc.uuid)), renderNow)
			checkSafe(t, m)
			if m.Text != tc.text {
				t.Errorf("Text = %q, want %q", m.Text, tc.text)
			}
			if s := sectionTexts(m); len(s) != 1 || s[0] != tc.section {
				t.Errorf("sections = %q, want [%q]", s, tc.section)
			}
			if got := contextText(t, m); got != tc.context {
				t.Errorf("context = %q, want %q", got, tc.context)
			}
		})
	}
}

func TestRenderSummary(t *testing.T) {
	paused := fixtureTask(t, fxPaused)
	started := fixtureTask(t, fxStarted)
	failed := fixtureTask(t, fxFailed)
	items := func(n int) []SummaryItem {
		var out []SummaryItem
		for i := range n {
			switch i % 3 {
			case 0:
				out = append(out, SummaryItem{tasks.EventStarted, started})
			case 1:
				out = append(out, SummaryItem{tasks.EventPaused, paused})
			default:
				out = append(out, SummaryItem{tasks.EventFailed, failed})
			}
		}
		return out
	}
	asOf := "as of " + slackDate(renderNow)
	for _, tc := range []struct {
		name   string
		items  []SummaryItem
		text   string
		lines  int // bullet lines
		footer string
	}{
		{"none", nil, "No task updates.", 0, ""},
		{"one", items(1), "Task updates: 1 started", 1, asOf},
		{"three", items(3), "Task updates: 1 failed, 1 paused, 1 started", 3, asOf},
		{"hundred", items(100), "Task updates: 33 failed, 33 paused, 34 started", 5, "and 95 more · " + asOf},
		{"unknown event", []SummaryItem{{"<!channel>", started}}, "Task updates: 1 &lt;!channel&gt;", 1, asOf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := RenderSummary(summaryOf(tc.items), renderNow)
			checkSafe(t, m)
			if m.Text != tc.text {
				t.Errorf("Text = %q, want %q", m.Text, tc.text)
			}
			secs := sectionTexts(m)
			if len(secs) != 1 {
				t.Fatalf("sections = %q, want one", secs)
			}
			if got := strings.Count(secs[0], "\n• "); got != tc.lines {
				t.Errorf("%d titles, want %d:\n%s", got, tc.lines, secs[0])
			}
			if tc.footer != "" {
				if got := contextText(t, m); got != tc.footer {
					t.Errorf("footer = %q, want %q", got, tc.footer)
				}
			}
		})
	}
	m := RenderSummary(summaryOf(items(3)), renderNow)
	want := "*Task updates:* 1 failed, 1 paused, 1 started\n" +
		"• :arrow_forward: started · *Adding agent 'WS-0001' to the management server* (customer-a@example.com)\n" +
		"• :double_vertical_bar: paused · *Backup plan 'R&amp;D &lt;nightly&gt; &amp; archive' on FS-02* (Customer B GmbH)\n" +
		"• :x: failed · *Backup plan 'Daily' on SQL-01* (Customer B GmbH)"
	if got := sectionTexts(m)[0]; got != want {
		t.Errorf("summary =\n%s\nwant\n%s", got, want)
	}
}

func TestRenderUsage(t *testing.T) {
	_, perr := ParseCommand("<!channel>")
	for _, tc := range []struct {
		name      string
		err       error
		text      string
		firstLine string
	}{
		{"help", nil, "*Usage*", "*Usage*"},
		{"usage error", perr, `I don't understand "&lt;!channel&gt;".`, `I don't understand "&lt;!channel&gt;".`},
		{"other error", fmt.Errorf("bad <@U1>"), "bad &lt;@U1&gt;", "bad &lt;@U1&gt;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := RenderUsage(tc.err)
			checkSafe(t, m)
			if m.Text != tc.text {
				t.Errorf("Text = %q, want %q", m.Text, tc.text)
			}
			if s := sectionTexts(m); !strings.HasPrefix(s[0], tc.firstLine+"\n") || !strings.HasSuffix(s[0], Usage()) {
				t.Errorf("section = %q", s[0])
			}
		})
	}
}

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "Backup plan 'Daily'", "Backup plan 'Daily'"},
		{"empty", "", ""},
		{"ampersand", "R&D", "R&amp;D"},
		{"already an entity", "&amp;", "&amp;amp;"},
		{"mention", "<!channel>", "&lt;!channel&gt;"},
		{"user", "<@U123>", "&lt;@U123&gt;"},
		{"link", "<https://evil|click>", "&lt;https://evil|click&gt;"},
		{"bold", "*x*", "\u2217x\u2217"},
		{"italic", "_x_", "\u02cdx\u02cd"},
		{"strike", "~x~", "\u223cx\u223c"},
		{"code", "`x`", "\u02cbx\u02cb"},
		{"newlines collapse", "a\nb\r\n\r\nc", "a b c"},
		{"white space runs collapse and trim", "  a \t\u00a0 b\u3000 ", "a b"},
		{"control characters dropped", "a\x00b\x07c\x1b[0m\u0085d", "abc[0m d"},
		{"bidi override dropped", "evil\u202etxt.exe", "eviltxt.exe"},
		{"zero-width space dropped", "a\u200bb", "ab"},
		{"emoji joiner kept", "👨\u200d👩", "👨\u200d👩"},
		{"invalid UTF-8 replaced", "a\xffb", "a\ufffdb"},
		{"non-Latin kept", "Резервная копия «Ночь»", "Резервная копия «Ночь»"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Escape(tc.in); got != tc.want {
				t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"short", "hello", 10, "hello"},
		{"exact", "hello", 5, "hello"},
		{"cut", "hello world", 6, "hello…"},
		{"space before the ellipsis dropped", "hello world", 7, "hello…"},
		{"runes not bytes", "héllo wörld", 9, "héllo wö…"},
		{"emoji", "😀😀😀", 2, "😀…"},
		{"entity kept whole", "ab&amp;cd", 8, "ab&amp;…"},
		{"entity not split", "ab&amp;cd", 6, "ab…"},
		{"lt not split", "&lt;&lt;&lt;", 6, "&lt;…"},
		{"gt at the edge", "x&gt;y", 5, "x…"},
		{"plain ampersand kept", "a & b c", 4, "a &…"},
		{"one", "hello", 1, "…"},
		{"zero", "hello", 0, ""},
		{"negative", "hello", -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := truncate(tc.in, tc.max)
			if got != tc.want {
				t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
			if n := len([]rune(got)); n > max(tc.max, 0) {
				t.Errorf("result has %d characters, limit %d", n, tc.max)
			}
		})
	}
}

func TestEscapeCut(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"short", "R&D", 10, "R&amp;D"},
		{"entity at the edge dropped", "ab&cd", 6, "ab…"},
		{"entity at the edge kept", "ab&cd", 8, "ab&amp;…"},
		{"white space collapses before cutting", "a \n\n\n\n\n b", 3, "a b"},
		{"control characters do not count", "\x00\x00\x00\x00\x00\x00abc", 3, "abc"},
		{"long input", strings.Repeat("<", 100_000), 6, "&lt;…"},
		{"zero", "abc", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := escapeCut(tc.in, tc.max); got != tc.want {
				t.Errorf("escapeCut(%.20q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
			if got, want := escapeCut(tc.in, tc.max), truncate(Escape(tc.in), tc.max); got != want {
				t.Errorf("escapeCut = %q, truncate(Escape(…)) = %q", got, want)
			}
		})
	}
}

func TestEscapePlainCut(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"markers kept", "*a* _b_ ~c~ `d`", 50, "*a* _b_ ~c~ `d`"},
		{"entities escaped", "R&D <!channel>", 50, "R&amp;D &lt;!channel&gt;"},
		{"white space and invisible characters", " a\n\tb\u200b\u202ec\x00 ", 50, "a bc"},
		{"entity not split", "ab&cd", 6, "ab…"},
		{"long input", strings.Repeat("<", 100_000), 150, strings.Repeat("&lt;", 37) + "…"},
		{"zero", "abc", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := escapePlainCut(tc.in, tc.max); got != tc.want {
				t.Errorf("escapePlainCut(%.20q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Minute, "0s"},
		{0, "0s"},
		{45 * time.Second, "45s"},
		{3*time.Minute + 59*time.Second, "3m"},
		{2 * time.Hour, "2h"},
		{2*time.Hour + 5*time.Minute, "2h 5m"},
		{24 * time.Hour, "1d"},
		{3*24*time.Hour + 4*time.Hour + 5*time.Minute, "3d 4h"},
	} {
		if got := humanDuration(tc.d); got != tc.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestSlackDate(t *testing.T) {
	got := slackDate(time.Date(2020, 4, 22, 13, 34, 3, 0, time.FixedZone("CEST", 2*3600)))
	want := "<!date^1587555243^{date_short_pretty} {time}|2020-04-22 11:34 UTC>"
	if got != want {
		t.Errorf("slackDate = %q, want %q", got, want)
	}
}

// TestRenderListSize keeps a full list well inside what Slack and Socket Mode accept.
func TestRenderListSize(t *testing.T) {
	long := withTitle(fixtureTask(t, fxPaused), strings.Repeat("<&>", 1200), strings.Repeat("&", 3500), strings.Repeat("x", 3500))
	for _, tc := range []struct {
		name string
		task tasks.Task
		max  int // bytes of JSON
	}{
		{"fixture", fixtureTask(t, fxPaused), 16_000},
		{"failed fixture", fixtureTask(t, fxFailed), 18_000},
		{"longest ASCII names", long, 30_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := RenderList(Command{}, manyTasks(tc.task, 500), true, renderNow)
			checkSafe(t, m)
			if n := len(payload(t, m)); n > tc.max {
				t.Errorf("payload is %d bytes, want at most %d", n, tc.max)
			}
		})
	}
}

func BenchmarkRenderList500(b *testing.B) {
	ts := manyTasks(fixtureTask(b, fxPaused), 500)
	cmd := Command{States: []tasks.State{tasks.Paused}}
	b.ReportAllocs()
	for b.Loop() {
		RenderList(cmd, ts, true, renderNow)
	}
}
