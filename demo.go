package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/taskbot/taskbot/bot"
	"github.com/taskbot/taskbot/state"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
	"github.com/taskbot/taskbot/tasks/announce"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// The demo's Slack: the channel announcements go to (SLACK_CHANNEL) and whose lines without a
// channel are typed in, and the user who types them.
const (
	demoChannel = "#demo"
	// demoStuckAfter is the demo's TASKBOT_STUCK_AFTER for paused tasks.
	demoStuckAfter = 20 * time.Second
	demoUser       = "U0DEMO"
)

// demo is `taskbot demo [-for D] [-every D]`: the whole bot against an in-process simulated
// Task Manager API (tasks/taskstest) with the tasks of two tenants, announcements printed to
// stdout as they would read in Slack, each under the channel it went to, and `/tasks …` lines
// from stdin answered on stdout as the bot answers them in Slack: typed by demoUser in
// demoChannel, or in the channel a line starts with (`#beta /tasks subscribe …`).
// Subscriptions, mutes and buttons' values live in a temporary state file; confirmations of
// changes are printed as messages in their channel, and announcements a mute dropped are
// shown as such. It needs no configuration.
func demo(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	const demoUsage = "usage: taskbot demo [-for DURATION] [-every DURATION]\n  -for    stop after this long, e.g. 1m (default: run until Ctrl-C)\n  -every  how often the simulated tasks change state (default 3s)"
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dur := fs.Duration("for", 0, "")
	every := fs.Duration("every", 3*time.Second, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, demoUsage)
			return nil
		}
		return &usageError{err.Error() + "\n" + demoUsage}
	}
	switch {
	case fs.NArg() > 0:
		return &usageError{fmt.Sprintf("demo takes no arguments (got %q)\n%s", fs.Arg(0), demoUsage)}
	case *dur < 0:
		return &usageError{"-for must not be negative\n" + demoUsage}
	case *every <= 0:
		return &usageError{"-every must be greater than zero\n" + demoUsage}
	}
	if *dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *dur)
		defer cancel()
	}
	out := &lockedWriter{w: stdout}
	log := newLogger(stderr, slog.LevelWarn)

	api := taskstest.NewServer()
	defer api.Close()
	dir, err := os.MkdirTemp("", "taskbot-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := state.Open(filepath.Join(dir, "taskbot.db"), state.Options{Logger: log, Channel: demoChannel})
	if err != nil {
		return err
	}
	defer store.Close()
	key, err := store.ButtonKey()
	if err != nil {
		return err
	}
	client, err := acronis.NewClient(acronis.Config{BaseURL: api.URL, ClientID: api.ClientID, ClientSecret: api.ClientSecret, Logger: log})
	if err != nil {
		return err
	}
	announceSet, _ := tasks.ParseAnnounceSet([]string{"started", "paused", "failed", "stuck"})
	// The demo's limit is seconds, not TASKBOT_STUCK_AFTER's hour: its paused task (waiting
	// for a tape nobody inserts) is announced as stuck within the first minute.
	stuck := tasks.StuckLimits{tasks.Paused: demoStuckAfter}

	ann := announce.NewAnnouncer(announce.AnnouncerConfig{Store: store, Notifier: &bot.TerminalNotifier{W: out}, Channel: demoChannel,
		Pace: 300 * time.Millisecond, Logger: log})
	poller := announce.NewPoller(announce.PollerConfig{API: client, Store: store,
		Rules:    announce.Rules{Channel: demoChannel, Announce: announceSet, Stuck: stuck},
		Interval: time.Second, OnQueued: ann.Wake, Logger: slog.New(&mutedLines{next: log.Handler(), out: out})})
	// No TASKBOT_ADMINS (anyone may change settings) and no membership check: the demo's bot
	// is in every channel.
	answerer := bot.NewAnswerer(bot.AnswererConfig{API: client, Settings: store, Announce: announceSet.Names(), Channel: demoChannel,
		ButtonKey: key, Logger: log})

	var names []string
	for _, t := range taskstest.SimulatedTenants() {
		names = append(names, t.Name)
	}
	second := names[len(names)-1]
	fmt.Fprintf(out, `taskbot demo — a simulated Task Manager API at %s with the tasks of %s
Announcing %s of every tenant in %s; tasks change every %s; a task paused for %s is stuck.
You are %s. Type a slash command and Enter; it is typed in %s unless the line starts with a channel:
  /tasks paused                /tasks failed tenant:%q
  #beta /tasks subscribe tenant:%q      (then #beta gets that tenant's announcements too)
  /tasks mute tenant:%q 1h maintenance      /tasks mutes      /tasks unmute 1
  /tasks show ID               (ID: the number after "Task" in an announcement)
  /tasks subscriptions         /tasks help
Ctrl-C quits.

`, api.URL, strings.Join(names, " and "), announceSet.String(), demoChannel, *every, demoStuckAfter, demoUser, demoChannel,
		second, second, names[0])

	var wg sync.WaitGroup
	wg.Go(func() { api.Simulate(ctx, *every, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))) })
	wg.Go(func() { poller.Run(ctx) })
	wg.Go(func() { ann.Run(ctx) })

	lines := make(chan string)
	go func() { // not in wg: a terminal read cannot be interrupted; it ends with the process
		rd := bufio.NewReader(stdin)
		for {
			line, err := rd.ReadString('\n')
			if len(line) > maxDemoLine {
				line = line[:maxDemoLine] // an overlong line is answered by its start, not the end of input
			}
			if line != "" || err == nil {
				lines <- strings.TrimRight(line, "\r\n")
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case line, ok := <-lines:
			if !ok {
				lines = nil // stdin closed: keep announcing until -for or Ctrl-C
				continue
			}
			channel, text, problem := demoLine(line)
			if problem != "" {
				fmt.Fprintln(out, "("+problem+")")
				continue
			}
			if channel == "" {
				continue // a blank line
			}
			qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			m := answerer.Handle(qctx, bot.Request{Text: text, Channel: channel, User: demoUser})
			cancel()
			echo := fmt.Sprintf("> %s /tasks %s", channel, strings.Map(printable, strings.TrimSpace(text)))
			if m.InChannel {
				// A confirmation of a change: a message everyone in the channel sees, printed
				// like an announcement in it.
				fmt.Fprintf(out, "%s\n[%s] %s\n%s\n\n", strings.TrimSpace(echo), time.Now().Format("15:04:05"), channel,
					indentText(bot.PlainText(m)))
				continue
			}
			fmt.Fprintf(out, "%s\n%s\n\n", strings.TrimSpace(echo), indentText(bot.PlainText(m)))
		}
	}
	wg.Wait()
	fmt.Fprintln(out, "demo finished")
	return nil
}

// demoLine reads a line typed into the demo: an optional channel (`#name`, of lower-case
// letters, digits, - and _, at most 80 characters, as Slack names channels; any case is
// accepted and lowered) and then "/tasks ARGS" (see demoCommand). It returns the channel
// (demoChannel when the line names none) and ARGS; problem says what is wrong with a line that
// is not a command; a blank line gives all three empty.
func demoLine(line string) (channel, text, problem string) {
	const hint = "type /tasks and its words, e.g. /tasks paused, optionally after a channel: #beta /tasks subscriptions; /tasks help lists them"
	rest := strings.TrimLeftFunc(line, unicode.IsSpace)
	if rest == "" {
		return "", "", ""
	}
	channel = demoChannel
	if strings.HasPrefix(rest, "#") {
		end := strings.IndexFunc(rest, unicode.IsSpace)
		if end < 0 {
			end = len(rest)
		}
		name := strings.ToLower(rest[1:end])
		if !demoChannelName.MatchString(name) {
			return "", "", "a channel is # and a name of letters, digits, - and _, e.g. #beta; " + hint
		}
		channel, rest = "#"+name, rest[end:]
	}
	text, ok := demoCommand(rest)
	if !ok {
		return "", "", hint
	}
	return channel, text, ""
}

// demoChannelName is a channel name as Slack allows it
// (https://api.slack.com/methods/conversations.create#naming).
var demoChannelName = regexp.MustCompile(`^[a-z0-9_-]{1,80}$`)

// mutedLines is the demo poller's log handler: it shows on the terminal each announcement a
// mute dropped (which the poller logs at info as "muted an announcement", and serve counts in
// taskbot_announcements_total{result="muted"}), and passes warnings and errors on to next.
type mutedLines struct {
	next slog.Handler
	out  io.Writer
}

// mutedMessage is the poller's log message for an announcement a mute dropped.
const mutedMessage = "muted an announcement"

func (h *mutedLines) Enabled(ctx context.Context, l slog.Level) bool {
	return l == slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *mutedLines) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo && r.Message == mutedMessage {
		a := map[string]string{}
		r.Attrs(func(at slog.Attr) bool {
			a[at.Key] = at.Value.String()
			return true
		})
		fmt.Fprintf(h.out, "[%s] %s — muted, not posted: %s · %s (task %s)\n", r.Time.Format("15:04:05"),
			a["channel"], a["event"], strings.Map(printable, a["title"]), a["id"])
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *mutedLines) WithAttrs(as []slog.Attr) slog.Handler {
	return &mutedLines{next: h.next.WithAttrs(as), out: h.out}
}

func (h *mutedLines) WithGroup(name string) slog.Handler {
	return &mutedLines{next: h.next.WithGroup(name), out: h.out}
}

// maxDemoLine is the longest stdin line the demo reads whole, in bytes: the size Slack allows a
// slash command's text is far smaller.
const maxDemoLine = 64 << 10

// demoCommand accepts "/tasks ARGS" (or "tasks ARGS", in any case), separated by any
// whitespace, and returns ARGS.
func demoCommand(line string) (string, bool) {
	f := strings.TrimLeftFunc(line, unicode.IsSpace)
	for _, p := range []string{"/tasks", "tasks"} {
		if len(f) < len(p) || !strings.EqualFold(f[:len(p)], p) {
			continue
		}
		rest := f[len(p):]
		if r, _ := utf8.DecodeRuneInString(rest); rest == "" || unicode.IsSpace(r) {
			return rest, true
		}
	}
	return "", false
}

// printable drops control characters, so echoed input cannot drive the terminal.
func printable(r rune) rune {
	if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
		return -1
	}
	return r
}

func indentText(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return strings.Join(lines, "\n")
}

// lockedWriter serialises writes from the announcer and the command loop.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
