package bot

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks"
)

const secret = "test-signing-secret"

func newTestServer(api tasks.Lister) (*Server, *httptest.Server) {
	s := NewServer(ServerConfig{SigningSecret: secret, Answerer: NewAnswerer(AnswererConfig{API: api}), Logger: discardLogger(), AckWithin: 300 * time.Millisecond})
	return s, httptest.NewServer(s.Handler())
}

func post(t *testing.T, url, contentType string, body []byte, sign bool) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if sign {
		bottest.Sign(req, secret, body, time.Now())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, unescapeJSON(string(b))
}

// unescapeJSON undoes encoding/json's HTML escaping (slack-go's block types always apply it),
// so that assertions see the text Slack will read.
func unescapeJSON(s string) string {
	return strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(s)
}

func TestCommandRequests(t *testing.T) {
	api := &countingLister{tasks: []tasks.Task{{UUID: "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69", State: tasks.Paused, Context: map[string]any{"title": "Backup <!channel> & more"}}}}
	s, hs := newTestServer(api)
	defer hs.Close()
	defer s.Drain(t.Context())
	form := "application/x-www-form-urlencoded"
	big := bottest.CommandForm(strings.Repeat("x", MaxBodyBytes), "https://example.invalid/r")

	for _, tc := range []struct {
		name        string
		contentType string
		body        []byte
		sign        bool
		wantStatus  int
		wantBody    string
		wantAPI     bool
	}{
		{"paused", form, bottest.CommandForm("paused", "https://example.invalid/r"), true, 200, "Backup &lt;!channel&gt; &amp; more", true},
		{"help needs no API call", form, bottest.CommandForm("help", ""), true, 200, "/tasks", false},
		{"unknown word names the word", form, bottest.CommandForm("pausd", ""), true, 200, "pausd", false},
		{"unsigned", form, bottest.CommandForm("paused", ""), false, 401, "", false},
		{"too large", form, big, true, 413, "", false},
		{"not a form", "application/json", []byte(`{"text":"paused"}`), true, 415, "", false},
		{"bad url-encoding", form, []byte("text=%zz&command=%2Ftasks"), true, 400, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := api.calls.Load()
			code, body := post(t, hs.URL+"/slack/commands", tc.contentType, tc.body, tc.sign)
			if code != tc.wantStatus {
				t.Fatalf("status %d (%s), want %d", code, body, tc.wantStatus)
			}
			if !strings.Contains(body, tc.wantBody) {
				t.Errorf("body %s lacks %q", body, tc.wantBody)
			}
			if strings.Contains(body, "<!channel>") {
				t.Errorf("body mentions the channel: %s", body)
			}
			if called := api.calls.Load() > before; called != tc.wantAPI {
				t.Errorf("API called = %v, want %v", called, tc.wantAPI)
			}
		})
	}

	t.Run("ssl_check", func(t *testing.T) {
		resp, err := http.Get(hs.URL + "/slack/commands?ssl_check=1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("ssl_check got %d", resp.StatusCode)
		}
	})
}

func TestInteractions(t *testing.T) {
	api := &countingLister{tasks: []tasks.Task{{UUID: "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69", State: tasks.Started, Context: map[string]any{"title": "Refreshed backup"}}}}
	s, hs := newTestServer(api)
	defer hs.Close()
	ru := bottest.NewResponseURL()
	defer ru.Close()
	form := "application/x-www-form-urlencoded"
	payload := func(p string) []byte { return []byte(url.Values{"payload": {p}}.Encode()) }
	refresh := `{"type":"block_actions","response_url":"` + ru.URL + `","actions":[{"block_id":"tasks_actions","action_id":"` + RefreshActionID + `","value":"started","type":"button"}]}`

	if code, _ := post(t, hs.URL+"/slack/interactions", form, payload(refresh), false); code != 401 {
		t.Errorf("unsigned interaction got %d, want 401", code)
	}
	if code, _ := post(t, hs.URL+"/slack/interactions", form, payload("{not json"), true); code != 400 {
		t.Errorf("malformed payload got %d, want 400", code)
	}
	if code, _ := post(t, hs.URL+"/slack/interactions", form, payload(refresh), true); code != 200 {
		t.Fatalf("refresh got %d, want 200", code)
	}
	s.Drain(t.Context())
	posts := ru.Posts()
	if len(posts) != 1 || !strings.Contains(unescapeJSON(string(posts[0])), "Refreshed backup") || !strings.Contains(string(posts[0]), `"replace_original":true`) {
		t.Fatalf("refresh posted %s, want the task list replacing the message", posts)
	}
}

// BenchmarkSignedCommand measures one signed /tasks request through the handler: signature
// check, form parsing, the (in-memory) API call and Block Kit rendering of 50 tasks.
func BenchmarkSignedCommand(b *testing.B) {
	var ts []tasks.Task
	for i := range 50 {
		ts = append(ts, tasks.Task{UUID: fmt.Sprintf("6f1c2a0e-3b7d-4c1a-9e55-%012d", i), State: tasks.Paused,
			Context: map[string]any{"title": fmt.Sprintf("Backup plan 'R&D <nightly>' on FS-%02d", i)}, UpdatedAt: time.Now()})
	}
	s := NewServer(ServerConfig{SigningSecret: secret, Answerer: NewAnswerer(AnswererConfig{API: &countingLister{tasks: ts}}), Logger: discardLogger()})
	h := s.Handler()
	body := bottest.CommandForm("paused", "https://example.invalid/r")
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/slack/commands", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		bottest.Sign(req, secret, body, time.Now())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
