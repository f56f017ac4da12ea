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

// demo is `taskbot demo [-for D]`: the whole bot against an in-process simulated Task Manager
// API (tasks/taskstest), announcements printed to stdout as they would read in Slack, and
// `/tasks …` lines from stdin answered on stdout. It needs no configuration and uses a
// temporary state file.
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
	store, err := state.Open(filepath.Join(dir, "taskbot.db"), state.Options{Logger: log, Channel: "#demo"})
	if err != nil {
		return err
	}
	defer store.Close()
	client, err := acronis.NewClient(acronis.Config{BaseURL: api.URL, ClientID: api.ClientID, ClientSecret: api.ClientSecret, Logger: log})
	if err != nil {
		return err
	}
	announceSet, _ := tasks.ParseAnnounceSet([]string{"started", "paused", "failed"})

	const channel = "#demo"
	ann := announce.NewAnnouncer(announce.AnnouncerConfig{Store: store, Notifier: &bot.TerminalNotifier{W: out}, Channel: channel,
		Pace: 300 * time.Millisecond, Logger: log})
	poller := announce.NewPoller(announce.PollerConfig{API: client, Store: store,
		Rules:    announce.Rules{Channel: channel, Announce: announceSet},
		Interval: time.Second, OnQueued: ann.Wake, Logger: log})
	answerer := bot.NewAnswerer(bot.AnswererConfig{API: client, Logger: log})

	fmt.Fprintf(out, `taskbot demo — a simulated Task Manager API at %s
Announcing %s in #demo; tasks change every %s.
Type a slash command and Enter, e.g. /tasks paused, /tasks failed, /tasks help. Ctrl-C quits.

`, api.URL, announceSet.String(), *every)

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
			text, isCmd := demoCommand(line)
			if !isCmd {
				if strings.TrimSpace(line) != "" {
					fmt.Fprintln(out, "(type /tasks followed by states, e.g. /tasks paused; /tasks help lists them)")
				}
				continue
			}
			qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			m := answerer.Answer(qctx, text)
			cancel()
			fmt.Fprintf(out, "> /tasks %s\n%s\n\n", strings.Map(printable, strings.TrimSpace(text)), indentText(bot.PlainText(m)))
		}
	}
	wg.Wait()
	fmt.Fprintln(out, "demo finished")
	return nil
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
