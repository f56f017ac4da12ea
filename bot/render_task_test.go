package bot

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks"
)

// headerText is the text of m's first block, which must be a header.
func headerText(t testing.TB, m Message) string {
	t.Helper()
	h, ok := m.Blocks[0].(*slack.HeaderBlock)
	if !ok {
		t.Fatalf("first block %T, want a header", m.Blocks[0])
	}
	return h.Text.Text
}

// allFields returns the text of every field of every section of m, in order.
func allFields(m Message) []string {
	var out []string
	for _, b := range m.Blocks {
		if s, ok := b.(*slack.SectionBlock); ok {
			for _, f := range s.Fields {
				out = append(out, f.Text)
			}
		}
	}
	return out
}

// showable returns the fixture task with a machine, a plan, blockers and progress, as a
// paused backup has them.
func showable(t testing.TB) tasks.Task {
	task := fixtureTask(t, fxPaused)
	task.Resource = &tasks.Reference{ID: "r1", Name: "FS-02"}
	task.Policy = &tasks.Reference{ID: "p1", Name: "Nightly <files>"}
	task.Blockers = []tasks.Blocker{{ID: 1,
		Issue:             tasks.Message{Key: "ask_insert_tape", Context: map[string]any{"message": "Insert tape 7 into drive 1"}},
		PossibleSolutions: []tasks.Message{{Key: "retry"}, {Key: "cancel_backup"}}}}
	task.Progress = &tasks.Progress{Total: 1000, Current: 420, BytesProcessed: 1_500_000_000, ProcessingSpeed: 35_400_000, LeftTime: "1h25m43s"}
	return task
}

func TestRenderTask(t *testing.T) {
	failed := fixtureTask(t, fxFailed)
	failed.Result.Error = &tasks.DomainError{Domain: "Backup", Code: "VolumeNotFound", Reason: "The volume\nis gone",
		Context: map[string]any{"cause_str": "Disk 2 is <offline>", "effect_str": "The backup did not run",
			"$module": "disk_bundle_vs_14", "_src": map[string]any{"file": "volume.cpp", "line": 412}}}
	ok := fixtureTask(t, fxOK)
	warning := ok
	warning.Result = &tasks.Result{Code: tasks.ResultWarning, Warnings: []tasks.DomainError{
		{Domain: "Replication", Code: "SlowTarget", Reason: "The target answered slowly"}}}
	started := fixtureTask(t, fxStarted)
	enqueued := started
	enqueued.State, enqueued.StartedAt, enqueued.EnqueuedAt = tasks.Enqueued, time.Time{}, renderNow.Add(-7*time.Minute)
	cancelling := started
	cancelling.CancelRequested = true

	date := func(at time.Time) string { return slackDate(at) }
	for _, tc := range []struct {
		name     string
		task     tasks.Task
		failures tasks.Failures
		text     string
		header   string
		sections []string // section texts after the state line, in order
		fields   []string // fields that must be there
		context  string
	}{
		{name: "failed, with cause and effect", task: failed,
			text:   "Failed: Backup plan 'Daily' on SQL-01 (Customer B GmbH)",
			header: "Backup plan 'Daily' on SQL-01",
			sections: []string{
				":x: *Failed* — completed with result code error",
				"*Error:* Backup/VolumeNotFound\nThe volume is gone\n*Cause:* Disk 2 is &lt;offline&gt;\n*Effect:* The backup did not run",
			},
			fields: []string{"*Tenant*\nCustomer B GmbH (1496300)", "*Type*\nMachineBackup", "*Started by*\nscheduler",
				"*Queue*\nbackup", "*Priority*\nnormal",
				"*Enqueued*\n" + date(failed.EnqueuedAt), "*Started*\n" + date(failed.StartedAt),
				"*Completed*\n" + date(failed.CompletedAt),
				"*Updated*\n" + date(failed.UpdatedAt) + " (" + slackAgo(failed.UpdatedAt) + ")",
				"*Took*\n41m"},
			context: "Task id 944455285181770001 · uuid 0b7e3c4d-1111-4a2b-8c3d-9e8f7a6b5c4d · as of " + date(renderNow)},
		{name: "paused, with blockers and progress", task: showable(t),
			text:   "Paused: Backup plan 'R&amp;D &lt;nightly&gt; &amp; archive' on FS-02 (Customer B GmbH)",
			header: "Backup plan 'R&amp;D &lt;nightly&gt; &amp; archive' on FS-02",
			sections: []string{
				":double_vertical_bar: *Paused*",
				"*Waiting for:*\n• Insert tape 7 into drive 1\n   possible solutions: retry · cancel backup",
				"*Progress:* 42% (420 of 1000) · 1.5 GB processed · 35.4 MB/s · 1h25m43s left",
			},
			fields:  []string{"*Machine*\nFS-02", "*Plan*\nNightly &lt;files&gt;", "*Running for*\n9m"},
			context: "Task id 944455285181775999 · uuid 6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69 · as of " + date(renderNow)},
		{name: "completed", task: ok,
			text: "Completed: Replicating archive to cloud storage (customer-a@example.com)", header: "Replicating archive to cloud storage",
			sections: []string{":white_check_mark: *Completed* — result code ok"},
			fields:   []string{"*Tenant*\ncustomer-a@example.com (1496265)", "*Took*\n11m"}},
		{name: "completed with a warning", task: warning,
			text: "Completed (warning): Replicating archive to cloud storage (customer-a@example.com)", header: "Replicating archive to cloud storage",
			sections: []string{":warning: *Completed* — result code warning",
				"*Warnings:*\n• Replication/SlowTarget: The target answered slowly"}},
		{name: "a warning that the failures count", task: warning, failures: tasks.Failures{tasks.ResultWarning},
			text: "Failed (warning): Replicating archive to cloud storage (customer-a@example.com)", header: "Replicating archive to cloud storage",
			sections: []string{":x: *Failed* — completed with result code warning",
				"*Result:* warning (the task carries no error details)",
				"*Warnings:*\n• Replication/SlowTarget: The target answered slowly"}},
		{name: "started", task: started,
			text: "Started: Adding agent 'WS-0001' to the management server (customer-a@example.com)", header: "Adding agent 'WS-0001' to the management server",
			sections: []string{":arrow_forward: *Started*"},
			fields:   []string{"*Started by*\nWS-0001\\Backup Operator", "*Running for*\n35m"}},
		{name: "cancel requested", task: cancelling, header: "Adding agent 'WS-0001' to the management server",
			text:     "Started: Adding agent 'WS-0001' to the management server (customer-a@example.com)",
			sections: []string{":arrow_forward: *Started* · cancel requested"}},
		{name: "enqueued", task: enqueued, header: "Adding agent 'WS-0001' to the management server",
			text:     "Enqueued: Adding agent 'WS-0001' to the management server (customer-a@example.com)",
			sections: []string{":hourglass_flowing_sand: *Enqueued*"},
			fields:   []string{"*Waiting for*\n7m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := RenderTask(tc.task, tc.failures, renderNow)
			checkSafe(t, m)
			if m.Text != tc.text {
				t.Errorf("Text = %q, want %q", m.Text, tc.text)
			}
			if h := headerText(t, m); h != tc.header {
				t.Errorf("header = %q, want %q", h, tc.header)
			}
			if got := sectionTexts(m); strings.Join(got, "\n---\n") != strings.Join(tc.sections, "\n---\n") {
				t.Errorf("sections =\n%s\nwant\n%s", strings.Join(got, "\n---\n"), strings.Join(tc.sections, "\n---\n"))
			}
			fields := allFields(m)
			for _, want := range tc.fields {
				if !containsString(fields, want) {
					t.Errorf("fields %q lack %q", fields, want)
				}
			}
			if tc.context != "" {
				if got := contextText(t, m); got != tc.context {
					t.Errorf("context = %q, want %q", got, tc.context)
				}
			}
			if p := payload(t, m); strings.Contains(p, "module") || strings.Contains(p, "volume.cpp") || strings.Contains(p, "_src") {
				t.Errorf("raw error context shown: %s", p)
			}
		})
	}
}

func TestRenderTaskOmitsWhatTheTaskLacks(t *testing.T) {
	task := tasks.Task{ID: 7, State: tasks.Started, Type: "Sync"}
	m := RenderTask(task, nil, renderNow)
	checkSafe(t, m)
	if h := headerText(t, m); h != "Sync" {
		t.Errorf("header = %q, want the type", h)
	}
	if got := allFields(m); strings.Join(got, "|") != "*Type*\nSync" {
		t.Errorf("fields = %q, want only the type", got)
	}
	if got := contextText(t, m); got != "Task id 7 · as of "+slackDate(renderNow) {
		t.Errorf("context = %q", got)
	}

	m = RenderTask(tasks.Task{UUID: " ", State: "", Context: map[string]any{"title": "\u200b"}}, nil, renderNow)
	checkSafe(t, m)
	if h := headerText(t, m); h != untitledTask {
		t.Errorf("header = %q, want %q", h, untitledTask)
	}
	if s := sectionTexts(m); len(s) != 1 || s[0] != ":grey_question: *Unknown state*" {
		t.Errorf("sections = %q", s)
	}
}

func TestRenderTaskProgress(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    tasks.Progress
		want string // "" for no progress section
	}{
		{"nothing reported", tasks.Progress{}, ""},
		{"percent only", tasks.Progress{Total: 3, Current: 2}, "*Progress:* 66% (2 of 3)"},
		{"no percent without a total", tasks.Progress{Current: 5, BytesProcessed: 999}, "*Progress:* 999 B processed"},
		{"bytes round to a unit", tasks.Progress{BytesProcessed: 999_999}, "*Progress:* 1.0 MB processed"},
		{"largest byte count", tasks.Progress{BytesProcessed: 1<<63 - 1}, "*Progress:* 9.2 EB processed"},
		{"speed", tasks.Progress{ProcessingSpeed: 1_250_000}, "*Progress:* 1.2 MB/s"},
		{"time left as sent, escaped", tasks.Progress{LeftTime: "<soon>"}, "*Progress:* &lt;soon&gt; left"},
		{"current beyond total is shown as sent", tasks.Progress{Total: 10, Current: 15}, "*Progress:* 150% (15 of 10)"},
		{"negative values are left out", tasks.Progress{Total: 10, Current: -1, BytesProcessed: -5, ProcessingSpeed: -1}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := fixtureTask(t, fxStarted)
			task.Progress = &tc.p
			m := RenderTask(task, nil, renderNow)
			checkSafe(t, m)
			var got string
			for _, s := range sectionTexts(m) {
				if strings.HasPrefix(s, "*Progress:*") {
					got = s
				}
			}
			if got != tc.want {
				t.Errorf("progress = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRenderTaskPathological(t *testing.T) {
	huge := strings.Repeat("<!channel> & ", 100_000) // 1.3 MB
	long := huge[:13_000]                            // each of 1,000 blockers
	sols := make([]tasks.Message, 1000)
	for j := range sols {
		sols[j] = tasks.Message{Key: "solution", Context: map[string]any{"message": huge}}
	}
	blockers := make([]tasks.Blocker, 1000)
	for i := range blockers {
		blockers[i] = tasks.Blocker{ID: int64(i), Issue: tasks.Message{Key: "k", Context: map[string]any{"message": fmt.Sprintf("blocker %d: <@U123> %s", i, long)}},
			PossibleSolutions: sols}
	}
	warnings := make([]tasks.DomainError, 1000)
	for i := range warnings {
		warnings[i] = tasks.DomainError{Domain: huge, Code: huge, Reason: huge}
	}
	base := fixtureTask(t, fxFailed)
	evil := withTitle(base, huge, huge, huge)
	evil.IDString, evil.UUID, evil.StartedByUser, evil.Queue, evil.Priority = huge, huge, huge, huge, huge
	evil.Resource, evil.Policy = &tasks.Reference{Name: huge}, &tasks.Reference{Name: huge}
	evil.Result = &tasks.Result{Code: tasks.ResultError, Warnings: warnings, Error: &tasks.DomainError{Domain: huge, Code: huge, Reason: huge,
		Context: map[string]any{"cause_str": huge, "effect_str": huge}}}
	evil.Blockers = blockers
	evil.Progress = &tasks.Progress{Total: 1, Current: 1 << 62, LeftTime: huge, BytesProcessed: 1<<63 - 1, ProcessingSpeed: 1e308}
	paused := evil
	paused.State, paused.Result = tasks.Paused, nil

	for _, tc := range []struct {
		name string
		task tasks.Task
	}{{"failed", evil}, {"paused", paused}} {
		t.Run(tc.name, func(t *testing.T) {
			m := RenderTask(tc.task, nil, renderNow)
			checkSafe(t, m)
			if n := blocksChars(m); n > maxBlocksChars {
				t.Errorf("%d characters in blocks, want at most %d", n, maxBlocksChars)
			}
			if n := len([]rune(m.Text)); n > FallbackTextTarget {
				t.Errorf("Text is %d characters", n)
			}
			if h := headerText(t, m); !strings.HasPrefix(h, "&lt;!channel&gt; &amp; ") || len([]rune(h)) > MaxHeaderText {
				t.Errorf("header = %q", h)
			}
			var blockersText string
			for _, s := range sectionTexts(m) {
				if strings.HasPrefix(s, "*Blockers:*") || strings.HasPrefix(s, "*Waiting for:*") {
					blockersText = s
				}
			}
			if !strings.Contains(blockersText, "• blocker 0: &lt;@U123&gt;") || !strings.Contains(blockersText, " more blockers") {
				t.Errorf("blockers = %.300q…, want the first ones and how many more", blockersText)
			}
			if !strings.Contains(blockersText, "possible solutions:") || !strings.Contains(blockersText, "and 995 more") {
				t.Errorf("blockers = %.600q…, want five solutions and how many more", blockersText)
			}
		})
	}
}

func TestRenderTaskBlockersCount(t *testing.T) {
	task := fixtureTask(t, fxPaused)
	for _, tc := range []struct {
		n, shown int // blockers, and how many are shown
	}{
		{1, 1},
		{10, 10},
		{500, 213}, // as many short entries as fit in showBlockersMax, then the count
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			task.Blockers = nil
			for i := range tc.n {
				task.Blockers = append(task.Blockers, tasks.Blocker{Issue: tasks.Message{Key: fmt.Sprintf("issue %d", i)}})
			}
			m := RenderTask(task, nil, renderNow)
			checkSafe(t, m)
			s := sectionTexts(m)[1]
			if !strings.HasPrefix(s, "*Waiting for:*\n• issue 0\n• issue 1") && tc.n > 1 {
				t.Errorf("blockers = %.60q…, want them in order", s)
			}
			if got := strings.Count(s, "\n• "); got != tc.shown {
				t.Errorf("%d blockers shown, want %d", got, tc.shown)
			}
			wantEnd := fmt.Sprintf("• issue %d", tc.shown-1)
			if rest := tc.n - tc.shown; rest > 0 {
				wantEnd += fmt.Sprintf("\nand %d more blockers", rest)
			}
			if !strings.HasSuffix(s, wantEnd) {
				t.Errorf("blockers end %q, want %q", s[max(0, len(s)-60):], wantEnd)
			}
		})
	}
}

func TestRenderTaskNotFoundAndNotAvailable(t *testing.T) {
	for _, tc := range []struct {
		name, id, notFound, notAvailable string
	}{
		{"numeric id", "944455285181775999", "No task *944455285181775999* was found.", "No task *944455285181775999* is available in this channel."},
		{"mention", "<!channel>", "No task *&lt;!channel&gt;* was found.", "No task *&lt;!channel&gt;* is available in this channel."},
		{"bold markers", "*x*", "No task *\u2217x\u2217* was found.", "No task *\u2217x\u2217* is available in this channel."},
		{"long id", strings.Repeat("9", 5000), "No task *" + strings.Repeat("9", 79) + "…* was found.", "No task *" + strings.Repeat("9", 79) + "…* is available in this channel."},
		{"blank id", " \u200b ", "No task with that id was found.", "No task with that id is available in this channel."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nf := RenderTaskNotFound(tc.id)
			checkSafe(t, nf)
			if nf.Text != tc.notFound {
				t.Errorf("not found: Text = %q, want %q", nf.Text, tc.notFound)
			}
			if s := sectionTexts(nf); len(s) != 1 || !strings.HasPrefix(s[0], ":grey_question: "+tc.notFound+" `/tasks show` takes") {
				t.Errorf("not found: sections = %q", s)
			}
			na := RenderTaskNotAvailable(tc.id)
			checkSafe(t, na)
			if na.Text != tc.notAvailable {
				t.Errorf("not available: Text = %q, want %q", na.Text, tc.notAvailable)
			}
			s := sectionTexts(na)
			if len(s) != 1 || !strings.HasPrefix(s[0], ":grey_question: "+tc.notAvailable+" ") {
				t.Errorf("not available: sections = %q", s)
			}
			// Nothing in it says whether the task exists or whose it is.
			for _, leak := range []string{"found", "tenant", "exist", "scope", "gone"} {
				if strings.Contains(strings.ToLower(s[0]), leak) {
					t.Errorf("not available says %q: %q", leak, s[0])
				}
			}
		})
	}
}
