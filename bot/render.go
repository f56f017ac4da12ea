package bot

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// Message is one Slack message as taskbot renders it: the payload of chat.postMessage,
// chat.update and a slash command's response ({"text":…,"blocks":[…]}). Renderers are pure
// functions of their arguments and always return a message that passes CheckLimits.
type Message struct {
	// Text is the short plain fallback shown in notifications and read by screen readers
	// (mrkdwn, escaped, non-empty, about FallbackTextTarget characters at most).
	Text string `json:"text"`
	// Blocks is the Block Kit layout (https://api.slack.com/reference/block-kit/blocks).
	Blocks []slack.Block `json:"blocks,omitempty"`
	// InChannel: the answer to a slash command or button is for everyone in the channel
	// (response_type in_channel: the confirmation of a change, a shared list), not only for
	// the user.
	InChannel bool `json:"-"`
}

// RefreshActionID is the action_id of the Refresh button of a task list; its value is the
// list's Command.String(), to be parsed again with ParseCommand when the button is clicked.
const RefreshActionID = "tasks_refresh"

// Rendering budgets, in characters of escaped text. They keep one task's section under 700
// characters (about 300 for real tasks), so a full list of real tasks is about 14 KB of JSON
// (TestRenderListSize), within Socket Mode's 20 KiB acknowledgement.
const (
	// MaxListedTasks is how many tasks a page of a list shows (RenderListPage, RenderList):
	// 50 blocks less the header, the footer context and the actions block, less two kept free
	// so that a caller can add a notice block of its own.
	MaxListedTasks = MaxBlocks - 5
	// maxSummaryTitles is how many tasks RenderSummary names.
	maxSummaryTitles = 5

	listTitleMax   = 150 // task title in a list or status
	nameMax        = 80  // tenant, type, queue, user, error domain and code
	fieldValueMax  = 300 // one announcement field's value
	announceTitle  = 300 // task title in an announcement's section
	fallbackTitle  = 120 // task title in Message.Text
	fallbackTenant = 60  // tenant in Message.Text
	errorReasonMax = 500 // a failed task's error reason
	errorCtxMax    = 150 // one value of a failed task's error context
	errorCtxKeys   = 10  // error context entries shown
	untitledTask   = "(untitled task)"
)

// RenderList renders the answer to a `/tasks` command as the first page of its tasks:
// RenderListPage of ts, counting len(ts) tasks (a lower bound when more reports that the API
// had further pages), with a Refresh button whose value is cmd.String() — also "" for the
// default command, which the Refresh handler parses back — and no Next page or Share.
//
// Each task's section holds its bold title; state emoji and state, result or error, tenant,
// machine and type; and its start, completion and update times. ts is shown in the order given
// (MergeTasks orders newest first); at most MaxListedTasks of them, the rest are counted in the
// context line ("tasks 1–45 of 500 · newest first"). now (any zone) is used for relative times
// ("running for 2h 5m"). Help commands get the usage.
func RenderList(cmd Command, ts []tasks.Task, more bool, now time.Time) Message {
	if cmd.Help {
		return RenderUsage(nil)
	}
	m := listPage(cmd, ListPage{Tasks: ts, Total: len(ts), More: more}, now)
	if v := cmd.String(); utf8.RuneCountInString(v) <= MaxButtonValue {
		m.Blocks = append(m.Blocks, slack.NewActionBlock("",
			slack.NewButtonBlockElement(RefreshActionID, v,
				slack.NewTextBlockObject(slack.PlainTextType, "Refresh", false, false))))
	}
	return m
}

// listEntry is one task's section text in a list, three lines:
//
//	*Backup plan 'Daily' on SQL-01*
//	:x: failed · Backup/VolumeNotFound · Customer B GmbH · MachineBackup
//	started <date> · completed <date> · took 41m
func listEntry(t *tasks.Snapshot, now time.Time) string {
	var b strings.Builder
	b.WriteString(mrkdwnBold(taskTitle(t, listTitleMax)))
	b.WriteString("\n")
	line := []string{stateEmoji(t) + " " + stateWord(t)}
	if t.Failed {
		if e := errorName(t); e != "" {
			line = append(line, e)
		}
	}
	line = appendName(line, t.Tenant())
	line = appendName(line, t.Machine)
	line = appendName(line, t.Type)
	b.WriteString(strings.Join(line, " · "))
	if times := taskTimes(t, now); times != "" {
		b.WriteString("\n")
		b.WriteString(times)
	}
	return b.String()
}

// taskTimes is the time line of a task in a list: when it was enqueued or started, how long it
// has run or waited, when it completed and how long it took, and how long ago it last changed.
func taskTimes(t *tasks.Snapshot, now time.Time) string {
	var parts []string
	switch {
	case !t.StartedAt.IsZero():
		p := "started " + slackDate(t.StartedAt)
		if t.State == tasks.Started {
			p += " · running for " + humanDuration(now.Sub(t.StartedAt))
		}
		parts = append(parts, p)
	case !t.AssignedAt.IsZero():
		parts = append(parts, "assigned "+slackDate(t.AssignedAt))
	case !t.EnqueuedAt.IsZero():
		p := "enqueued " + slackDate(t.EnqueuedAt)
		if t.State == tasks.Enqueued {
			p += " · waiting for " + humanDuration(now.Sub(t.EnqueuedAt))
		}
		parts = append(parts, p)
	}
	if t.State == tasks.Completed && !t.CompletedAt.IsZero() {
		p := "completed " + slackDate(t.CompletedAt)
		if !t.StartedAt.IsZero() && !t.CompletedAt.Before(t.StartedAt) {
			p += " · took " + humanDuration(t.CompletedAt.Sub(t.StartedAt))
		}
		parts = append(parts, p)
	} else if !t.UpdatedAt.IsZero() {
		parts = append(parts, "updated "+humanDuration(now.Sub(t.UpdatedAt))+" ago")
	}
	return strings.Join(parts, " · ")
}

// RenderAnnouncement renders the channel announcement of one transition of task t, from state
// from ("" when the task is new) to t's state, whose event is ev (tasks.EventFor): what on-call
// needs to act, and nothing that goes stale. Text names the event and the escaped title and
// tenant: "Task paused: Backup plan 'R&amp;D…' (Customer B GmbH)". Blocks: a section with the
// event's emoji, the bold event and title, and fields (tenant, machine, plan, "from → to
// (result code)", type, started by; each only where the task has it); for a failed task a
// section with the error's domain/code, reason, cause and effect; for a paused task a section
// with its blockers and their possible solutions; a context line with the task id and when it
// was updated, as a Slack date token that keeps saying how long ago
// (https://api.slack.com/reference/surfaces/formatting#date-formatting). now is unused and kept
// so every renderer has the same shape.
func RenderAnnouncement(ev tasks.Event, from tasks.State, t tasks.Snapshot, now time.Time) Message {
	event := eventWord(ev)
	m := Message{Text: taskFallback("Task "+event, &t)}

	var fields []*slack.TextBlockObject
	addField := func(label, value string) {
		if v := escapeCut(value, fieldValueMax); !isBlankText(v) {
			fields = append(fields, mrkdwnText("*"+label+"*\n"+v))
		}
	}
	addField("Tenant", t.Tenant())
	addField("Machine", t.Machine)
	addField("Plan", t.Plan)
	toWord := string(t.State)
	if code := t.Result; code != "" {
		toWord += " (" + string(code) + ")"
	}
	if t.State != tasks.Completed && !t.Since.IsZero() && now.Sub(t.Since) >= sinceShownAfter {
		// Seen late (after downtime, or first seen): how long it has been so already.
		toWord += " for " + humanDuration(now.Sub(t.Since))
	}
	if from != "" {
		addField("State", string(from)+" → "+toWord)
	} else {
		addField("State", toWord+" (first seen)") // not seen in an earlier state
	}
	addField("Type", t.Type)
	addField("Started by", t.StartedBy)

	if ev == tasks.EventStuck {
		// Not a transition: how long the task has been in its state is the news.
		fields = slices.DeleteFunc(fields, func(f *slack.TextBlockObject) bool { return strings.HasPrefix(f.Text, "*State*") })
		addField("State", stuckFor(&t, now))
		m.Text = truncate(taskFallback("Task stuck", &t)+" — "+stuckFor(&t, now), FallbackTextTarget)
	}
	head := eventEmoji(ev, &t) + " *" + capitalizeFirst(event) + "* · " + mrkdwnBold(taskTitle(&t, announceTitle))
	m.Blocks = append(m.Blocks, slack.NewSectionBlock(mrkdwnText(head), fields, nil))

	if t.Failed {
		m.Blocks = append(m.Blocks, mrkdwnSection(errorDetails(&t, errorReasonMax)))
	}
	if t.State == tasks.Paused && len(t.Blockers) > 0 {
		m.Blocks = append(m.Blocks, mrkdwnSection(blockerDetails(&t)))
	}

	ctx := "Task " + escapeCut(t.ID, nameMax)
	switch {
	case ev == tasks.EventStuck && !t.Since.IsZero():
		ctx += " · " + escapeCut(string(t.State), nameMax) + " since " + slackDate(t.Since)
	case !t.UpdatedAt.IsZero():
		ctx += " · updated " + slackAgo(t.UpdatedAt)
	}
	m.Blocks = append(m.Blocks, slack.NewContextBlock("", mrkdwnText(ctx)))
	return m
}

// sinceShownAfter is how long ago a transition must have happened for its announcement to say
// how long the task has been in its new state (seen late: after downtime, or first seen).
const sinceShownAfter = 10 * time.Minute

// stuckFor says how long t has been in its state: "paused for 3h 5m" ("paused" when unknown).
func stuckFor(t *tasks.Snapshot, now time.Time) string {
	st := string(t.State)
	if t.Since.IsZero() {
		return st
	}
	return st + " for " + humanDuration(now.Sub(t.Since))
}

// errorDetails is the section text of a failed task's error: "*Error:* domain/code", the
// reason, and the cause and effect the Acronis console shows, each cut to max characters.
func errorDetails(t *tasks.Snapshot, max int) string {
	var b strings.Builder
	name := errorName(t)
	switch {
	case name == "" && t.Result != "" && t.Result != tasks.ResultError:
		// abandoned, timedout: the result code is what there is to say
		b.WriteString("*Result:* " + escapeCut(string(t.Result), nameMax) + " (the task carries no error details)")
	case name == "":
		b.WriteString("*Error:* no details given")
	default:
		b.WriteString("*Error:* " + name)
	}
	if e := t.Error; e != nil {
		if r := escapeCut(e.Reason, max); !isBlankText(r) && r != escapeCut(e.Code, nameMax) {
			b.WriteString("\n" + r)
		}
		if c := escapeCut(e.Cause, max); !isBlankText(c) {
			b.WriteString("\n*Cause:* " + c)
		}
		if f := escapeCut(e.Effect, max); !isBlankText(f) {
			b.WriteString("\n*Effect:* " + f)
		}
	}
	return truncate(b.String(), MaxTextObject)
}

// blockerDetails is the section text of a paused task's blockers: "*Waiting for:*", then a
// bullet per blocker with its possible solutions.
func blockerDetails(t *tasks.Snapshot) string {
	var b strings.Builder
	b.WriteString("*Waiting for:*")
	for _, bl := range t.Blockers {
		b.WriteString("\n• " + escapeCut(bl.Issue, errorReasonMax))
		var sols []string
		for _, s := range bl.Solutions {
			sols = appendName(sols, s)
		}
		if len(sols) > 0 {
			b.WriteString("\n   possible solutions: " + strings.Join(sols, " · "))
		}
	}
	return truncate(b.String(), MaxTextObject)
}

// RenderStatus renders the first (parent) message of a task's thread, which is updated in place
// with chat.update (https://api.slack.com/methods/chat.update) to show the task's current
// state: the emoji and bold title, the current state (with result or error) since the last
// change, the tenant, machine, plan and type, and a context line with the task id. now is
// unused: the message shows Slack dates, which stay true while the message is not updated.
func RenderStatus(t tasks.Snapshot, now time.Time) Message {
	m := Message{Text: taskFallback(capitalizeFirst(stateWord(&t)), &t)}
	var b strings.Builder
	b.WriteString(stateEmoji(&t) + " " + mrkdwnBold(taskTitle(&t, listTitleMax)) + "\n")
	b.WriteString("*" + capitalizeFirst(stateWord(&t)) + "*")
	if t.Failed {
		if e := errorName(&t); e != "" {
			b.WriteString(" (" + e + ")")
		}
	}
	switch {
	case t.State == tasks.Completed && !t.CompletedAt.IsZero():
		b.WriteString(" " + slackDate(t.CompletedAt))
	case !t.UpdatedAt.IsZero():
		b.WriteString(" since " + slackDate(t.UpdatedAt))
	}
	var names []string
	names = appendName(names, t.Tenant())
	names = appendName(names, t.Machine)
	names = appendName(names, t.Plan)
	names = appendName(names, t.Type)
	if len(names) > 0 {
		b.WriteString("\n" + strings.Join(names, " · "))
	}
	m.Blocks = append(m.Blocks,
		mrkdwnSection(b.String()),
		slack.NewContextBlock("", mrkdwnText("Task "+escapeCut(t.ID, nameMax))),
	)
	return m
}

// summaryOrder is the order of the counts in a summary.
var summaryOrder = []tasks.Event{
	tasks.EventFailed, tasks.EventStuck, tasks.EventPaused, tasks.EventResumed, tasks.EventStarted,
	tasks.EventCompleted, tasks.EventAssigned, tasks.EventEnqueued,
}

// RenderSummary renders one message in place of many announcements (a poll that found a burst
// of transitions): the counts per event ("Task updates: 12 started, 3 paused", failures first),
// the first maxSummaryTitles of s.First with emoji, event, title and tenant, and "and N more"
// for every transition not named. now stamps the context line. A summary of nothing renders
// "No task updates.".
func RenderSummary(s *announce.Summary, now time.Time) Message {
	total := 0
	var order []tasks.Event // events not in summaryOrder, sorted for a stable message
	for ev, n := range s.Counts {
		total += n
		if n > 0 && !slices.Contains(summaryOrder, ev) {
			order = append(order, ev)
		}
	}
	if total == 0 {
		return Message{Text: "No task updates.", Blocks: []slack.Block{mrkdwnSection("No task updates.")}}
	}
	slices.Sort(order)
	var parts []string
	for _, ev := range append(slices.Clone(summaryOrder), order...) {
		if n := s.Counts[ev]; n > 0 {
			parts = append(parts, strconv.Itoa(n)+" "+eventWord(ev))
		}
	}
	tally := strings.Join(parts, ", ")
	m := Message{Text: truncate("Task updates: "+tally, FallbackTextTarget)}

	var b strings.Builder
	b.WriteString(truncate("*Task updates:* "+tally, 1000))
	shown := s.First[:min(len(s.First), maxSummaryTitles)]
	for i := range shown {
		e := &shown[i]
		b.WriteString("\n• " + eventEmoji(e.Event, &e.Task) + " " + eventWord(e.Event) + " · " +
			mrkdwnBold(taskTitle(&e.Task, listTitleMax)))
		if tn := escapeCut(e.Task.Tenant(), nameMax); !isBlankText(tn) {
			b.WriteString(" (" + tn + ")")
		}
	}
	m.Blocks = append(m.Blocks, mrkdwnSection(b.String()))
	footer := "as of " + slackDate(now)
	if rest := total - len(shown); rest > 0 {
		footer = fmt.Sprintf("and %d more · %s", rest, footer)
	}
	m.Blocks = append(m.Blocks, slack.NewContextBlock("", mrkdwnText(footer)))
	return m
}

// RenderUsage renders the answer to `/tasks help` (err nil) or to a command ParseCommand
// rejected (err from ParseCommand, whose *UsageError message is already escaped mrkdwn). Any
// other error is shown escaped, followed by the usage.
func RenderUsage(err error) Message {
	text := Usage()
	if err != nil {
		if ue := (*UsageError)(nil); errors.As(err, &ue) {
			text = ue.Error()
		} else {
			text = escapeCut(err.Error(), 500) + "\n" + Usage()
		}
	}
	first, _, _ := strings.Cut(text, "\n")
	return Message{Text: first, Blocks: []slack.Block{mrkdwnSection(text)}}
}

// Escape makes text from the API (titles, tenant and user names, types, error messages) safe
// to paste into a Slack mrkdwn text object, on one line:
//
//   - & < > become &amp; &lt; &gt;, as Slack asks
//     (https://api.slack.com/reference/surfaces/formatting#escaping); this alone stops
//     <!channel>, <@U123> and <http://x|y> from mentioning or forging a link;
//   - * _ ~ ` become look-alikes (∗ ˍ ∼ ˋ: U+2217, U+02CD, U+223C, U+02CB), so a title cannot
//     end the *bold* it is wrapped in, or open italics, strike-through or code; a title copied
//     from Slack therefore differs from the original in these characters;
//   - control characters (Cc) and invisible format characters (Cf, such as bidi overrides and
//     zero-width spaces; except the zero-width joiner and non-joiner that emoji and scripts
//     need) are removed; invalid UTF-8 becomes U+FFFD;
//   - runs of white space (newlines, tabs, NBSP…) become one space; leading and trailing space
//     is dropped.
//
// Message.Text is mrkdwn too, so the same escaping applies there.
func Escape(s string) string { return escape(s, -1) }

// escapeCut is truncate(Escape(s), max), but stops escaping once the output is longer than
// truncate can need: its work is proportional to max (plus the white space and control
// characters it skips), not to len(s), so a megabyte title costs what a short one does.
func escapeCut(s string, max int) string {
	if max < 1 {
		return ""
	}
	return truncate(escape(s, max+len("&amp;")), max)
}

// escapePlainCut is escapeCut for a plain_text object (a header): white space and invisible
// characters are treated as in Escape and & < > are escaped as in every text Slack reads, but
// * _ ~ ` are kept, since plain text has no formatting for them to break.
func escapePlainCut(s string, max int) string {
	if max < 1 {
		return ""
	}
	return truncate(escapeText(s, max+len("&amp;"), false), max)
}

// escape is Escape that stops once it has written more than limit characters (limit < 0: no
// limit). Its output is then a prefix of Escape(s) longer than limit.
func escape(s string, limit int) string { return escapeText(s, limit, true) }

// escapeText is escape, replacing mrkdwn's markers by look-alikes when marks is set.
func escapeText(s string, limit int, marks bool) string {
	var b strings.Builder
	if limit < 0 {
		b.Grow(len(s) + len(s)/8)
	}
	space := false
	n := 0 // characters written
	for _, r := range s {
		if limit >= 0 && n > limit {
			break
		}
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d':
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			n++
		}
		space = false
		n++
		switch r {
		case '&':
			b.WriteString("&amp;")
			n += 4
		case '<':
			b.WriteString("&lt;")
			n += 3
		case '>':
			b.WriteString("&gt;")
			n += 3
		case '*':
			b.WriteRune(mark(marks, r, '\u2217'))
		case '_':
			b.WriteRune(mark(marks, r, '\u02cd'))
		case '~':
			b.WriteRune(mark(marks, r, '\u223c'))
		case '`':
			b.WriteRune(mark(marks, r, '\u02cb'))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mark is look when marks is set, else r.
func mark(marks bool, r, look rune) rune {
	if marks {
		return look
	}
	return r
}

// truncate shortens s to at most max characters (runes, as Slack counts them), ending with "…"
// when it cut. It never cuts a rune or one of the entities &amp; &lt; &gt; in half, and drops
// the space before the ellipsis. max < 1 gives "".
func truncate(s string, max int) string {
	if max < 1 {
		return ""
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	cut, n := 0, 0
	for i := range s {
		if n == max-1 {
			cut = i
			break
		}
		n++
	}
	head := s[:cut]
	if amp := strings.LastIndexByte(head, '&'); amp >= 0 && !strings.Contains(head[amp:], ";") {
		rest := s[amp:]
		if strings.HasPrefix(rest, "&amp;") || strings.HasPrefix(rest, "&lt;") || strings.HasPrefix(rest, "&gt;") {
			head = head[:amp]
		}
	}
	return strings.TrimRightFunc(head, unicode.IsSpace) + "…"
}

// taskTitle is t's title, escaped and cut to max characters: context.title, else its type,
// else its key (Task.Title), else "(untitled task)" when every one of them escapes to nothing
// visible.
func taskTitle(t *tasks.Snapshot, max int) string {
	for _, s := range []string{t.Title, t.Type, t.Key} {
		if e := escapeCut(s, max); !isBlankText(e) {
			return e
		}
	}
	return untitledTask
}

// appendName appends s, escaped and cut to nameMax, unless it shows nothing.
func appendName(list []string, s string) []string {
	if e := escapeCut(s, nameMax); !isBlankText(e) {
		list = append(list, e)
	}
	return list
}

// errorName is a failed task's "domain/code", escaped; "" when the result has no error.
func errorName(t *tasks.Snapshot) string {
	if t.Error == nil {
		return ""
	}
	var parts []string
	parts = appendName(parts, t.Error.Domain)
	parts = appendName(parts, t.Error.Code)
	return strings.Join(parts, "/")
}

// taskFallback is Message.Text for one task: `{lead}: {title} ({tenant})`, escaped, at most
// FallbackTextTarget characters.
func taskFallback(lead string, t *tasks.Snapshot) string {
	s := lead + ": " + taskTitle(t, fallbackTitle)
	if tn := escapeCut(t.Tenant(), fallbackTenant); !isBlankText(tn) {
		s += " (" + tn + ")"
	}
	return truncate(s, FallbackTextTarget)
}

// stateWord names t's state as the list shows it: the state, "failed" for a completion with
// result code error, and "completed (warning)" for other result codes than ok.
func stateWord(t *tasks.Snapshot) string {
	switch {
	case t.Failed && t.Result != tasks.ResultError && t.Result != "":
		return "failed (" + escapeCut(string(t.Result), nameMax) + ")"
	case t.Failed:
		return "failed"
	case t.State == tasks.Completed && t.Result != "" && t.Result != tasks.ResultOK:
		return "completed (" + escapeCut(string(t.Result), nameMax) + ")"
	case t.State == "":
		return "unknown"
	}
	return escapeCut(string(t.State), nameMax)
}

// stateEmoji is the emoji shortcode of t's state and result.
func stateEmoji(t *tasks.Snapshot) string {
	switch t.State {
	case tasks.Enqueued:
		return ":hourglass_flowing_sand:"
	case tasks.Assigned:
		return ":inbox_tray:"
	case tasks.Started:
		return ":arrow_forward:"
	case tasks.Paused:
		return ":double_vertical_bar:"
	case tasks.Completed:
		if t.Failed {
			return ":x:"
		}
		switch t.Result {
		case tasks.ResultError:
			return ":x:"
		case tasks.ResultWarning:
			return ":warning:"
		case tasks.ResultCancelled, tasks.ResultAbandoned:
			return ":heavy_minus_sign:"
		case tasks.ResultTimedOut:
			return ":alarm_clock:"
		}
		return ":white_check_mark:"
	}
	return ":grey_question:"
}

// eventEmoji is the emoji shortcode of an event (t's state for completions).
func eventEmoji(ev tasks.Event, t *tasks.Snapshot) string {
	switch ev {
	case tasks.EventResumed:
		return ":repeat:"
	case tasks.EventFailed:
		return ":x:"
	case tasks.EventStuck:
		return ":rotating_light:"
	case tasks.EventCompleted:
		if t.State == tasks.Completed {
			return stateEmoji(t)
		}
		return ":white_check_mark:"
	}
	return stateEmoji(&tasks.Snapshot{State: tasks.State(ev)})
}

// eventWord is the event as announcements write it, escaped: an unknown event is shown as is.
func eventWord(ev tasks.Event) string {
	if w := escapeCut(string(ev), nameMax); !isBlankText(w) {
		return w
	}
	return "changed"
}

// capitalizeFirst upper-cases the first letter of s.
func capitalizeFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// mrkdwnBold wraps escaped text in mrkdwn bold markers; Escape guarantees it holds no '*'.
func mrkdwnBold(escaped string) string { return "*" + escaped + "*" }

// mrkdwnText is a mrkdwn text object with verbatim set, so Slack does not auto-link names or
// parse mentions in it (https://api.slack.com/reference/block-kit/composition-objects#text);
// escaped entities and date tokens are still processed.
func mrkdwnText(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

// mrkdwnSection is a section block with mrkdwn text s.
func mrkdwnSection(s string) *slack.SectionBlock {
	return slack.NewSectionBlock(mrkdwnText(s), nil, nil)
}

// slackDate formats t as a Slack date token, shown in the reader's time zone, with a UTC
// fallback: <!date^1587556443^{date_short_pretty} {time}|2020-04-22 11:54 UTC>
// (https://api.slack.com/reference/surfaces/formatting#date-formatting).
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// slackAgo formats t as a Slack date token that reads "3 minutes ago" in Slack and keeps
// being true later, with a UTC fallback.
func slackAgo(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{ago}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// humanDuration formats d, rounded down, in at most two units: "45s", "3m", "2h 5m", "3d 4h".
// Negative durations (clock skew) are "0s".
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	days, h, m := s/86400, s/3600%24, s/60%60
	switch {
	case days > 0 && h > 0:
		return fmt.Sprintf("%dd %dh", days, h)
	case days > 0:
		return fmt.Sprintf("%dd", days)
	case h > 0 && m > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	case h > 0:
		return fmt.Sprintf("%dh", h)
	case m > 0:
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%ds", s)
}
