package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks"
)

// Answerer answers /tasks commands: it runs the command's queries against the Task Manager API
// and renders the result. HTTP, Socket Mode, the demo and `taskbot tasks` all use it.
type Answerer struct {
	API     Lister
	Logger  *slog.Logger
	Metrics *Metrics
	Now     func() time.Time
}

// Answer returns the message for a command given as the text the user typed after /tasks.
// It never fails: usage errors and API errors are answered in words.
func (a *Answerer) Answer(ctx context.Context, text string) Message {
	cmd, err := ParseCommand(text)
	if err != nil {
		a.count("usage")
		return RenderUsage(err)
	}
	if cmd.Help {
		a.count("help")
		return RenderUsage(nil)
	}
	a.count("list")
	return a.List(ctx, cmd)
}

// List runs cmd's queries and renders the tasks; an API error is rendered in words.
func (a *Answerer) List(ctx context.Context, cmd Command) Message {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	ts, more, err := a.Fetch(ctx, cmd)
	if err != nil {
		if a.Logger != nil {
			a.Logger.Warn("answer /tasks", "command", cmd.String(), "err", err)
		}
		return apiErrorMessage(cmd, err)
	}
	return RenderList(cmd, ts, more, now())
}

// Fetch runs cmd's queries (one per alternative: "paused failed" needs two) and returns the
// tasks merged by key, newest update first, and whether more existed than were fetched.
func (a *Answerer) Fetch(ctx context.Context, cmd Command) ([]tasks.Task, bool, error) {
	var lists [][]tasks.Task
	more := false
	for _, q := range cmd.Queries() {
		res, err := a.API.List(ctx, q)
		if err != nil {
			return nil, false, err
		}
		more = more || res.More
		lists = append(lists, res.Tasks)
	}
	return MergeTasks(lists...), more, nil
}

func (a *Answerer) count(kind string) {
	if a.Metrics != nil {
		a.Metrics.Commands.WithLabelValues(kind).Inc()
	}
}

// apiErrorMessage explains a failed query in words, with what the user can do about it.
func apiErrorMessage(cmd Command, err error) Message {
	var why string
	var ae *tasks.APIError
	var te *tasks.TokenError
	switch {
	case errors.As(err, &te):
		why = fmt.Sprintf("taskbot could not sign in to Acronis (%s); check ACRONIS_CLIENT_ID and ACRONIS_CLIENT_SECRET", Escape(te.Error()))
	case errors.As(err, &ae) && ae.StatusCode == 403:
		why = "the API client lacks permission to read tasks; give it a role with the Task Manager viewer (or admin) scope"
	case errors.As(err, &ae):
		why = fmt.Sprintf("the Task Manager API answered %s", Escape(ae.Error()))
	case errors.Is(err, context.Canceled):
		why = "taskbot is shutting down; try again in a moment"
	case errors.Is(err, tasks.ErrTimeout) || errors.Is(err, context.DeadlineExceeded):
		why = "the Task Manager API did not answer in time; try again in a minute"
	default:
		why = fmt.Sprintf("the Task Manager API could not be reached (%s); check ACRONIS_URL and the network", Escape(err.Error()))
	}
	text := fmt.Sprintf(":warning: Could not fetch tasks (%s): %s.", Escape(cmd.Describe()), why)
	return Message{
		Text:   truncate(text, 300),
		Blocks: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate(text, 3000), false, false), nil, nil)},
	}
}
