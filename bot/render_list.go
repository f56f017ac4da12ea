package bot

import (
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks"
)

// ListButtons are the values of a task list's buttons, made (and signed) by the caller: each
// is sent back as it is when its button is clicked. "" leaves a button out, and so does a
// value longer than MaxButtonValue (Slack would refuse the message, and a signed value cannot
// be cut).
type ListButtons struct {
	// Refresh is the value of Refresh (RefreshActionID): the same list again, from the top.
	Refresh string
	// Next is the value of Next page (NextActionID), set when more tasks match than this
	// page and the ones before it show.
	Next string
	// Share is the value of Share (ShareActionID), which posts the answer for everyone.
	Share string
}

// ListPage is one page of the answer to a `/tasks` listing.
type ListPage struct {
	// Tasks are this page's tasks, shown in the order given (MergeTasks orders newest first);
	// at most MaxListedTasks of them, the rest are counted.
	Tasks []tasks.Task
	// Offset is how many tasks the pages before this one showed (0 for the first page).
	Offset int
	// Total is how many tasks match, as far as they were fetched; never taken for less than
	// Offset plus len(Tasks).
	Total int
	// More reports that the API had more tasks than were fetched: Total is a lower bound
	// ("301+").
	More bool
	// Searched, when not 0, is how many of the most recently updated tasks of each state a
	// tenant listing fetched and filtered (the API cannot filter by tenant): with More, the
	// tenant's older tasks were not searched, and the answer says so.
	Searched int
	// Buttons are the values of the page's buttons.
	Buttons ListButtons
}

// RenderListPage renders one page of the answer to a `/tasks` listing: a header with what was
// asked and how many match ("Tasks paused — 301", "301+" when p.More), one section per task
// (see RenderList), a context line with the page's place in the list when it does not show
// them all ("tasks 46–90 of 301 · newest first · as of <date>"; else "as of <date>"), and an
// actions block with Refresh, Next page and Share, each only when its value in p.Buttons is
// set (action_ids RefreshActionID, NextActionID, ShareActionID). The message has at most
// MaxBlocks-2 blocks, so a caller can insert a notice (WithIncompleteNotice). now (any zone)
// is used for relative times and the "as of" date. Help commands get the usage.
func RenderListPage(cmd Command, p ListPage, now time.Time) Message {
	if cmd.Help {
		return RenderUsage(nil)
	}
	m := listPage(cmd, p, now)
	m.Blocks = appendActions(m.Blocks,
		button(RefreshActionID, "Refresh", p.Buttons.Refresh),
		button(NextActionID, "Next page", p.Buttons.Next),
		button(ShareActionID, "Share", p.Buttons.Share))
	return m
}

// listPage is RenderListPage without its buttons.
func listPage(cmd Command, p ListPage, now time.Time) Message {
	shown := p.Tasks[:min(len(p.Tasks), MaxListedTasks)]
	offset := min(max(p.Offset, 0), math.MaxInt-len(p.Tasks)) // odd offsets: no overflow below
	total := max(p.Total, offset+len(p.Tasks))
	count := strconv.Itoa(total)
	if p.More {
		count += "+"
	}

	// The count is what the reader looks for: a long description (many tenants) is cut, the
	// count never.
	desc := cmd.Describe() // plain text; escaped below for each use
	m := Message{Text: escapeCut("Tasks "+desc, FallbackTextTarget-utf8.RuneCountInString(": "+count)) + ": " + count}
	head := " — " + count
	m.Blocks = append(m.Blocks, slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType,
		escapePlainCut("Tasks "+desc, MaxHeaderText-utf8.RuneCountInString(head))+head, true, false)))

	if len(shown) == 0 {
		// "paused tasks", but "tasks paused for Acme Corp" when the description names tenants.
		what := escapeCut(desc, 500) + " tasks"
		if len(cmd.Tenants) > 0 {
			what = "tasks " + escapeCut(desc, 500)
		}
		var empty string
		switch {
		case offset > 0:
			empty = "No more " + what + ": the list has changed since the page before; Refresh shows it again from the newest."
		case p.More && p.Searched > 0:
			empty = fmt.Sprintf("No %s among the %s most recently updated tasks of each state; older ones were not searched. Name fewer states to search further back.", what, thousands(p.Searched))
		case p.More:
			empty = "No " + what + " on the first page; the API has more."
		case cmd.IsDefault():
			empty = "No tasks in progress right now."
		default:
			empty = "No " + what + " right now."
		}
		m.Blocks = append(m.Blocks, mrkdwnSection(empty))
	}
	for i := range shown {
		snap := tasks.NewSnapshot(&shown[i], cmd.Failures)
		m.Blocks = append(m.Blocks, mrkdwnSection(listEntry(&snap, now)))
	}

	footer := "as of " + slackDate(now)
	if len(shown) > 0 && (offset > 0 || len(shown) < total || p.More) {
		footer = fmt.Sprintf("tasks %d–%d of %s · newest first · %s", offset+1, offset+len(shown), count, footer)
	}
	if len(shown) > 0 && p.More && p.Searched > 0 {
		footer += fmt.Sprintf(" · among the %s most recently updated tasks of each state", thousands(p.Searched))
	}
	m.Blocks = append(m.Blocks, slack.NewContextBlock("", mrkdwnText(footer)))
	return m
}

// thousands formats n with commas between thousands: 2000 → "2,000".
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
