package bot

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
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
			s := NewServer(ServerConfig{SigningSecret: v.Secret, Answerer: NewAnswerer(api, nil, nil, nil), Logger: discardLogger()})
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
		s := NewServer(ServerConfig{SigningSecret: v.Secret, Answerer: NewAnswerer(api, nil, nil, nil), Logger: discardLogger()})
		if code := statusFor(v, s, v.Signature); code != http.StatusUnauthorized {
			t.Fatalf("a 2018 timestamp got %d today, want 401", code)
		}
		if api.calls.Load() != before {
			t.Fatal("a rejected request reached the API")
		}
	})
}
