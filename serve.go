package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/bot"
	"github.com/taskbot/taskbot/state"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
	"github.com/taskbot/taskbot/tasks/announce"
)

// minSensiblePoll is the poll interval below which serve warns (it is not refused: tests and
// local fakes poll faster).
const minSensiblePoll = 5 * time.Second

// maxSensiblePoll is the poll interval above which serve warns: announcements come that late.
const maxSensiblePoll = time.Hour

// Shutdown bounds. Docker and Kubernetes send SIGKILL 10 s (Docker's default stop timeout) or
// terminationGracePeriodSeconds after SIGTERM; taskbot exits well within 10 s in every case.
const (
	// shutdownGrace bounds the wait for HTTP requests and slash-command answers in flight;
	// answers still running then get 1.5 s to tell their users that taskbot is restarting.
	shutdownGrace = 7 * time.Second
	// finishPost bounds a post still in flight at SIGTERM; one cut short stays in the outbox
	// and is posted after the restart. It runs while the HTTP side drains.
	finishPost = 5 * time.Second
)

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	// Go stamps the module version, or a pseudo-version of the git commit, unless built with
	// -buildvcs=false.
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

// commandRetries is how often a slash command's request is retried: someone is waiting, so one
// retry rather than the client's default three before the answer says why.
const commandRetries = 1

// newTasksClient is the Acronis client of cfg; retries 0 means the client's default.
func newTasksClient(cfg *Config, log *slog.Logger, retries int) (*acronis.Client, error) {
	// Slash commands come in bursts, each with a request of its own to the one API host: keep
	// their connections for the next ones (net/http keeps 2 a host by default, so a burst of
	// 200 commands a second would open and close about 200 connections a second).
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = bot.IdleConnsPerHost
	return acronis.NewClient(acronis.Config{
		Transport:    transport,
		Retries:      retries,
		BaseURL:      cfg.AcronisURL,
		ClientID:     cfg.AcronisClientID,
		ClientSecret: cfg.AcronisClientSecret,
		Timeout:      cfg.AcronisTimeout,
		Logger:       log,
	})
}

func newSlackClient(cfg *Config) *slack.Client {
	opts := []slack.Option{
		slack.OptionAPIURL(cfg.SlackAPIURL),
		slack.OptionHTTPClient(&http.Client{Timeout: 30 * time.Second}),
	}
	if cfg.SlackAppToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(cfg.SlackAppToken))
	}
	return slack.New(cfg.SlackBotToken, opts...)
}

// serve runs the service until ctx ends: HTTP (health, metrics and, without SLACK_APP_TOKEN,
// Slack's requests), Socket Mode when SLACK_APP_TOKEN is set, the poller and the announcer.
// On cancel it stops accepting requests, finishes answers in flight and the post in progress
// (at most shutdownGrace), and closes the state file.
func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	cfg, err := loadConfig(getenv, needs{acronis: true, slack: true})
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	if cfg.PollInterval < minSensiblePoll {
		log.Warn("TASKBOT_POLL_INTERVAL is very short; every poll is a request to the Acronis API, which may rate-limit the client",
			"poll_interval", cfg.PollInterval, "suggested", "30s")
	}

	if cfg.PollInterval > maxSensiblePoll {
		log.Warn("TASKBOT_POLL_INTERVAL is very long; announcements come up to this late, and failed polls are retried only this often",
			"poll_interval", cfg.PollInterval, "suggested", "30s")
	}

	// Listen first: a busy port must not leave a new state file behind.
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on TASKBOT_LISTEN_ADDR %s: %w", cfg.ListenAddr, err)
	}
	defer ln.Close()
	store, err := state.Open(cfg.DBPath, state.Options{Logger: log, Channel: cfg.SlackChannel})
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrInvalid) {
		return &ConfigError{Problems: []string{"TASKBOT_DB_PATH: " + err.Error()}} // exit 2: the configuration is wrong
	}
	if err != nil {
		return err
	}
	defer store.Close()

	// The poller and the slash commands each have a client of their own (connections and
	// token): a poll stuck on a slow or misbehaving API never holds up an answer.
	client, err := newTasksClient(cfg, log, 0)
	if err != nil {
		return err
	}
	commands, err := newTasksClient(cfg, log, commandRetries)
	if err != nil {
		return err
	}
	api := newSlackClient(cfg)
	reg := newRegistry()
	pipeline, slackMetrics := announce.NewMetrics(reg), bot.NewMetrics(reg)

	key, err := store.ButtonKey()
	if err != nil {
		return err
	}
	answerer := bot.NewAnswerer(bot.AnswererConfig{API: commands, Settings: store, Failures: cfg.Failures, Channel: cfg.SlackChannel,
		Announce: cfg.Announce.Names(), Admins: cfg.Admins, ButtonKey: key, Member: bot.SlackMember(api),
		External: bot.NewOrgs(api).External, Logger: log, Metrics: slackMetrics})
	ann := announce.NewAnnouncer(announce.AnnouncerConfig{Store: store, Notifier: bot.NewSlackNotifier(api, slackMetrics, answerer.TaskButtons),
		Channel: cfg.SlackChannel, FinishWithin: finishPost, NoThreads: cfg.NoThreads, Logger: log, Metrics: pipeline})
	poller := announce.NewPoller(announce.PollerConfig{API: client, Store: store,
		Rules: announce.Rules{Channel: cfg.SlackChannel, Announce: cfg.Announce, Failures: cfg.Failures, NoThreads: cfg.NoThreads,
			Stuck: cfg.StuckAfter, StuckRepeat: cfg.StuckRepeat},
		Interval: cfg.PollInterval, PagePace: announce.PagePaceFor(cfg.PollInterval), OnQueued: ann.Wake, Logger: log, Metrics: pipeline})
	var srv *bot.Server
	socketReady := func() (bool, string) { return srv.SocketReady() }
	srv = bot.NewServer(bot.ServerConfig{
		SigningSecret:  cfg.SlackSigningSecret,
		Answerer:       answerer,
		Ready:          allReady(poller.Ready, ann.Ready, socketReady),
		MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		Logger:         log,
		Metrics:        slackMetrics,
	})
	handler := srv.Handler()
	if cfg.SlackAppToken != "" {
		handler = withoutSlackPaths(handler) // commands arrive over Socket Mode only
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	mode := "HTTP"
	if cfg.SlackAppToken != "" {
		mode = "Socket Mode"
	}
	log.Info("taskbot started", "version", buildVersion(), "listen", ln.Addr().String(), "slack", mode,
		"channel", cfg.SlackChannel, "poll_interval", cfg.PollInterval, "announce", cfg.Announce.String(), "db", cfg.DBPath,
		"threads", !cfg.NoThreads, "admins", len(cfg.Admins), "stuck_after", cfg.StuckAfter.String(), "stuck_repeat", cfg.StuckRepeat,
		"digest_at", digestAt(cfg))
	if cfg.StuckAfter == nil && cfg.StuckRepeat > 0 {
		log.Warn("TASKBOT_STUCK_REPEAT has no effect: TASKBOT_STUCK_AFTER is off, so no task is ever stuck")
	}
	if cfg.StuckAfter != nil && !cfg.Announce.Announces(tasks.EventStuck) {
		log.Info("stuck tasks are tracked but not announced in SLACK_CHANNEL (TASKBOT_ANNOUNCE_STATES has no stuck); subscriptions may ask for them, and the digest lists them")
	}

	workCtx, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	wg.Go(func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	})
	wg.Go(func() { poller.Run(workCtx) })
	wg.Go(func() { ann.Run(workCtx) })
	if cfg.DigestAt != nil {
		digester := announce.NewDigester(announce.DigesterConfig{Store: store, Channel: cfg.SlackChannel, At: *cfg.DigestAt,
			OnQueued: ann.Wake, Logger: log})
		wg.Go(func() { digester.Run(workCtx) })
	}
	if cfg.SlackAppToken != "" {
		wg.Go(func() {
			if err := bot.RunSocketMode(workCtx, api, srv); err != nil {
				errc <- err
			}
		})
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: finishing answers in flight and the current post")
	case runErr = <-errc:
		log.Error("stopping", "err", runErr)
	}
	// The poller stops and the announcer finishes its current post (within finishPost) while
	// the HTTP side drains (within shutdownGrace).
	stopWork()
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := srv.Drain(shutCtx); err != nil {
		log.Warn("drain", "err", err)
	}
	wg.Wait()
	log.Info("stopped; state file closed", "db", cfg.DBPath)
	return runErr
}

// allReady combines readiness checks for /readyz: ready when all are, with every reason given.
func allReady(checks ...func() (bool, string)) func() (bool, string) {
	return func() (bool, string) {
		ok := true
		var why []string
		for _, c := range checks {
			r, w := c()
			ok = ok && r
			if w != "" {
				why = append(why, w)
			}
		}
		return ok, strings.Join(why, "; ")
	}
}

// newRegistry is a Prometheus registry with the Go runtime and process collectors; each
// package registers its own metrics on it (a registry per run, so tests can run several bots).
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// withoutSlackPaths hides /slack/… in Socket Mode, where an HTTP endpoint for Slack would be an
// unauthenticated door (there is no signing secret to check).
func withoutSlackPaths(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.Path) >= 7 && r.URL.Path[:7] == "/slack/" {
			http.Error(w, "taskbot runs in Socket Mode; Slack requests arrive over the WebSocket", http.StatusNotFound)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// digestAt is TASKBOT_DIGEST_AT for the start log: "off" or the time and zone.
func digestAt(cfg *Config) string {
	if cfg.DigestAt == nil {
		return "off"
	}
	return cfg.DigestAt.String()
}
