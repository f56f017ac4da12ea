package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/bot"
	"github.com/taskbot/taskbot/state"
	"github.com/taskbot/taskbot/tasks"
)

// tasksUsage is the usage of `taskbot tasks`.
const tasksUsage = "usage: taskbot tasks [-json] [STATE…] [failed] [tenant:NAME…] | show ID | help"

// oneShot is `taskbot tasks [-json] [ARGS…]`: the query a `/tasks ARGS` slash command would run —
// a listing (tenant: words included) or `show ID` — printed as text (or, with -json, as the
// Slack message payload {"text":…,"blocks":[…]}). Each argument is one word: a tenant: word
// whose name has spaces needs no inner quotes (`tenant:"Acme Corp"` in a shell is the argument
// tenant:Acme Corp). The verbs that change or list subscriptions and mutes are a usage error:
// they belong to a channel, so they are done in Slack. An API failure, and a task `show` does
// not find, are errors (exit 1) that say why.
func oneShot(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tasks", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the Slack message payload instead of text")
	fs.SetOutput(io.Discard) // the one usage line below says it all
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, tasksUsage)
			return nil
		}
		return &usageError{tasksUsage}
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
	cmd, err := bot.ParseCommand(commandText(words))
	if err != nil {
		return &usageError{plainUsage(err.Error())}
	}
	switch cmd.Verb {
	case bot.Help:
		fmt.Fprintf(stdout, "%s\n\nThe slash command it runs, and the rest of /tasks:\n%s\n", tasksUsage, plainUsage(bot.Usage()))
		return nil
	case bot.List, bot.Show:
	default:
		return &usageError{"subscribe, unsubscribe, subscriptions, mute, mutes, unmute and scope are made in Slack, in the channel they are for: " +
			"type /tasks there (/tasks help lists the words); taskbot tasks lists tasks and shows one\n" + tasksUsage}
	}
	cfg, err := loadConfig(getenv, needs{acronis: true})
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	client, err := newTasksClient(cfg, log, commandRetries)
	if err != nil {
		return err
	}
	var m bot.Message
	if cmd.Verb == bot.Show {
		t, err := client.Task(ctx, cmd.ID)
		switch {
		case tasks.IsNotFound(err):
			return fmt.Errorf("tasks show %s: no task %s was found (show takes a task's numeric id or its uuid, as the Acronis console shows them; a task may be gone some time after it completed)", cmd.ID, cmd.ID)
		case err != nil:
			return withFix(fmt.Errorf("tasks show %s: %w", cmd.ID, err))
		}
		m = bot.RenderTask(*t, cfg.Failures, time.Now())
	} else {
		l, err := bot.NewAnswerer(bot.AnswererConfig{API: client, Failures: cfg.Failures, Logger: log}).Fetch(ctx, cmd)
		if err != nil {
			return withFix(fmt.Errorf("%s: %w", strings.TrimSpace("tasks "+cmd.String()), err))
		}
		cmd.Failures = cfg.Failures
		m = bot.RenderList(cmd, l.Tasks, l.More, time.Now())
		if l.Incomplete {
			m = bot.WithIncompleteNotice(m)
		}
	}
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

// withFix is err with the fix the Acronis error table has for it, if any, in parentheses.
func withFix(err error) error {
	if fix := tasks.Fix(err); fix != "" {
		return fmt.Errorf("%w (%s)", err, fix)
	}
	return err
}

// commandText joins the arguments of `taskbot tasks` into the text of a slash command. Each
// argument is one word: the shell has already taken the quotes off `tenant:"Acme Corp"`, so
// a tenant: or plan: value with white space or a comma is quoted again for the parser
// (unless it already starts with a quote: `'tenant:"Acme Corp"'`).
func commandText(args []string) string {
	words := make([]string, len(args))
	for i, a := range args {
		words[i] = a
		key, value, ok := strings.Cut(a, ":")
		if !ok || (!strings.EqualFold(key, "tenant") && !strings.EqualFold(key, "plan")) ||
			strings.HasPrefix(value, `"`) || strings.HasPrefix(value, "\u201c") || strings.HasPrefix(value, "\u201d") {
			continue
		}
		if strings.ContainsFunc(value, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
			words[i] = key + `:"` + value + `"`
		}
	}
	return strings.Join(words, " ")
}

// plainUsage turns Slack mrkdwn usage into terminal text.
func plainUsage(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "`", "", "*", "").Replace(s)
}

// Limits of `taskbot check`.
const (
	// checkLimit is how long each check may take, so that a server that accepts connections and
	// never answers fails its own check and leaves the others their time.
	checkLimit = 15 * time.Second
	// maxClockSkew is the largest difference between the host clock and a server's Date header
	// that passes. Slack refuses requests whose signature timestamp is more than 5 minutes off
	// (https://api.slack.com/authentication/verifying-requests-from-slack); a minute leaves room.
	maxClockSkew = time.Minute
)

// check is `taskbot check`: read-only checks of the configuration against Acronis and Slack,
// each reported on a line with what to do when it fails, each with its own time limit
// (checkLimit). Exit status 1 when one fails. It never posts, joins or writes anything: the
// Slack calls are auth.test, conversations.info and, with SLACK_APP_TOKEN,
// apps.connections.open; the clock checks are plain GETs without credentials.
func check(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv, needs{acronis: true, slack: true})
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := &checkRun{out: stdout, limit: checkLimit}

	client, err := newTasksClient(cfg, log, commandRetries)
	if err != nil {
		return err
	}
	signIn := c.step(ctx, "Acronis sign-in at "+cfg.AcronisURL, func(ctx context.Context) (bool, string) {
		if err := client.Token(ctx); err != nil {
			return false, explainAcronis(ctx, err)
		}
		return true, "the API client got a token"
	})
	switch signIn {
	case passed:
		c.step(ctx, "Task Manager API: list tasks", func(ctx context.Context) (bool, string) {
			res, err := client.List(ctx, tasks.Query{States: []tasks.State{tasks.Started, tasks.Paused}, Limit: 10, MaxTasks: 10})
			if err != nil {
				return false, explainAcronis(ctx, err)
			}
			n, noun := fmt.Sprint(len(res.Tasks)), "tasks"
			if len(res.Tasks) == 1 && !res.More {
				noun = "task"
			}
			if res.More {
				n += "+"
			}
			return true, n + " " + noun + " in progress now"
		})
	case failed:
		c.skip("the task list check (no token)")
	case timedOut:
		c.skip("the task list check and the Acronis clock check (no answer from ACRONIS_URL)")
	}
	// The clock check is a plain GET: it is worth trying unless ACRONIS_URL did not answer at all.
	if signIn != timedOut {
		c.step(ctx, "Host clock vs Acronis at "+cfg.AcronisURL, c.clock(cfg.AcronisURL))
	}

	api := newSlackClient(cfg)
	var auth *slack.AuthTestResponse
	token := c.step(ctx, "Slack bot token", func(ctx context.Context) (bool, string) {
		var err error
		if auth, err = api.AuthTestContext(ctx); err != nil {
			return false, bot.ExplainSlack("auth.test", err)
		}
		if auth.User == "" || auth.UserID == "" {
			return false, "SLACK_API_URL answered auth.test without naming a bot user; is it the Slack Web API (e.g. https://slack.com/api/)?"
		}
		return true, fmt.Sprintf("signed in as @%s in workspace %s", auth.User, cmp.Or(auth.Team, "(unnamed)"))
	})
	// The channels announcements go to: SLACK_CHANNEL, and those of subscriptions (read from the
	// state file, which a running taskbot holds: then they are not checked here).
	channels := []string{cfg.SlackChannel}
	subs, scopes, serr := state.ReadSettings(cfg.DBPath, time.Second)
	if errors.Is(serr, state.ErrSchema) {
		c.step(ctx, "State file "+cfg.DBPath, func(context.Context) (bool, string) { return false, serr.Error() })
	}
	for _, sub := range subs {
		if !slices.Contains(channels, sub.Channel) {
			channels = append(channels, sub.Channel)
		}
	}
	switch token {
	case passed:
		for _, channel := range channels {
			c.step(ctx, "Slack channel "+channel, func(ctx context.Context) (bool, string) {
				ch, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: channel})
				switch {
				case err != nil:
					return false, bot.ExplainSlack("conversations.info", err)
				case !ch.IsMember:
					return false, fmt.Sprintf("the bot is not a member of #%s; invite it with /invite @%s in that channel", cmp.Or(ch.Name, channel), auth.User)
				}
				return true, fmt.Sprintf("the bot is a member of #%s", cmp.Or(ch.Name, channel))
			})
		}
		// The scoped channels: where people of another organization may use /tasks, and what
		// they see there. Listed, not judged: the bot need not be a member to answer there.
		for _, sc := range scopes {
			c.step(ctx, "Scoped channel "+sc.Channel, func(ctx context.Context) (bool, string) {
				name := sc.Channel
				if ch, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: sc.Channel}); err == nil && ch.Name != "" {
					name = "#" + ch.Name
				}
				detail := fmt.Sprintf("%s shows only %s", name, strings.Join(quoteNames(sc.Tenants), ", "))
				if sc.By != "" {
					detail += fmt.Sprintf(" (scoped by %s, %s)", sc.By, sc.At.UTC().Format("2006-01-02 15:04 UTC"))
				}
				return true, detail
			})
		}
		if errors.Is(serr, state.ErrLocked) {
			c.skip("the subscribed and scoped channels (a running taskbot holds the state file " + cfg.DBPath + "; its /readyz names a channel it cannot post to)")
		} else if serr != nil {
			c.skip("the subscribed and scoped channels (" + serr.Error() + ")")
		}
		// users.info tells people of another organization (Slack Connect) from the bot's own;
		// without it, taskbot refuses every command it cannot place.
		c.step(ctx, "Slack users.info (who is from another organization)", func(ctx context.Context) (bool, string) {
			if _, err := api.GetUserInfoContext(ctx, auth.UserID); err != nil {
				return false, bot.ExplainSlack("users.info", err)
			}
			return true, "the bot can tell people of other organizations (Slack Connect) from its own"
		})
	case failed:
		c.skip("the channel check (the bot token does not work)")
	case timedOut:
		c.skip("the channel check and the Slack clock check (no answer from SLACK_API_URL)")
	}
	if token != timedOut {
		c.step(ctx, "Host clock vs Slack at "+cfg.SlackAPIURL, c.clock(cfg.SlackAPIURL))
	}
	if cfg.SlackAppToken != "" {
		c.step(ctx, "Slack app-level token (Socket Mode)", func(ctx context.Context) (bool, string) {
			if _, _, err := api.StartSocketModeContext(ctx); err != nil {
				return false, bot.ExplainSlack("apps.connections.open", err)
			}
			return true, "Socket Mode connections can be opened"
		})
	}
	if c.failed > 0 {
		return fmt.Errorf("%d check%s failed", c.failed, plural(c.failed))
	}
	fmt.Fprintln(stdout, "all checks passed")
	return nil
}

// checkOutcome is how one check of `taskbot check` ended.
type checkOutcome int

const (
	passed   checkOutcome = iota
	failed                // the check got an answer, and it was wrong
	timedOut              // the check ran out of its time limit
)

// checkRun prints the lines of `taskbot check` ("ok   what: detail", "FAIL what: detail",
// "skip …") and counts the failures.
type checkRun struct {
	out    io.Writer
	limit  time.Duration // of each check
	failed int
	last   checkOutcome // of the latest step
}

// step runs one check under its own time limit, derived from ctx, and prints its line. fn
// reports whether the check passed and the detail to print; a check that failed because its
// time ran out says so in front of fn's detail.
func (c *checkRun) step(ctx context.Context, what string, fn func(ctx context.Context) (ok bool, detail string)) checkOutcome {
	sctx, cancel := context.WithTimeout(ctx, c.limit)
	defer cancel()
	ok, detail := fn(sctx)
	c.last = passed
	mark := "ok  "
	if !ok {
		mark, c.last = "FAIL", failed
		c.failed++
		if ctx.Err() == nil && errors.Is(sctx.Err(), context.DeadlineExceeded) {
			c.last = timedOut
			detail = fmt.Sprintf("no answer within %v (%s)", c.limit, detail)
		}
	}
	fmt.Fprintf(c.out, "%s %s", mark, what)
	if detail != "" {
		fmt.Fprintf(c.out, ": %s", detail)
	}
	fmt.Fprintln(c.out)
	return c.last
}

// skip prints that the checks named by what were not run.
func (c *checkRun) skip(what string) { fmt.Fprintln(c.out, "skip "+what) }

// clock is the check that the host clock is within maxClockSkew of the Date header with which
// rawURL answers a plain GET (no credentials, no redirects followed: any answer has a Date).
func (c *checkRun) clock(rawURL string) func(ctx context.Context) (bool, string) {
	return func(ctx context.Context) (bool, string) {
		skew, err := clockSkew(ctx, &http.Client{Timeout: c.limit}, rawURL)
		switch {
		case errors.Is(err, errNoDate):
			return true, "not compared (" + err.Error() + ")"
		case err != nil:
			return false, err.Error()
		}
		off := skew.Abs().Round(time.Second)
		if off > maxClockSkew {
			side := "ahead of"
			if skew < 0 {
				side = "behind"
			}
			return false, fmt.Sprintf("the host clock is %v off (%s the server's); enable time synchronisation (NTP)", off, side)
		}
		return true, fmt.Sprintf("the host clock is within %v of the server's", max(off, time.Second))
	}
}

// errNoDate is returned by clockSkew for an answer without a valid Date header.
var errNoDate = errors.New("the answer has no valid Date header")

// clockSkew sends GET rawURL with hc and returns how far the host clock is from the answer's
// Date header (RFC 9110, section 6.6.1; whole seconds, so the result is good to about half a
// second): positive when the host clock is ahead. The host's time is taken halfway through the
// request. Any status will do, and redirects are
// not followed (a 3xx carries a Date too). Errors: the request failed ("GET host: …"), or
// errNoDate.
func clockSkew(ctx context.Context, hc *http.Client, rawURL string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", rawURL, err)
	}
	noRedirects := *hc
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	sent := time.Now()
	resp, err := noRedirects.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is in our own prefix
		}
		return 0, fmt.Errorf("GET %s: %w", req.URL.Redacted(), err)
	}
	received := time.Now()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return 0, fmt.Errorf("GET %s: %s: %w", req.URL.Redacted(), resp.Status, errNoDate)
	}
	// Date is truncated to the second: the server's clock read between date and date+1s.
	host := sent.Add(received.Sub(sent) / 2)
	return host.Sub(date.Add(500 * time.Millisecond)), nil
}

// explainAcronis is err with its fix from the Acronis error table: "GET /tasks: 403 … — the
// API client lacks the scope …". An error of a check that ran out of time (ctx ended) gets no
// fix: the table's advice for a timeout is about a slow API, not an unreachable one.
func explainAcronis(ctx context.Context, err error) string {
	if fix := tasks.Fix(err); fix != "" && ctx.Err() == nil {
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

// quoteNames are names as a tenant: word writes them: quoted when they hold a space.
func quoteNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		if strings.ContainsAny(n, " \t,") {
			n = strconv.Quote(n)
		}
		out[i] = n
	}
	return out
}
