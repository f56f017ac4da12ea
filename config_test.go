package main

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/state"
	"github.com/taskbot/taskbot/tasks"
)

// secrets are values that must never appear in any output.
var secrets = map[string]string{
	"ACRONIS_CLIENT_SECRET": "acronis-secret-Zq81",
	"SLACK_BOT_TOKEN":       "xoxb-bot-token-Zq82",
	"SLACK_SIGNING_SECRET":  "signing-secret-Zq83",
	"SLACK_APP_TOKEN":       "xapp-app-token-Zq84",
}

// mapEnv is a getenv over a copy of vars.
func mapEnv(vars map[string]string) func(string) string {
	m := maps.Clone(vars)
	return func(k string) string { return m[k] }
}

func goodEnv() map[string]string {
	return map[string]string{
		"ACRONIS_URL": "https://eu2-cloud.acronis.com", "ACRONIS_CLIENT_ID": "3b5e6f0a-client",
		"ACRONIS_CLIENT_SECRET": secrets["ACRONIS_CLIENT_SECRET"], "SLACK_BOT_TOKEN": secrets["SLACK_BOT_TOKEN"],
		"SLACK_SIGNING_SECRET": secrets["SLACK_SIGNING_SECRET"], "SLACK_CHANNEL": "C0123ABCDEF",
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestConfigProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string // every problem must be named
	}{
		{"nothing set lists every required variable at once", map[string]string{},
			[]string{"ACRONIS_URL is missing", "ACRONIS_CLIENT_ID is missing", "ACRONIS_CLIENT_SECRET is missing",
				"SLACK_BOT_TOKEN is missing", "SLACK_SIGNING_SECRET is missing", "SLACK_CHANNEL is missing"}},
		{"set but empty or blank is missing", with(goodEnv(), "ACRONIS_CLIENT_ID", "   ", "SLACK_CHANNEL", ""),
			[]string{"ACRONIS_CLIENT_ID is missing", "SLACK_CHANNEL is missing"}},
		{"duration without a unit", with(goodEnv(), "TASKBOT_POLL_INTERVAL", "30"), []string{"TASKBOT_POLL_INTERVAL \"30\" has no unit"}},
		{"zero and negative durations", with(goodEnv(), "TASKBOT_POLL_INTERVAL", "-5s"), []string{"must be greater than zero"}},
		{"not a duration", with(goodEnv(), "TASKBOT_POLL_INTERVAL", "soon"), []string{"not a Go duration"}},
		{"quoted value", with(goodEnv(), "SLACK_CHANNEL", `"C0123ABCDEF"`), []string{"SLACK_CHANNEL is wrapped in quotes"}},
		{"channel name instead of ID", with(goodEnv(), "SLACK_CHANNEL", "#ops-alerts"), []string{"SLACK_CHANNEL must be a channel ID", "not a name"}},
		{"URL without a scheme", with(goodEnv(), "ACRONIS_URL", "eu2-cloud.acronis.com"), []string{"ACRONIS_URL needs a scheme"}},
		{"URL with the API path", with(goodEnv(), "ACRONIS_URL", "https://eu2-cloud.acronis.com/api/2"), []string{"ACRONIS_URL must be the data center's base URL without a path"}},
		{"unknown announce state", with(goodEnv(), "TASKBOT_ANNOUNCE_STATES", "started, pausd"), []string{"TASKBOT_ANNOUNCE_STATES", `"pausd"`}},
		{"bot token of the wrong kind", with(goodEnv(), "SLACK_BOT_TOKEN", "xoxp-user-token-Zq85"), []string{"SLACK_BOT_TOKEN must be a bot token starting with xoxb-"}},
		{"bad log level", with(goodEnv(), "TASKBOT_LOG_LEVEL", "loud"), []string{"TASKBOT_LOG_LEVEL"}},
		{"unknown failed result", with(goodEnv(), "TASKBOT_FAILED_RESULTS", "error, broken"), []string{"TASKBOT_FAILED_RESULTS", `"broken"`, "abandoned"}},
		{"a token pasted into TASKBOT_FAILED_RESULTS is not echoed", with(goodEnv(), "TASKBOT_FAILED_RESULTS", secrets["SLACK_BOT_TOKEN"]), []string{"TASKBOT_FAILED_RESULTS holds something that looks like a token"}},
		{"timeout without a unit", with(goodEnv(), "ACRONIS_TIMEOUT", "30"), []string{"ACRONIS_TIMEOUT \"30\" has no unit"}},
		{"zero timeout", with(goodEnv(), "ACRONIS_TIMEOUT", "0s"), []string{"ACRONIS_TIMEOUT", "must be greater than zero"}},
		{"a timeout of a nanosecond", with(goodEnv(), "ACRONIS_TIMEOUT", "1ns"), []string{"ACRONIS_TIMEOUT 1ns is out of range"}},
		{"a timeout of days", with(goodEnv(), "ACRONIS_TIMEOUT", "100h"), []string{"ACRONIS_TIMEOUT 100h0m0s is out of range"}},
		{"ok as a failure", with(goodEnv(), "TASKBOT_FAILED_RESULTS", "error,ok"), []string{"TASKBOT_FAILED_RESULTS names ok"}},
		{"threads neither on nor off", with(goodEnv(), "TASKBOT_THREADS", "sometimes"), []string{"TASKBOT_THREADS \"sometimes\" is neither on nor off"}},
		{"stuck in completed", with(goodEnv(), "TASKBOT_STUCK_AFTER", "completed=1h"), []string{`TASKBOT_STUCK_AFTER: "completed=1h": a task can be stuck only in enqueued, assigned, started or paused`}},
		{"stuck off among limits", with(goodEnv(), "TASKBOT_STUCK_AFTER", "paused=1h,off"), []string{`TASKBOT_STUCK_AFTER: off stands alone: it switches every limit off`}},
		{"stuck in another unit", with(goodEnv(), "TASKBOT_STUCK_AFTER", "paused=1d1w"), []string{`TASKBOT_STUCK_AFTER: "paused=1d1w": "1d1w" is not a duration such as 30m, 2h or 1d`}},
		{"stuck without a duration", with(goodEnv(), "TASKBOT_STUCK_AFTER", "paused"), []string{`TASKBOT_STUCK_AFTER: "paused" is not STATE=DURATION (e.g. paused=1h, or off for none)`}},
		{"stuck after seconds", with(goodEnv(), "TASKBOT_STUCK_AFTER", "paused=10s,started=1y"), []string{`"paused=10s": "10s" is not a duration such as 30m, 2h or 1d`, `"started=1y": "1y" is not a duration such as 30m, 2h or 1d`}},
		{"stuck twice", with(goodEnv(), "TASKBOT_STUCK_AFTER", "paused=1h, PAUSED=2h"), []string{`"PAUSED=2h": paused is given twice`}},
		{"stuck repeat of a second", with(goodEnv(), "TASKBOT_STUCK_REPEAT", "1s"), []string{`TASKBOT_STUCK_REPEAT: "1s" is not a duration such as 30m, 2h or 1d (or 0 or off for never)`}},
		{"stuck repeat of a year", with(goodEnv(), "TASKBOT_STUCK_REPEAT", "365d"), []string{"TASKBOT_STUCK_REPEAT \"365d\" is out of range: give from 1m to 30d, or 0 or off for never"}},
		{"stuck repeat without a unit", with(goodEnv(), "TASKBOT_STUCK_REPEAT", "30"), []string{`TASKBOT_STUCK_REPEAT: "30" is not a duration such as 30m, 2h or 1d (or 0 or off for never)`}},
		{"digest at 9am", with(goodEnv(), "TASKBOT_DIGEST_AT", "9am"), []string{`TASKBOT_DIGEST_AT: "9am" is not a time of day HH:MM from 00:00 to 23:59`}},
		{"digest in a zone that is not", with(goodEnv(), "TASKBOT_DIGEST_AT", "09:00 Berlin"), []string{`TASKBOT_DIGEST_AT: "Berlin" is not an IANA time zone such as Europe/Berlin`}},
		{"a token pasted into TASKBOT_DIGEST_AT is not echoed", with(goodEnv(), "TASKBOT_DIGEST_AT", secrets["SLACK_BOT_TOKEN"]), []string{"TASKBOT_DIGEST_AT holds something that looks like a token"}},
		{"an admin by name", with(goodEnv(), "TASKBOT_ADMINS", "U0123ABCDEF, @alice"), []string{"TASKBOT_ADMINS: \"@alice\" is not a Slack user ID"}},
		{"a token with a space in it", with(goodEnv(), "SLACK_BOT_TOKEN", "xoxb-with space"), []string{"SLACK_BOT_TOKEN contains a space"}},
		{"a secret as the host of ACRONIS_URL is neither echoed nor resolved", with(goodEnv(), "ACRONIS_URL", "https://"+secrets["ACRONIS_CLIENT_SECRET"]),
			[]string{"ACRONIS_URL holds one of the secrets"}},
		{"a secret in SLACK_API_URL", with(goodEnv(), "SLACK_API_URL", "https://"+secrets["SLACK_SIGNING_SECRET"]+"/"), []string{"SLACK_API_URL holds one of the secrets"}},
		{"malformed channel ID", with(goodEnv(), "SLACK_CHANNEL", "c0123456789"), []string{"SLACK_CHANNEL \"c0123456789\" is not a valid channel ID"}},
		{"direct message ID", with(goodEnv(), "SLACK_CHANNEL", "D0123456789"), []string{"SLACK_CHANNEL \"D0123456789\" is not a valid channel ID"}},
		{"plain http to a remote host", with(goodEnv(), "ACRONIS_URL", "http://eu2-cloud.acronis.com"), []string{"ACRONIS_URL must start with https://", "clear text"}},
		{"port out of range", with(goodEnv(), "TASKBOT_LISTEN_ADDR", ":99999"), []string{"TASKBOT_LISTEN_ADDR \":99999\""}},
		{"a token pasted into SLACK_CHANNEL is not echoed", with(goodEnv(), "SLACK_CHANNEL", secrets["SLACK_BOT_TOKEN"]), []string{"SLACK_CHANNEL holds something that looks like a token (not shown)"}},
		{"a token pasted into TASKBOT_ANNOUNCE_STATES is not echoed", with(goodEnv(), "TASKBOT_ANNOUNCE_STATES", secrets["SLACK_APP_TOKEN"]), []string{"TASKBOT_ANNOUNCE_STATES holds something that looks like a token"}},
		{"a token pasted into TASKBOT_LOG_LEVEL is not echoed", with(goodEnv(), "TASKBOT_LOG_LEVEL", secrets["SLACK_BOT_TOKEN"]), []string{"TASKBOT_LOG_LEVEL (a value"}},
		{"a token as signing secret", with(goodEnv(), "SLACK_SIGNING_SECRET", "xoxb-Zq86"), []string{"SLACK_SIGNING_SECRET looks like a token"}},
		{"plain http to a remote Slack", with(goodEnv(), "SLACK_API_URL", "http://slack.com/api/"), []string{"SLACK_API_URL must start with https://", "clear text"}},
		{"several problems at once", with(goodEnv(), "TASKBOT_POLL_INTERVAL", "0s", "SLACK_CHANNEL", "general", "ACRONIS_URL", "ftp://x"),
			[]string{"TASKBOT_POLL_INTERVAL", "SLACK_CHANNEL", "ACRONIS_URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			getenv := mapEnv(tc.env)
			var out bytes.Buffer
			err := run(context.Background(), []string{"serve"}, getenv, strings.NewReader(""), &out, &out)
			code := exitCode(err, &out)
			if code != 2 {
				t.Fatalf("exit status %d, want 2; output:\n%s", code, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for name, s := range secrets {
				if strings.Contains(out.String(), s) {
					t.Errorf("output contains the value of %s:\n%s", name, out.String())
				}
			}
		})
	}
}

func TestConfigTrimsAndDefaults(t *testing.T) {
	t.Parallel()
	getenv := mapEnv(with(goodEnv(), "ACRONIS_URL", " https://eu2-cloud.acronis.com/ \n", "SLACK_SIGNING_SECRET", secrets["SLACK_SIGNING_SECRET"]+"\n",
		"TASKBOT_ANNOUNCE_STATES", " Paused, ,failed ,", "SLACK_API_URL", "http://127.0.0.1:1/api"))
	cfg, err := loadConfig(getenv, needs{acronis: true, slack: true})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AcronisURL != "https://eu2-cloud.acronis.com" || cfg.SlackSigningSecret != secrets["SLACK_SIGNING_SECRET"] {
		t.Errorf("values not trimmed: %q, %q", cfg.AcronisURL, cfg.SlackSigningSecret)
	}
	if cfg.Announce.String() != "paused,failed" || cfg.PollInterval != 30*time.Second || cfg.ListenAddr != ":8080" ||
		cfg.DBPath != "taskbot.db" || cfg.SlackAPIURL != "http://127.0.0.1:1/api/" || cfg.AcronisTimeout != 30*time.Second ||
		cfg.Failures.String() != "error,abandoned,timedout" {
		t.Errorf("config %+v", cfg)
	}
	// The defaults announce failures, and count abandoned and timed-out tasks as failed.
	cfg, err = loadConfig(mapEnv(goodEnv()), needs{acronis: true, slack: true})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Announce.String() != "started,paused,failed,stuck" || !cfg.Failures.Has(tasks.ResultAbandoned) || !cfg.Failures.Has(tasks.ResultTimedOut) {
		t.Errorf("defaults: announce %s, failures %s", cfg.Announce, cfg.Failures)
	}
	if cfg.StuckAfter.String() != "paused=1h" || cfg.StuckRepeat != 0 || cfg.DigestAt != nil {
		t.Errorf("defaults: stuck after %s, repeat %s, digest %v", cfg.StuckAfter, cfg.StuckRepeat, cfg.DigestAt)
	}
	cfg, err = loadConfig(mapEnv(with(goodEnv(), "TASKBOT_STUCK_AFTER", " Started=1d12h , paused=90m", "TASKBOT_STUCK_REPEAT", "2h",
		"TASKBOT_DIGEST_AT", "09:00  Europe/Berlin")), needs{acronis: true, slack: true})
	if err != nil || cfg.StuckAfter.String() != "started=1d12h,paused=1h30m" || cfg.StuckRepeat != 2*time.Hour || cfg.DigestAt == nil || cfg.DigestAt.String() != "09:00 Europe/Berlin" {
		t.Errorf("stuck and digest settings: %v, %+v", err, cfg)
	}
	if cfg, err := loadConfig(mapEnv(with(goodEnv(), "TASKBOT_STUCK_AFTER", "OFF", "TASKBOT_STUCK_REPEAT", "off", "TASKBOT_DIGEST_AT", "Off")), needs{acronis: true, slack: true}); err != nil || cfg.StuckAfter != nil || cfg.StuckRepeat != 0 || cfg.DigestAt != nil {
		t.Errorf("TASKBOT_STUCK_AFTER=off: %v, %v", err, cfg)
	}
	cfg, err = loadConfig(mapEnv(with(goodEnv(), "TASKBOT_THREADS", "OFF", "TASKBOT_ADMINS", " U0123ABCDEF,W0AB12CD34 ")), needs{acronis: true, slack: true})
	if err != nil || !cfg.NoThreads || strings.Join(cfg.Admins, " ") != "U0123ABCDEF W0AB12CD34" {
		t.Errorf("TASKBOT_THREADS=OFF, TASKBOT_ADMINS: %v, %+v", err, cfg)
	}
	cfg, err = loadConfig(mapEnv(with(goodEnv(), "TASKBOT_FAILED_RESULTS", " Error ", "ACRONIS_TIMEOUT", "2m")), needs{acronis: true, slack: true})
	if err != nil || cfg.Failures.String() != "error" || cfg.AcronisTimeout != 2*time.Minute {
		t.Errorf("TASKBOT_FAILED_RESULTS=error, ACRONIS_TIMEOUT=2m: %v, %+v", err, cfg)
	}
	// Socket Mode does not need a signing secret.
	getenv = mapEnv(with(goodEnv(), "SLACK_SIGNING_SECRET", "", "SLACK_APP_TOKEN", secrets["SLACK_APP_TOKEN"]))
	if _, err := loadConfig(getenv, needs{acronis: true, slack: true}); err != nil {
		t.Errorf("socket mode without a signing secret: %v", err)
	}
}

func TestSecondProcessOnTheSameFile(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "taskbot.db")
	held, err := state.Open(db, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	getenv := mapEnv(with(goodEnv(), "TASKBOT_DB_PATH", db, "TASKBOT_LISTEN_ADDR", "127.0.0.1:0"))
	var out bytes.Buffer
	start := time.Now()
	err = run(context.Background(), nil, getenv, strings.NewReader(""), &out, &out)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("second process took %v to give up", took)
	}
	if !errors.Is(err, state.ErrLocked) || exitCode(err, &out) != 1 {
		t.Fatalf("err = %v (exit %d), want ErrLocked and status 1", err, exitCode(err, &out))
	}
	if !strings.Contains(out.String(), db) {
		t.Errorf("message does not name the file: %s", out.String())
	}
}

func TestCommandLine(t *testing.T) {
	t.Parallel()
	getenv := mapEnv(nil)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"version"}, 0, "taskbot "},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"serve", "extra"}, 2, "serve takes no arguments"},
		{[]string{"tasks", "pausd"}, 2, `"pausd"`},
		{[]string{"tasks", "paused"}, 2, "ACRONIS_URL is missing"},
		{[]string{"demo", "-for", "nonsense"}, 2, "usage: taskbot demo"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), tc.args, getenv, strings.NewReader(""), &out, &out)
		if code := exitCode(err, &out); code != tc.code || !strings.Contains(out.String(), tc.want) {
			t.Errorf("taskbot %v: exit %d, output %q; want %d and %q", tc.args, code, out.String(), tc.code, tc.want)
		}
	}
}

// TestStateFilePathProblems: a TASKBOT_DB_PATH that cannot be opened is a configuration
// problem (exit 2) with the fix, naming the path once.
func TestStateFilePathProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "no-such-dir", "taskbot.db"), "create the directory"},
		{dir, "it is a directory"},
		{os.DevNull, "it is not a regular file (a device"},
	} {
		getenv := mapEnv(with(goodEnv(), "TASKBOT_DB_PATH", tc.path, "TASKBOT_LISTEN_ADDR", "127.0.0.1:0"))
		var out bytes.Buffer
		err := run(context.Background(), nil, getenv, strings.NewReader(""), &out, &out)
		if code := exitCode(err, &out); code != 2 || !strings.Contains(out.String(), tc.want) {
			t.Errorf("TASKBOT_DB_PATH %s: exit %d:\n%s", tc.path, code, out.String())
		}
	}
}
