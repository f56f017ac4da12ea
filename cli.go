package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/bot"
	"github.com/taskbot/taskbot/tasks"
)

// oneShot is `taskbot tasks [-json] [ARGS…]`: the query a `/tasks ARGS` slash command would run,
// printed as text (or, with -json, as the Slack message payload {"text":…,"blocks":[…]}).
func oneShot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tasks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the Slack message payload instead of text")
	if err := fs.Parse(args); err != nil {
		return &usageError{"usage: taskbot tasks [-json] [STATE…|failed|help]"}
	}
	words := fs.Args()
	// Allow the flag after the words too: `taskbot tasks paused -json`.
	for i := 0; i < len(words); i++ {
		if words[i] == "-json" || words[i] == "--json" {
			*asJSON = true
			words = append(words[:i:i], words[i+1:]...)
			i--
		}
	}
	cmd, err := bot.ParseCommand(strings.Join(words, " "))
	if err != nil {
		return &usageError{plainUsage(err.Error())}
	}
	if cmd.Help {
		fmt.Fprintln(stdout, plainUsage(bot.Usage()))
		return nil
	}
	cfg, err := loadConfig(needs{acronis: true})
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	client, err := newTasksClient(cfg, log)
	if err != nil {
		return err
	}
	a := &bot.Answerer{API: client, Logger: log}
	ts, more, err := a.Fetch(ctx, cmd)
	if err != nil {
		return fmt.Errorf("%s: %w", strings.TrimSpace("tasks "+cmd.String()), err)
	}
	m := bot.RenderList(cmd, ts, more, time.Now())
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Text   string        `json:"text"`
			Blocks []slack.Block `json:"blocks"`
		}{m.Text, m.Blocks})
	}
	fmt.Fprintln(stdout, bot.PlainText(m))
	return nil
}

// plainUsage turns Slack mrkdwn usage into terminal text.
func plainUsage(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "`", "", "*", "").Replace(s)
}

// check is `taskbot check`: read-only checks of the configuration against Acronis and Slack,
// each reported on a line with what to do when it fails. Exit status 1 when one fails.
func check(ctx context.Context, stdout io.Writer) error {
	cfg, err := loadConfig(needs{acronis: true, slack: true})
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	failed := 0
	report := func(ok bool, what, detail string) {
		mark := "ok  "
		if !ok {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(stdout, "%s %s", mark, what)
		if detail != "" {
			fmt.Fprintf(stdout, ": %s", detail)
		}
		fmt.Fprintln(stdout)
	}

	client, err := newTasksClient(cfg, log)
	if err != nil {
		return err
	}
	if err := client.Token(ctx); err != nil {
		report(false, "Acronis sign-in at "+cfg.AcronisURL, explainAcronis(err))
		fmt.Fprintln(stdout, "skip the task list check (no token)")
	} else {
		report(true, "Acronis sign-in at "+cfg.AcronisURL, "the API client got a token")
		res, err := client.List(ctx, tasks.Query{States: []tasks.State{tasks.Started, tasks.Paused}, Limit: 10, MaxTasks: 10})
		if err != nil {
			report(false, "Task Manager API: list tasks", explainAcronis(err))
		} else {
			n := fmt.Sprint(len(res.Tasks))
			if res.More {
				n += "+"
			}
			report(true, "Task Manager API: list tasks", n+" tasks in progress now")
		}
	}

	api := newSlackClient(cfg)
	auth, err := api.AuthTestContext(ctx)
	if err != nil {
		report(false, "Slack bot token", explainSlack(err))
		fmt.Fprintln(stdout, "skip the channel check (the bot token does not work)")
	} else {
		report(true, "Slack bot token", fmt.Sprintf("signed in as @%s in workspace %s", auth.User, auth.Team))
		ch, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: cfg.SlackChannel})
		switch {
		case err != nil:
			report(false, "Slack channel "+cfg.SlackChannel, explainSlack(err))
		case !ch.IsMember:
			report(false, "Slack channel "+cfg.SlackChannel, fmt.Sprintf("the bot is not a member of #%s; invite it with /invite @%s in that channel", ch.Name, auth.User))
		default:
			report(true, "Slack channel "+cfg.SlackChannel, fmt.Sprintf("the bot is a member of #%s", ch.Name))
		}
	}
	if cfg.SlackAppToken != "" {
		if _, _, err := api.StartSocketModeContext(ctx); err != nil {
			report(false, "Slack app-level token (Socket Mode)", explainSlack(err))
		} else {
			report(true, "Slack app-level token (Socket Mode)", "Socket Mode connections can be opened")
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d check%s failed", failed, plural(failed))
	}
	fmt.Fprintln(stdout, "all checks passed")
	return nil
}

func explainAcronis(err error) string {
	var te *tasks.TokenError
	var ae *tasks.APIError
	switch {
	case errors.As(err, &te) && (te.StatusCode == 400 || te.StatusCode == 401):
		return te.Error() + " — check ACRONIS_CLIENT_ID and ACRONIS_CLIENT_SECRET (console → Settings → API clients) and that ACRONIS_URL is your data center"
	case errors.As(err, &te):
		return te.Error()
	case errors.As(err, &ae) && ae.StatusCode == 403:
		return ae.Error() + " — the API client needs a role that may read tasks (Task Manager viewer or admin; the default API client role of a partner or customer administrator works)"
	case errors.As(err, &ae) && ae.StatusCode == 404:
		return ae.Error() + " — is ACRONIS_URL your data center (e.g. https://eu2-cloud.acronis.com)?"
	}
	return err.Error()
}

func explainSlack(err error) string {
	if se := bot.ClassifySlackError(err); se != nil && se.Hint != "" {
		return se.Code + " — " + se.Hint
	}
	var sr slack.SlackErrorResponse
	if errors.As(err, &sr) && sr.Err == "missing_scope" {
		return "missing_scope — add the scopes channels:read and groups:read and reinstall the app"
	}
	if errors.As(err, &sr) {
		return sr.Err
	}
	if se := bot.ClassifySlackError(err); se != nil && se.Code == "network" {
		return "cannot reach Slack at SLACK_API_URL (" + rootCause(err) + ")"
	}
	return err.Error()
}

// rootCause is the innermost error's text, e.g. "connection refused".
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// healthcheck is `taskbot healthcheck`: exit 0 when GET /healthz on TASKBOT_LISTEN_ADDR answers
// 200 within 3 seconds (Docker HEALTHCHECK in an image without a shell or curl).
func healthcheck(ctx context.Context) error {
	cfg, err := loadConfig(needs{})
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(cfg.ListenAddr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %s", resp.Status)
	}
	return nil
}
