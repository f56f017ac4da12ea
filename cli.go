package main

import (
	"context"
	"encoding/json"
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
func oneShot(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
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
	cfg, err := loadConfig(getenv, needs{acronis: true})
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	client, err := newTasksClient(cfg, log)
	if err != nil {
		return err
	}
	ts, more, err := bot.NewAnswerer(client, cfg.Failures, log, nil).Fetch(ctx, cmd)
	if err != nil {
		err = fmt.Errorf("%s: %w", strings.TrimSpace("tasks "+cmd.String()), err)
		if fix := tasks.Fix(err); fix != "" {
			err = fmt.Errorf("%w (%s)", err, fix)
		}
		return err
	}
	cmd.Failures = cfg.Failures
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
func check(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv, needs{acronis: true, slack: true})
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
		report(false, "Slack bot token", bot.ExplainSlack("auth.test", err))
		fmt.Fprintln(stdout, "skip the channel check (the bot token does not work)")
	} else {
		report(true, "Slack bot token", fmt.Sprintf("signed in as @%s in workspace %s", auth.User, auth.Team))
		ch, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: cfg.SlackChannel})
		switch {
		case err != nil:
			report(false, "Slack channel "+cfg.SlackChannel, bot.ExplainSlack("conversations.info", err))
		case !ch.IsMember:
			report(false, "Slack channel "+cfg.SlackChannel, fmt.Sprintf("the bot is not a member of #%s; invite it with /invite @%s in that channel", ch.Name, auth.User))
		default:
			report(true, "Slack channel "+cfg.SlackChannel, fmt.Sprintf("the bot is a member of #%s", ch.Name))
		}
	}
	if cfg.SlackAppToken != "" {
		if _, _, err := api.StartSocketModeContext(ctx); err != nil {
			report(false, "Slack app-level token (Socket Mode)", bot.ExplainSlack("apps.connections.open", err))
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

// explainAcronis is err with its fix from the Acronis error table: "GET /tasks: 403 … — the
// API client lacks the scope …".
func explainAcronis(err error) string {
	if fix := tasks.Fix(err); fix != "" {
		return err.Error() + " — " + fix
	}
	return err.Error()
}

// healthcheck is `taskbot healthcheck`: exit 0 when GET /healthz on TASKBOT_LISTEN_ADDR answers
// 200 within 3 seconds (Docker HEALTHCHECK in an image without a shell or curl).
func healthcheck(ctx context.Context, getenv func(string) string) error {
	cfg, err := loadConfig(getenv, needs{})
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
