// Command taskbot is a Slack bot for Acronis Cyber Protect Cloud: it answers /tasks slash
// commands with tasks from the Task Manager API v2 and announces task transitions in a channel.
//
// The commands, environment and HTTP paths are fixed in the README. main only wires: run is
// the whole program, callable from tests with an environment of their own (Mat Ryer, "How I
// write HTTP services in Go after 13 years").
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	_ "time/tzdata" // TASKBOT_DIGEST_AT's zones, also in an image without a zone database
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// defaultGCPercent is the garbage collector's target (GOGC) unless the environment sets GOGC:
// the heap may grow to 1.5 times what is live instead of Go's default 2. taskbot's live heap is
// small (about 6 MB at 100,000 tasks) and most of what it allocates is garbage at once (decoded
// pages, bbolt's page copies), so the default's headroom was most of its own memory: at 100,000
// tasks, reconciliations peaked at 62.0 MiB resident instead of 64.8–66.7 MiB, for about a fifth
// more CPU (TestScale; README "Performance").
const defaultGCPercent = 50

func main() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel() // the first signal drains and stops cleanly
		<-sigs
		fmt.Fprintln(os.Stderr, "taskbot: second signal, exiting at once")
		os.Exit(1)
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	cancel()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is a bad command line; main exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// exitCode prints err and maps it to the contract's exit status: 0 success, 1 runtime failure,
// 2 bad configuration or usage.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "taskbot:", err)
	var ce *ConfigError
	var ue *usageError
	if errors.As(err, &ce) || errors.As(err, &ue) {
		return 2
	}
	return 1
}

const usage = `usage: taskbot [command]

commands:
  serve                     the service: Slack commands over HTTP (or Socket Mode) and the poller (default)
  demo [-for D] [-every D]  a simulated Task Manager API, announcements and /tasks on this terminal
                            (-for: stop after D; -every: how often the simulated tasks change, default 3s)
  tasks [-json] ARGS        run "/tasks ARGS" once against the configured API and print it (a listing or
                            show ID; -json: the Slack payload)
  check                     verify the configuration against Acronis and Slack (read-only)
  healthcheck               exit 0 when the local /healthz answers (for Docker HEALTHCHECK)
  version                   print the version
  help                      this help, and the environment variables

Configuration is read from the environment (taskbot help lists it; README.md explains it).`

// run is the whole program: args without the program name, the environment as getenv reads it
// (os.Getenv in main; a map in tests, which then run in parallel), and the process's streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args
	if len(args) > 0 {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		if len(rest) == 1 && (rest[0] == "-h" || rest[0] == "-help" || rest[0] == "--help") {
			fmt.Fprintln(stdout, usage)
			return nil
		}
		if len(rest) > 0 {
			return &usageError{"serve takes no arguments\n" + usage}
		}
		return serve(ctx, getenv, stderr)
	case "demo":
		return demo(ctx, rest, stdin, stdout, stderr)
	case "tasks":
		return oneShot(ctx, rest, getenv, stdout, stderr)
	case "check", "healthcheck", "version", "-version", "--version":
		if len(rest) == 1 && (rest[0] == "-h" || rest[0] == "-help" || rest[0] == "--help") {
			fmt.Fprintln(stdout, usage)
			return nil
		}
		if len(rest) > 0 {
			return &usageError{fmt.Sprintf("%s takes no arguments\n%s", cmd, usage)}
		}
	}
	switch cmd {
	case "check":
		return check(ctx, getenv, stdout)
	case "healthcheck":
		return healthcheck(ctx, getenv)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "taskbot", buildVersion())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usage)
		fmt.Fprintln(stdout, "\nenvironment:")
		return envUsage(stdout)
	}
	return &usageError{fmt.Sprintf("unknown command %q\n%s", cmd, usage)}
}
