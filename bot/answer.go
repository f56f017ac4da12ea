package bot

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks"
)

// Answerer answers /tasks commands: it runs the command's queries against the Task Manager API
// and renders the result. HTTP, Socket Mode, the demo and `taskbot tasks` all use it.
type Answerer struct {
	api      tasks.Lister
	failures tasks.Failures
	log      *slog.Logger
	metrics  *Metrics
	now      func() time.Time
}

// NewAnswerer returns an Answerer asking api, with failures the result codes that `/tasks
// failed` lists (nil: tasks.DefaultFailures). log nil discards; metrics nil means unregistered.
func NewAnswerer(api tasks.Lister, failures tasks.Failures, log *slog.Logger, metrics *Metrics) *Answerer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	return &Answerer{api: api, failures: failures, log: log, metrics: metrics, now: time.Now}
}

// Answer returns the message for a command given as the text the user typed after /tasks.
// It never fails: usage errors and API errors are answered in words.
func (a *Answerer) Answer(ctx context.Context, text string) Message {
	cmd, err := ParseCommand(text)
	if err != nil {
		a.metrics.Commands.WithLabelValues("usage").Inc()
		return RenderUsage(err)
	}
	if cmd.Help {
		a.metrics.Commands.WithLabelValues("help").Inc()
		return RenderUsage(nil)
	}
	a.metrics.Commands.WithLabelValues("list").Inc()
	cmd.Failures = a.failures
	return a.List(ctx, cmd)
}

// List runs cmd's queries and renders the tasks; an API error is rendered in words.
func (a *Answerer) List(ctx context.Context, cmd Command) Message {
	l, err := a.Fetch(ctx, cmd)
	if err != nil {
		a.log.Warn("answer /tasks", "command", cmd.String(), "err", err, "fix", tasks.Fix(err))
		return RenderAPIError(cmd, err)
	}
	m := RenderList(cmd, l.Tasks, l.More, a.now())
	if l.Incomplete {
		m = WithIncompleteNotice(m)
	}
	return m
}

// Listing is what Fetch found.
type Listing struct {
	// Tasks are the tasks of every query, merged by key, newest update first.
	Tasks []tasks.Task
	// More: the API had more tasks than were fetched (Query.MaxTasks).
	More bool
	// Incomplete: the API stopped a listing short (empty pages naming a next page); tasks may
	// be missing, and the answer must say so rather than claim there are none.
	Incomplete bool
}

// Fetch runs cmd's queries (one per alternative: "paused failed" needs two) and returns the
// tasks merged by key, newest update first, and whether the listing is short.
func (a *Answerer) Fetch(ctx context.Context, cmd Command) (Listing, error) {
	if cmd.Failures == nil {
		cmd.Failures = a.failures
	}
	var lists [][]tasks.Task
	var l Listing
	for _, q := range cmd.Queries() {
		res, err := a.api.List(ctx, q)
		if err != nil {
			return Listing{}, err
		}
		l.More = l.More || res.More
		l.Incomplete = l.Incomplete || res.Incomplete
		lists = append(lists, res.Tasks)
	}
	l.Tasks = MergeTasks(lists...)
	return l, nil
}

// IncompleteNotice is what a list says when the API stopped sending tasks partway.
const IncompleteNotice = ":warning: The Task Manager API stopped sending tasks partway (it kept sending empty pages), so this list may be incomplete; try again in a minute."

// WithIncompleteNotice is m with IncompleteNotice as its second block (after the header) and in
// its fallback text. RenderList keeps a block free for it.
func WithIncompleteNotice(m Message) Message {
	notice := mrkdwnSection(IncompleteNotice)
	if len(m.Blocks) > 0 {
		m.Blocks = append(m.Blocks[:1:1], append([]slack.Block{notice}, m.Blocks[1:]...)...)
	} else {
		m.Blocks = []slack.Block{notice}
	}
	m.Text = truncate(m.Text+" (may be incomplete)", FallbackTextTarget)
	return m
}

// RenderAPIError explains a failed query in words, with what the user can do about it (from
// the Acronis error table, through tasks.Explain): ":warning: Could not fetch tasks (paused):
// the API client lacks permission to read tasks (GET /tasks: 403 Forbidden); the API client
// lacks the scope …."
func RenderAPIError(cmd Command, err error) Message {
	p, ok := tasks.Explain(err)
	if !ok {
		p.What = "the Task Manager API failed"
	}
	// What and the error may hold the API's text: escaped in full. The fix is taskbot's own
	// words, which name variables such as ACRONIS_CLIENT_ID: only & < > are escaped.
	why := Escape(p.What)
	if detail := err.Error(); !strings.Contains(p.What, detail) {
		why += " (" + Escape(detail) + ")"
	}
	if p.Fix != "" {
		why += "; " + escapeEntities(p.Fix)
	}
	text := ":warning: Could not fetch tasks (" + Escape(cmd.Describe()) + "): " + why
	if !strings.HasSuffix(why, "?") && !strings.HasSuffix(why, ".") {
		text += "."
	}
	return Message{
		Text:   truncate(text, 300),
		Blocks: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate(text, 3000), false, false), nil, nil)},
	}
}

// escapeEntities escapes only &, < and > (https://api.slack.com/reference/surfaces/formatting#escaping),
// for taskbot's own text that may name ACRONIS_CLIENT_ID and must keep its underscores.
func escapeEntities(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
