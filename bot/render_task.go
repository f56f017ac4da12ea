package bot

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks"
)

// Budgets of the `/tasks show` answer, in characters of escaped text. They keep the whole
// message under maxBlocksChars, whatever the API sends.
const (
	showErrorMax     = 800  // each of an error's reason, cause and effect
	showBlockersMax  = 2500 // the blockers section
	showIssueMax     = 300  // one blocker's issue
	showSolutionMax  = 120  // one possible solution
	showSolutions    = 5    // possible solutions shown per blocker
	showWarnings     = 5    // result warnings shown
	showWarningMax   = 300  // one warning's reason
	showIDMax        = 80   // id and uuid in the context line
	notFoundIDMax    = 80   // the id a user asked for
	showTenantIDMax  = 40   // a tenant id next to its name
	showProgressText = 80   // the time left as the API sends it
)

// RenderTask renders the answer to `/tasks show ID`: task t in full, as an on-call engineer
// needs it, with f deciding whether it failed (nil: tasks.DefaultFailures).
//
//   - a header with the title (Task.Title: context.title, else type, else key);
//   - a section with the state's emoji and state ("Failed — completed with result code error",
//     "Completed — result code ok", "Paused", "cancel requested" while one is) and fields:
//     tenant (name and id), machine (resource.name), plan (policy.name), type, started by,
//     queue, priority — each only where the task has it;
//   - for a failed task, or one whose result carries an error: the error's domain/code,
//     reason, cause and effect (context cause_str, effect_str; no other context key is shown);
//     then the result's warnings, if any;
//   - the blockers with their possible solutions (tasks.MessageText), as many as fit, then
//     "and N more blockers";
//   - progress: percent of current/total when total > 0, bytes processed, speed in MB/s
//     (10^6 bytes a second), time left as the API sends it;
//   - times as Slack date tokens (enqueued, assigned, started, completed, updated and how long
//     ago) and the duration: started → completed ("Took"), or from start to now ("Running
//     for"), or from enqueueing to now while the task waits ("Waiting for");
//   - a context line with the id, the uuid and the time of the answer (now, any zone).
//
// Text from the API is escaped and cut: the message passes CheckLimits and stays under
// maxBlocksChars for any task.
func RenderTask(t tasks.Task, f tasks.Failures, now time.Time) Message {
	s := tasks.NewSnapshot(&t, f)
	m := Message{Text: taskFallback(capitalizeFirst(stateWord(&s)), &s)}

	title := untitledTask
	for _, c := range []string{s.Title, s.Type, s.Key} {
		if e := escapePlainCut(c, MaxHeaderText); !isBlankText(e) {
			title = e
			break
		}
	}
	m.Blocks = append(m.Blocks, slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, title, false, false)))

	var fields []*slack.TextBlockObject
	addField := func(label, value string) {
		if !isBlankText(value) {
			fields = append(fields, mrkdwnText("*"+label+"*\n"+value))
		}
	}
	addField("Tenant", showTenant(&s))
	addField("Machine", escapeCut(s.Machine, fieldValueMax))
	addField("Plan", escapeCut(s.Plan, fieldValueMax))
	addField("Type", escapeCut(s.Type, fieldValueMax))
	addField("Started by", escapeCut(s.StartedBy, fieldValueMax))
	addField("Queue", escapeCut(s.Queue, nameMax))
	addField("Priority", escapeCut(s.Priority, nameMax))
	m.Blocks = append(m.Blocks, slack.NewSectionBlock(mrkdwnText(showState(&t, &s)), fields, nil))

	if s.Failed || s.Error != nil {
		m.Blocks = append(m.Blocks, mrkdwnSection(errorDetails(&s, showErrorMax)))
	}
	if w := showWarningsText(t.Result); w != "" {
		m.Blocks = append(m.Blocks, mrkdwnSection(w))
	}
	if len(t.Blockers) > 0 {
		m.Blocks = append(m.Blocks, mrkdwnSection(showBlockers(&s, t.Blockers)))
	}
	if p := showProgress(t.Progress); p != "" {
		m.Blocks = append(m.Blocks, mrkdwnSection(p))
	}
	if times := showTimes(&s, now); len(times) > 0 {
		m.Blocks = append(m.Blocks, slack.NewSectionBlock(nil, times, nil))
	}

	var ids []string
	id := t.IDString
	if isBlankText(id) && t.ID != 0 {
		id = strconv.FormatInt(t.ID, 10)
	}
	if e := escapeCut(id, showIDMax); !isBlankText(e) {
		ids = append(ids, "id "+e)
	}
	if e := escapeCut(t.UUID, showIDMax); !isBlankText(e) {
		ids = append(ids, "uuid "+e)
	}
	ids = append(ids, "as of "+slackDate(now))
	m.Blocks = append(m.Blocks, slack.NewContextBlock("", mrkdwnText("Task "+strings.Join(ids, " · "))))
	return m
}

// showState is the first line of the `/tasks show` answer: emoji, bold state, result code,
// and whether a cancel was requested.
func showState(t *tasks.Task, s *tasks.Snapshot) string {
	code := escapeCut(string(s.Result), nameMax)
	var line string
	switch {
	case s.Failed:
		line = "*Failed* — completed with result code " + code
	case s.State == tasks.Completed && isBlankText(code):
		line = "*Completed* — no result code"
	case s.State == tasks.Completed:
		line = "*Completed* — result code " + code
	case isBlankText(escapeCut(string(s.State), nameMax)):
		line = "*Unknown state*"
	default:
		line = "*" + capitalizeFirst(escapeCut(string(s.State), nameMax)) + "*"
		if !isBlankText(code) {
			line += " — result code " + code
		}
	}
	if t.CancelRequested && s.State != tasks.Completed {
		line += " · cancel requested"
	}
	return stateEmoji(s) + " " + line
}

// showTenant is the tenant's name and id ("Customer B GmbH (1496300)"), or either alone.
func showTenant(s *tasks.Snapshot) string {
	name := escapeCut(s.TenantName, fieldValueMax)
	id := escapeCut(s.TenantID, showTenantIDMax)
	switch {
	case isBlankText(name):
		return id
	case isBlankText(id) || id == name:
		return name
	}
	return name + " (" + id + ")"
}

// showWarningsText is the section text of a result's warnings ("*Warnings:*" and a bullet
// per warning: domain/code and reason), "" when there are none.
func showWarningsText(r *tasks.Result) string {
	if r == nil || len(r.Warnings) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("*Warnings:*")
	shown := r.Warnings[:min(len(r.Warnings), showWarnings)]
	for _, w := range shown {
		var name []string
		name = appendName(name, w.Domain)
		name = appendName(name, w.Code)
		line := strings.Join(name, "/")
		if reason := escapeCut(w.Reason, showWarningMax); !isBlankText(reason) {
			if line != "" {
				line += ": "
			}
			line += reason
		}
		if line == "" {
			line = "(no details)"
		}
		b.WriteString("\n• " + line)
	}
	if rest := len(r.Warnings) - len(shown); rest > 0 {
		fmt.Fprintf(&b, "\nand %d more", rest)
	}
	return b.String()
}

// showBlockers is the section text of a task's blockers: "*Waiting for:*" (for a paused task;
// "*Blockers:*" otherwise), a bullet per blocker with its possible solutions, as many as fit in
// showBlockersMax characters, then "and N more blockers".
func showBlockers(s *tasks.Snapshot, bs []tasks.Blocker) string {
	lead := "*Blockers:*"
	if s.State == tasks.Paused {
		lead = "*Waiting for:*"
	}
	var b strings.Builder
	b.WriteString(lead)
	n := utf8.RuneCountInString(lead)
	const reserve = len("\nand 9223372036854775807 more blockers")
	shown := 0
	for _, bl := range bs {
		issue := escapeCut(tasks.MessageText(bl.Issue), showIssueMax)
		if isBlankText(issue) {
			issue = "(no description)"
		}
		entry := "\n• " + issue
		var sols []string
		for _, m := range bl.PossibleSolutions {
			if len(sols) == showSolutions {
				sols = append(sols, fmt.Sprintf("and %d more", len(bl.PossibleSolutions)-showSolutions))
				break
			}
			if e := escapeCut(tasks.MessageText(m), showSolutionMax); !isBlankText(e) {
				sols = append(sols, e)
			}
		}
		if len(sols) > 0 {
			entry += "\n   possible solutions: " + strings.Join(sols, " · ")
		}
		l := utf8.RuneCountInString(entry)
		if n+l > showBlockersMax-reserve {
			break
		}
		b.WriteString(entry)
		n += l
		shown++
	}
	if rest := len(bs) - shown; rest > 0 {
		word := "blockers"
		if rest == 1 {
			word = "blocker"
		}
		fmt.Fprintf(&b, "\nand %d more %s", rest, word)
	}
	return b.String()
}

// showProgress is the progress line, "*Progress:* 42% (420 of 1000) · 1.2 GB processed ·
// 35.4 MB/s · 1h25m43s left"; "" when the task reports none.
func showProgress(p *tasks.Progress) string {
	if p == nil {
		return ""
	}
	var parts []string
	if p.Total > 0 && p.Current >= 0 {
		pct := math.Floor(float64(p.Current) / float64(p.Total) * 100)
		parts = append(parts, fmt.Sprintf("%.0f%% (%d of %d)", pct, p.Current, p.Total))
	}
	if p.BytesProcessed > 0 {
		parts = append(parts, decimalBytes(p.BytesProcessed)+" processed")
	}
	if v := p.ProcessingSpeed; v > 0 && !math.IsInf(v, 0) {
		parts = append(parts, fmt.Sprintf("%.1f MB/s", v/1e6))
	}
	if left := escapeCut(p.LeftTime, showProgressText); !isBlankText(left) {
		parts = append(parts, left+" left")
	}
	if len(parts) == 0 {
		return ""
	}
	return "*Progress:* " + strings.Join(parts, " · ")
}

// decimalBytes formats n bytes in decimal units, as the Acronis console does: "512 B",
// "1.2 GB".
func decimalBytes(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	unit := ""
	for _, u := range []string{"KB", "MB", "GB", "TB", "PB", "EB"} {
		v /= 1000
		unit = u
		if v < 999.95 {
			break
		}
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// showTimes are the time fields of the `/tasks show` answer: each time the task has, as a
// Slack date token, and its duration.
func showTimes(s *tasks.Snapshot, now time.Time) []*slack.TextBlockObject {
	var fields []*slack.TextBlockObject
	add := func(label string, at time.Time) {
		if !at.IsZero() {
			fields = append(fields, mrkdwnText("*"+label+"*\n"+slackDate(at)))
		}
	}
	add("Enqueued", s.EnqueuedAt)
	add("Assigned", s.AssignedAt)
	add("Started", s.StartedAt)
	if s.State == tasks.Completed {
		add("Completed", s.CompletedAt)
	}
	if !s.UpdatedAt.IsZero() {
		fields = append(fields, mrkdwnText("*Updated*\n"+slackDate(s.UpdatedAt)+" ("+slackAgo(s.UpdatedAt)+")"))
	}
	switch {
	case s.State == tasks.Completed:
		if !s.StartedAt.IsZero() && !s.CompletedAt.IsZero() && !s.CompletedAt.Before(s.StartedAt) {
			fields = append(fields, mrkdwnText("*Took*\n"+humanDuration(s.CompletedAt.Sub(s.StartedAt))))
		}
	case !s.StartedAt.IsZero():
		fields = append(fields, mrkdwnText("*Running for*\n"+humanDuration(now.Sub(s.StartedAt))))
	case !s.EnqueuedAt.IsZero() && s.State.InProgress():
		fields = append(fields, mrkdwnText("*Waiting for*\n"+humanDuration(now.Sub(s.EnqueuedAt))))
	}
	return fields
}

// RenderTaskNotFound renders the answer to `/tasks show ID` when the Task Manager has no task
// with that id; id is what the user typed, escaped and cut.
func RenderTaskNotFound(id string) Message {
	return idAnswer("No task %s was found.", "`/tasks show` takes a task's numeric id or its uuid, "+
		"as the Acronis console shows them; a task may be gone some time after it completed.", id)
}

// RenderTaskNotAvailable renders the answer to `/tasks show ID` in a channel that may not show
// that task (a scoped channel, for a task of another tenant). It reads the same whether or not
// the task exists, so a channel shared with a customer learns nothing about other tenants'
// tasks: callers answer an unknown id in such a channel with it too.
func RenderTaskNotAvailable(id string) Message {
	return idAnswer("No task %s is available in this channel.", "`/tasks show` takes a task's numeric id or its uuid.", id)
}

// idAnswer is a one-section answer: the sentence lead with the escaped and cut id (bold; or
// "with that id" when the id shows nothing) in place of %s, then more. The fallback text is
// the first sentence.
func idAnswer(lead, more, id string) Message {
	name := "with that id"
	if e := escapeCut(id, notFoundIDMax); !isBlankText(e) {
		name = mrkdwnBold(e)
	}
	first := fmt.Sprintf(lead, name)
	return Message{Text: first, Blocks: []slack.Block{mrkdwnSection(":grey_question: " + first + " " + more)}}
}
