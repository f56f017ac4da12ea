package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kelseyhightower/envconfig"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// env is the contract's environment (README, "Environment"): every variable as text, so that
// every problem can be reported at once; Config holds the validated values. The envconfig tags
// name the variables and their short descriptions, which `taskbot help` prints with envconfig.
type env struct {
	AcronisURL          string `envconfig:"ACRONIS_URL" desc:"data-center URL, e.g. https://eu2-cloud.acronis.com (required)"`
	AcronisClientID     string `envconfig:"ACRONIS_CLIENT_ID" desc:"API client ID (required)"`
	AcronisClientSecret string `envconfig:"ACRONIS_CLIENT_SECRET" desc:"API client secret (required)"`
	SlackBotToken       string `envconfig:"SLACK_BOT_TOKEN" desc:"xoxb-… (required)"`
	SlackSigningSecret  string `envconfig:"SLACK_SIGNING_SECRET" desc:"verifies HTTP requests from Slack (required unless SLACK_APP_TOKEN is set)"`
	SlackAppToken       string `envconfig:"SLACK_APP_TOKEN" desc:"xapp-…: commands arrive over Socket Mode"`
	SlackChannel        string `envconfig:"SLACK_CHANNEL" desc:"channel ID (C…/G…) for announcements (required)"`
	SlackAPIURL         string `envconfig:"SLACK_API_URL" desc:"Slack Web API base (default https://slack.com/api/)"`
	ListenAddr          string `envconfig:"TASKBOT_LISTEN_ADDR" desc:"HTTP listen address (default :8080)"`
	DBPath              string `envconfig:"TASKBOT_DB_PATH" desc:"bbolt state file (default taskbot.db)"`
	PollInterval        string `envconfig:"TASKBOT_POLL_INTERVAL" desc:"Go duration between polls (default 30s)"`
	AnnounceStates      string `envconfig:"TASKBOT_ANNOUNCE_STATES" desc:"announced events (default started,paused,failed,stuck)"`
	FailedResults       string `envconfig:"TASKBOT_FAILED_RESULTS" desc:"result codes that make a completed task failed (default error,abandoned,timedout)"`
	StuckAfter          string `envconfig:"TASKBOT_STUCK_AFTER" desc:"STATE=DURATION pairs: a task still in that state after that long is announced as stuck, or off (default paused=1h)"`
	StuckRepeat         string `envconfig:"TASKBOT_STUCK_REPEAT" desc:"while a task stays stuck, announce it again after this long (default 0 or off: never)"`
	DigestAt            string `envconfig:"TASKBOT_DIGEST_AT" desc:"HH:MM with an optional IANA zone (09:00 Europe/Berlin): a daily digest (default off)"`
	AcronisTimeout      string `envconfig:"ACRONIS_TIMEOUT" desc:"time limit of one Task Manager request (default 30s)"`
	Threads             string `envconfig:"TASKBOT_THREADS" desc:"on: later announcements of a task reply in its thread; off: each is a new message (default on)"`
	Admins              string `envconfig:"TASKBOT_ADMINS" desc:"Slack user IDs (U…/W…) allowed to subscribe, unsubscribe, scope, mute and unmute (default: anyone in the bot's organization)"`
	LogLevel            string `envconfig:"TASKBOT_LOG_LEVEL" desc:"debug, info, warn or error (default info)"`
}

// readEnv fills an env from getenv, variable by variable as the envconfig tags name them.
// (envconfig.Process itself reads only the process environment, which tests would then have to
// change; run takes getenv instead.)
func readEnv(getenv func(string) string) env {
	var e env
	v := reflect.ValueOf(&e).Elem()
	for i := range v.NumField() {
		v.Field(i).SetString(getenv(v.Type().Field(i).Tag.Get("envconfig")))
	}
	return e
}

// envUsage prints the variables and their descriptions (envconfig's usage from the tags).
func envUsage(w io.Writer) error {
	return envconfig.Usagef("", &env{}, w, "{{range .}}  {{usage_key .}}\t{{usage_description .}}\n{{end}}")
}

// Defaults of the optional variables; an empty value also takes the default.
const (
	defaultSlackAPIURL    = "https://slack.com/api/"
	defaultListenAddr     = ":8080"
	defaultDBPath         = "taskbot.db"
	defaultPollInterval   = 30 * time.Second
	defaultAnnounceStates = "started,paused,failed,stuck"
	defaultAcronisTimeout = 30 * time.Second
)

// Config is the validated configuration.
type Config struct {
	AcronisURL          string // scheme://host[:port], no trailing slash
	AcronisClientID     string
	AcronisClientSecret string
	SlackBotToken       string
	SlackSigningSecret  string
	SlackAppToken       string
	SlackChannel        string
	SlackAPIURL         string // ends with "/"
	ListenAddr          string
	DBPath              string
	AcronisTimeout      time.Duration
	PollInterval        time.Duration
	Announce            tasks.AnnounceSet
	Failures            tasks.Failures
	StuckAfter          tasks.StuckLimits    // nil: off
	StuckRepeat         time.Duration        // 0: never
	DigestAt            *announce.DigestTime // nil: no digest
	NoThreads           bool                 // TASKBOT_THREADS=off
	Admins              []string             // TASKBOT_ADMINS; empty: anyone of the bot's own organization
	LogLevel            slog.Level
}

// needs says which groups of variables a subcommand requires.
type needs struct{ acronis, slack bool }

// ConfigError lists every missing or invalid variable; main exits with status 2 on it.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	return "configuration problem" + plural(len(e.Problems)) + ":\n  " + strings.Join(e.Problems, "\n  ") +
		"\nSee the environment table in README.md; `taskbot demo` runs without any configuration."
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

var (
	channelID = regexp.MustCompile(`^[CG][A-Z0-9]{8,}$`)
	// userID is a Slack user ID: U… (W… on Enterprise Grid).
	userID = regexp.MustCompile(`^[UW][A-Z0-9]{8,}$`)
	// looksLikeID is a value that was meant as a channel ID but is malformed.
	looksLikeID = regexp.MustCompile(`^[CGDcgd][A-Za-z0-9]{2,}$`)
	// Slack's channel names: lower case, digits, - and _ (https://slack.com/help/articles/201402297).
	channelName = regexp.MustCompile(`^#?[a-z0-9][a-z0-9_\-]*$`)
)

// loadConfig reads the environment through getenv and validates it for a subcommand. Values
// are trimmed; an empty required value is missing. Error messages name variables and never
// contain a secret's value.
func loadConfig(getenv func(string) string, n needs) (*Config, error) {
	e := readEnv(getenv)
	// A value in the wrong variable may be a secret: never echo one (the secrets set in this
	// environment, and anything shaped like a Slack token).
	r := redactor{secrets: []string{e.AcronisClientSecret, e.SlackSigningSecret, e.SlackBotToken, e.SlackAppToken}}
	display, looksSecret := r.display, r.secret
	var p []string
	c := &Config{}

	text := func(name, v string, required bool, what string) string {
		v = strings.TrimSpace(v)
		if quoted(v) {
			p = append(p, fmt.Sprintf("%s is wrapped in quotes; remove them (write %s=value, not %s=\"value\")", name, name, name))
			return ""
		}
		if v == "" && required {
			p = append(p, fmt.Sprintf("%s is missing (%s)", name, what))
		}
		return v
	}

	if n.acronis {
		if u := text("ACRONIS_URL", e.AcronisURL, true, "your data center's URL, e.g. https://eu2-cloud.acronis.com"); looksSecret(u) {
			// Never resolved, requested or logged: a secret in the host would leave the machine.
			p = append(p, "ACRONIS_URL holds one of the secrets or a token (not shown); it must be your data center's URL, e.g. https://eu2-cloud.acronis.com")
		} else {
			c.AcronisURL = acronisURL(u, &p)
		}
		c.AcronisClientID = text("ACRONIS_CLIENT_ID", e.AcronisClientID, true, "the API client's ID: Acronis console → Settings → API clients")
		c.AcronisClientSecret = text("ACRONIS_CLIENT_SECRET", e.AcronisClientSecret, true, "the API client's secret, shown once when the client is created")
	}
	if n.slack {
		c.SlackBotToken = text("SLACK_BOT_TOKEN", e.SlackBotToken, true, "the Bot User OAuth Token, xoxb-…: Slack app → OAuth & Permissions")
		if c.SlackBotToken != "" && !strings.HasPrefix(c.SlackBotToken, "xoxb-") {
			p = append(p, "SLACK_BOT_TOKEN must be a bot token starting with xoxb- (Slack app → OAuth & Permissions → Bot User OAuth Token)")
		}
		for name, v := range map[string]string{"SLACK_BOT_TOKEN": c.SlackBotToken, "SLACK_APP_TOKEN": e.SlackAppToken} {
			if strings.ContainsFunc(strings.TrimSpace(v), unicode.IsSpace) {
				p = append(p, name+" contains a space or line break; copy the token again, whole and alone")
			}
		}
		c.SlackAppToken = text("SLACK_APP_TOKEN", e.SlackAppToken, false, "")
		if c.SlackAppToken != "" && !strings.HasPrefix(c.SlackAppToken, "xapp-") {
			p = append(p, "SLACK_APP_TOKEN must be an app-level token starting with xapp- (Slack app → Basic Information → App-Level Tokens, scope connections:write)")
		}
		c.SlackSigningSecret = text("SLACK_SIGNING_SECRET", e.SlackSigningSecret, c.SlackAppToken == "",
			"Slack app → Basic Information → Signing Secret; not needed when SLACK_APP_TOKEN is set for Socket Mode")
		if strings.HasPrefix(c.SlackSigningSecret, "xox") {
			p = append(p, "SLACK_SIGNING_SECRET looks like a token; copy the Signing Secret from the Slack app's Basic Information → App Credentials")
		}
		c.SlackChannel = text("SLACK_CHANNEL", e.SlackChannel, true, "the ID of the channel for announcements, e.g. C0123456789")
		if ch := c.SlackChannel; ch != "" && !channelID.MatchString(ch) {
			switch {
			case looksSecret(ch):
				p = append(p, "SLACK_CHANNEL holds something that looks like a token (not shown); it must be a channel ID such as C0123456789")
			case looksLikeID.MatchString(ch) && strings.ContainsAny(ch, "0123456789"):
				p = append(p, fmt.Sprintf("SLACK_CHANNEL %s is not a valid channel ID: a channel ID is C or G followed by at least 8 upper-case letters and digits, e.g. C0123456789 (channel details → About, at the bottom)", display(ch)))
			case channelName.MatchString(strings.ToLower(ch)):
				p = append(p, fmt.Sprintf("SLACK_CHANNEL must be a channel ID such as C0123456789, not a name (%s): in Slack open the channel's details; the ID is at the bottom of the About tab", display(ch)))
			default:
				p = append(p, fmt.Sprintf("SLACK_CHANNEL %s is not a channel ID (C… or G… followed by upper-case letters and digits, e.g. C0123456789)", display(ch)))
			}
		}
		if u := text("SLACK_API_URL", e.SlackAPIURL, false, ""); looksSecret(u) {
			p = append(p, "SLACK_API_URL holds one of the secrets or a token (not shown); it must be the Slack Web API's URL, e.g. https://slack.com/api/")
		} else {
			c.SlackAPIURL = slackAPIURL(u, &p)
		}
	}

	c.ListenAddr = text("TASKBOT_LISTEN_ADDR", e.ListenAddr, false, "")
	if c.ListenAddr == "" {
		c.ListenAddr = defaultListenAddr
	} else if _, port, err := net.SplitHostPort(c.ListenAddr); err != nil || !validPort(port) {
		p = append(p, fmt.Sprintf("TASKBOT_LISTEN_ADDR %s is not host:port with a port from 0 to 65535 (e.g. :8080 or 127.0.0.1:8080)", display(c.ListenAddr)))
	}
	c.DBPath = text("TASKBOT_DB_PATH", e.DBPath, false, "")
	if c.DBPath == "" {
		c.DBPath = defaultDBPath
	}
	c.PollInterval = r.duration("TASKBOT_POLL_INTERVAL", text("TASKBOT_POLL_INTERVAL", e.PollInterval, false, ""), defaultPollInterval, &p)
	c.AcronisTimeout = r.duration("ACRONIS_TIMEOUT", text("ACRONIS_TIMEOUT", e.AcronisTimeout, false, ""), defaultAcronisTimeout, &p)
	if c.AcronisTimeout < time.Second || c.AcronisTimeout > 10*time.Minute {
		p = append(p, fmt.Sprintf("ACRONIS_TIMEOUT %s is out of range: give a request from 1s to 10m (public clients allow minutes for a slow page; the default is 30s)", c.AcronisTimeout))
	}
	states := text("TASKBOT_ANNOUNCE_STATES", e.AnnounceStates, false, "")
	if states == "" {
		states = defaultAnnounceStates
	}
	set, err := tasks.ParseAnnounceSet(strings.Split(states, ","))
	if err != nil {
		if looksSecret(states) {
			p = append(p, "TASKBOT_ANNOUNCE_STATES holds something that looks like a token (not shown); use state names such as started,paused")
		} else {
			p = append(p, "TASKBOT_ANNOUNCE_STATES: "+err.Error())
		}
	}
	c.Announce = set
	if v := text("TASKBOT_FAILED_RESULTS", e.FailedResults, false, ""); v != "" {
		f, err := tasks.ParseFailures(strings.Split(v, ","))
		switch {
		case err == nil && f.Has(tasks.ResultOK):
			p = append(p, "TASKBOT_FAILED_RESULTS names ok, the result of a task that succeeded; list failing result codes such as error,abandoned,timedout")
		case err != nil && looksSecret(v):
			p = append(p, "TASKBOT_FAILED_RESULTS holds something that looks like a token (not shown); use result codes such as error,abandoned,timedout")
		case err != nil:
			p = append(p, "TASKBOT_FAILED_RESULTS: "+err.Error())
		default:
			c.Failures = f
		}
	}
	stuck := text("TASKBOT_STUCK_AFTER", e.StuckAfter, false, "")
	if stuck == "" {
		stuck = tasks.DefaultStuckAfter
	}
	if l, err := tasks.ParseStuckLimits(stuck); err != nil && looksSecret(stuck) {
		p = append(p, "TASKBOT_STUCK_AFTER holds something that looks like a token (not shown); write STATE=DURATION pairs such as paused=1h")
	} else if err != nil {
		p = append(p, "TASKBOT_STUCK_AFTER: "+err.Error())
	} else {
		c.StuckAfter = l
	}
	switch v := text("TASKBOT_STUCK_REPEAT", e.StuckRepeat, false, ""); {
	case v == "" || v == "0" || strings.EqualFold(v, "off"):
	case looksSecret(v):
		p = append(p, "TASKBOT_STUCK_REPEAT holds something that looks like a token (not shown); give a duration such as 2h")
	default:
		d, err := tasks.ParseDays(v)
		switch {
		case err != nil:
			p = append(p, "TASKBOT_STUCK_REPEAT: "+err.Error()+" (or 0 or off for never)")
		case d < time.Minute || d > 30*24*time.Hour:
			p = append(p, fmt.Sprintf("TASKBOT_STUCK_REPEAT %s is out of range: give from 1m to 30d, or 0 or off for never", display(v)))
		default:
			c.StuckRepeat = d
		}
	}
	if v := text("TASKBOT_DIGEST_AT", e.DigestAt, false, ""); v != "" && !strings.EqualFold(v, "off") {
		if at, err := announce.ParseDigestTime(v); looksSecret(v) {
			p = append(p, "TASKBOT_DIGEST_AT holds something that looks like a token (not shown); give a time such as 09:00 Europe/Berlin")
		} else if err != nil {
			p = append(p, "TASKBOT_DIGEST_AT: "+err.Error())
		} else {
			c.DigestAt = &at
		}
	}
	switch v := strings.ToLower(text("TASKBOT_THREADS", e.Threads, false, "")); v {
	case "", "on", "true", "yes", "1":
	case "off", "false", "no", "0":
		c.NoThreads = true
	default:
		p = append(p, fmt.Sprintf("TASKBOT_THREADS %s is neither on nor off", display(v)))
	}
	if v := text("TASKBOT_ADMINS", e.Admins, false, ""); v != "" {
		seen := map[string]bool{}
		for _, id := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
			if seen[id] {
				continue // listed twice: one is enough, and one complaint
			}
			seen[id] = true
			switch {
			case userID.MatchString(id):
				c.Admins = append(c.Admins, id)
			case looksSecret(id):
				p = append(p, "TASKBOT_ADMINS holds something that looks like a token (not shown); list Slack user IDs such as U0123ABCDEF")
			default:
				p = append(p, fmt.Sprintf("TASKBOT_ADMINS: %s is not a Slack user ID (U or W followed by at least 8 upper-case letters and digits: profile → ⋮ → Copy member ID)", display(id)))
			}
		}
	}
	level := text("TASKBOT_LOG_LEVEL", e.LogLevel, false, "")
	switch strings.ToLower(level) {
	case "", "info":
		c.LogLevel = slog.LevelInfo
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		p = append(p, fmt.Sprintf("TASKBOT_LOG_LEVEL %s is not one of debug, info, warn, error", display(level)))
	}
	if len(p) > 0 {
		return nil, &ConfigError{Problems: p}
	}
	return c, nil
}

// duration parses the Go duration v of variable name (empty: def); it must be greater than zero.
func (r redactor) duration(name, v string, def time.Duration, p *[]string) time.Duration {
	display := r.display
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil && isDigits(v):
		*p = append(*p, fmt.Sprintf("%s %s has no unit; write e.g. %ss or 1m", name, display(v), v))
	case err != nil:
		*p = append(*p, fmt.Sprintf("%s %s is not a Go duration such as 30s, 1m or 1m30s", name, display(v)))
	case d <= 0:
		*p = append(*p, fmt.Sprintf("%s %s must be greater than zero", name, display(v)))
	default:
		return d
	}
	return def
}

// acronisURL checks ACRONIS_URL: an http(s) URL of a host, with no path, query or credentials.
// The value itself is never echoed (it could carry credentials).
func acronisURL(v string, p *[]string) string {
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		*p = append(*p, "ACRONIS_URL is not a URL; write it like https://eu2-cloud.acronis.com")
	case u.Scheme == "" || u.Host == "" && u.Opaque != "" || u.Host == "" && !strings.Contains(v, "://"):
		*p = append(*p, "ACRONIS_URL needs a scheme; write it like https://eu2-cloud.acronis.com")
	case u.Scheme != "https" && u.Scheme != "http":
		*p = append(*p, fmt.Sprintf("ACRONIS_URL must start with https:// (it starts with %s:)", u.Scheme))
	case u.Host == "":
		*p = append(*p, "ACRONIS_URL has no host; write it like https://eu2-cloud.acronis.com")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		*p = append(*p, "ACRONIS_URL must start with https:// (over http:// the client secret would travel in clear text; http is accepted only for localhost)")
	case u.User != nil:
		*p = append(*p, "ACRONIS_URL must not contain credentials; use ACRONIS_CLIENT_ID and ACRONIS_CLIENT_SECRET")
	case strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		*p = append(*p, "ACRONIS_URL must be the data center's base URL without a path, e.g. https://eu2-cloud.acronis.com (taskbot adds /api/2/idp/token and /api/task_manager/v2 itself)")
	default:
		return u.Scheme + "://" + u.Host
	}
	return ""
}

func slackAPIURL(v string, p *[]string) string {
	if v == "" {
		return defaultSlackAPIURL
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		*p = append(*p, "SLACK_API_URL must be an http(s) URL such as https://slack.com/api/")
		return ""
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		*p = append(*p, "SLACK_API_URL must start with https:// (over http:// the bot token would travel in clear text; http is accepted only for localhost)")
		return ""
	}
	if !strings.HasSuffix(v, "/") {
		v += "/"
	}
	return v
}

// redactor decides which configuration values must never appear in a message: the values of
// the secret variables (a secret pasted into another variable is still a secret) and anything
// that looks like a Slack token.
type redactor struct{ secrets []string }

// minSecretLen: shorter secret values are not searched for in other values (they would match
// by chance; real secrets are far longer).
const minSecretLen = 8

// secret reports whether v contains a secret or looks like a Slack token (xoxb-, xoxp-, xapp-, …).
func (r redactor) secret(v string) bool {
	if tokenLike.MatchString(v) {
		return true
	}
	for _, s := range r.secrets {
		if s = strings.TrimSpace(s); len(s) >= minSecretLen && strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// display quotes a configuration value for an error message, unless it is a secret, and cuts
// long values.
func (r redactor) display(v string) string {
	if r.secret(v) {
		return "(a value that looks like a token or one of the secrets; not shown)"
	}
	if rs := []rune(v); len(rs) > 40 {
		v = string(rs[:40]) + "…"
	}
	return strconv.Quote(v)
}

var tokenLike = regexp.MustCompile(`xox[a-z]-|xapp-`)

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func quoted(v string) bool {
	return len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'')
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
