package bot

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/taskbot/taskbot/bot/bottest"
)

// signatureVector is Slack's documented request-signing example
// (testdata/slack/signature-vector.json, from api.slack.com/authentication/verifying-requests-from-slack).
type signatureVector struct {
	Secret    string `json:"signing_secret"`
	Timestamp string `json:"timestamp"`
	Body      string `json:"body"`
	Signature string `json:"signature"`
}

func loadVector(t *testing.T) signatureVector {
	t.Helper()
	raw, err := os.ReadFile("../testdata/slack/signature-vector.json")
	if err != nil {
		t.Fatal(err)
	}
	var v signatureVector
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// statusFor sends Slack's example request through the real handler.
func statusFor(v signatureVector, s *Server, signature string) int {
	req := httptest.NewRequest("POST", "/slack/commands", bytes.NewReader([]byte(v.Body)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", v.Timestamp)
	req.Header.Set("X-Slack-Signature", signature)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec.Code
}

func TestSlackSignatureVector(t *testing.T) {
	v := loadVector(t)
	ts, err := strconv.ParseInt(v.Timestamp, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	api := &countingLister{}

	t.Run("verifies with the clock at the example's timestamp", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// synctest's clock starts at 2000-01-01; sleeping moves it to the vector's time.
			time.Sleep(time.Until(time.Unix(ts, 0).Add(30 * time.Second)))
			s := NewServer(ServerConfig{SigningSecret: v.Secret, Answerer: NewAnswerer(AnswererConfig{API: api}), Logger: discardLogger()})
			if code := statusFor(v, s, v.Signature); code != http.StatusOK {
				t.Fatalf("Slack's own example got %d, want 200", code)
			}
			// One changed byte of the signature fails.
			bad := []byte(v.Signature)
			bad[len(bad)-1] ^= 1
			if code := statusFor(v, s, string(bad)); code != http.StatusUnauthorized {
				t.Fatalf("a changed signature got %d, want 401", code)
			}
			s.Drain(t.Context())
		})
	})

	t.Run("fails at today's clock", func(t *testing.T) {
		before := api.calls.Load()
		s := NewServer(ServerConfig{SigningSecret: v.Secret, Answerer: NewAnswerer(AnswererConfig{API: api}), Logger: discardLogger()})
		if code := statusFor(v, s, v.Signature); code != http.StatusUnauthorized {
			t.Fatalf("a 2018 timestamp got %d today, want 401", code)
		}
		if api.calls.Load() != before {
			t.Fatal("a rejected request reached the API")
		}
	})
}

// TestRejectedSignatureLogsSkew: the warning about a rejected request says how far its
// X-Slack-Request-Timestamp is from the host clock, so that a skewed clock (minutes or hours)
// and a wrong secret (about zero) can be told apart.
func TestRejectedSignatureLogsSkew(t *testing.T) {
	skewOf := regexp.MustCompile(`skew=("[^"]*"|\S+)`)
	reasonOf := regexp.MustCompile(`reason="([^"]*)"`)
	body := []byte("command=%2Ftasks&text=paused")
	for _, tc := range []struct {
		name       string
		sign       func(req *http.Request)
		wantReason string
		wantSkew   func(v string) bool
		skewWanted string
	}{
		{"wrong secret, clock right", func(req *http.Request) { bottest.Sign(req, "not-the-secret", body, time.Now()) },
			"signature mismatch", func(v string) bool { d, err := time.ParseDuration(v); return err == nil && d.Abs() <= 2*time.Second }, "about 0s"},
		{"request 3 hours old (host clock ahead)", func(req *http.Request) { bottest.Sign(req, secret, body, time.Now().Add(-3*time.Hour)) },
			"stale timestamp", func(v string) bool {
				d, err := time.ParseDuration(v)
				return err == nil && (d-3*time.Hour).Abs() <= 2*time.Second
			}, "about 3h0m0s"},
		{"request 10 minutes ahead (host clock behind)", func(req *http.Request) { bottest.Sign(req, secret, body, time.Now().Add(10*time.Minute)) },
			"stale timestamp", func(v string) bool {
				d, err := time.ParseDuration(v)
				return err == nil && (d+10*time.Minute).Abs() <= 2*time.Second
			}, "about -10m0s"},
		{"no timestamp", func(req *http.Request) { req.Header.Set("X-Slack-Signature", "v0=00") },
			"missing headers", func(v string) bool { return v == "missing" }, `"missing"`},
		{"timestamp not a number", func(req *http.Request) {
			bottest.Sign(req, secret, body, time.Now())
			req.Header.Set("X-Slack-Request-Timestamp", "yesterday")
		}, "malformed headers", func(v string) bool { return v == "not a number" }, `"not a number"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			api := &countingLister{}
			s := NewServer(ServerConfig{SigningSecret: secret, Answerer: NewAnswerer(AnswererConfig{API: api}), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			hs := httptest.NewServer(s.Handler())
			defer hs.Close()
			req, _ := http.NewRequest("POST", hs.URL+"/slack/commands", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			tc.sign(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || api.calls.Load() != 0 {
				t.Fatalf("status %d with %d API calls, want 401 and none", resp.StatusCode, api.calls.Load())
			}
			line := logs.String()
			m := skewOf.FindStringSubmatch(line)
			if m == nil || !tc.wantSkew(strings.Trim(m[1], `"`)) {
				t.Errorf("skew in the log is %q, want %s:\n%s", m, tc.skewWanted, line)
			}
			if r := reasonOf.FindStringSubmatch(line); r == nil || r[1] != tc.wantReason {
				t.Errorf("reason in the log is %q, want %q:\n%s", r, tc.wantReason, line)
			}
			if strings.Contains(line, secret) {
				t.Errorf("the log holds the signing secret:\n%s", line)
			}
		})
	}
}
