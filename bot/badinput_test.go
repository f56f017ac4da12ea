package bot

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks"
)

// mentions are what user text must never turn into in a reply: each would notify people or
// link a user if Slack read it unescaped.
var mentions = []string{"<!channel>", "<!here>", "<!everyone>", "<@U123>", "<@"}

// newBadInputServer serves a real handler over HTTP with a recording API. AckWithin is long so
// that the instant fake API always answers in the acknowledgement, even on a loaded machine.
func newBadInputServer(t *testing.T) (*Server, *queryRecorder, string) {
	t.Helper()
	api := &queryRecorder{tasks: []tasks.Task{{UUID: "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69", State: tasks.Paused,
		UpdatedAt: time.Now().Add(-time.Minute), Context: map[string]any{"title": "Backup <!channel> & more"}}}}
	s := NewServer(ServerConfig{SigningSecret: secret, Answerer: NewAnswerer(AnswererConfig{API: api}), Logger: discardLogger(),
		AckWithin: 10 * time.Second, HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(func() { s.Drain(t.Context()) })
	return s, api, hs.URL
}

// signedPost posts body to url, signed at time at when sign is set, and returns the status and
// the raw answer.
func signedPost(t *testing.T, url string, body []byte, sign bool, at time.Time) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sign {
		bottest.Sign(req, secret, body, at)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// replyTexts decodes a Slack message (a command's answer or a response_url post) and returns
// every text in it, as Slack will read them: the fallback text and each "text" string anywhere
// in the blocks. Decoding undoes encoding/json's \u003c HTML escaping.
func replyTexts(t *testing.T, raw []byte) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("reply is not a JSON object: %v: %s", err, raw)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && k == "text" {
					out = append(out, s)
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(m)
	if len(out) == 0 {
		t.Fatalf("reply has no text: %s", raw)
	}
	return out
}

// checkNoMentions fails t when a reply text could mention or link anyone.
func checkNoMentions(t *testing.T, texts []string) {
	t.Helper()
	for _, s := range texts {
		for _, m := range mentions {
			if strings.Contains(s, m) {
				t.Errorf("reply text %q contains %q", s, m)
			}
		}
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			t.Errorf("reply text %q is not valid UTF-8 or contains NUL", s)
		}
	}
}

func TestCommandBadInput(t *testing.T) {
	inProgress := []tasks.State{tasks.Started, tasks.Paused}
	paused := []tasks.State{tasks.Paused}
	for _, tc := range []struct {
		name string
		text string
		// want are strings the reply must contain (in its decoded texts, joined).
		want []string
		// states are the state sets the API is asked for, one per query; nil means no API call.
		states [][]tasks.State
	}{
		{"empty text is the default command", "", []string{"Tasks in progress"}, [][]tasks.State{inProgress}},
		{"only white space is the default command", " \t\n  ", []string{"Tasks in progress"}, [][]tasks.State{inProgress}},
		{"Unicode spaces separate words", "\u00a0paused\u2003failed\u3000\tstarted\n", []string{"Tasks started, paused or failed"},
			[][]tasks.State{{tasks.Started, tasks.Paused}, {tasks.Completed}}},
		{"upper case", "PAUSED", []string{"Tasks paused"}, [][]tasks.State{paused}},
		{"mixed case and commas", "Paused,,PAUSED, paused", []string{"Tasks paused"}, [][]tasks.State{paused}},
		{"help in capitals needs no API call", "  HELP ", []string{"Usage", "/tasks help"}, nil},
		{"a word Slack escaped", "&lt;!channel&gt;", []string{`I don't understand "&lt;!channel&gt;"`, "Usage"}, nil},
		{"an escaped ampersand", "&amp;", []string{`I don't understand "&amp;"`}, nil},
		{"a doubly escaped entity stays escaped once", "&amp;lt;", []string{`I don't understand "&amp;lt;"`}, nil},
		{"a user mention", "<@U123>", []string{`I don't understand "&lt;@U123&gt;"`}, nil},
		{"a mention with a label", "<@U123|oncall>", []string{`I don't understand "&lt;@U123|oncall&gt;"`}, nil},
		{"here before a valid state", "<!here> paused", []string{`I don't understand "&lt;!here&gt;"`}, nil},
		{"channel after a valid state", "paused <!channel>", []string{`I don't understand "&lt;!channel&gt;"`}, nil},
		{"10,000 characters of one word", strings.Repeat("x", 10000), []string{`I don't understand "` + strings.Repeat("x", 30)}, nil},
		{"10,000 characters of valid words", strings.Repeat("paused ", 10000/len("paused ")), []string{"Tasks paused"}, [][]tasks.State{paused}},
		{"invalid UTF-8", "\xff\xfe\xfd", []string{"I don't understand", "Usage"}, nil},
		{"invalid UTF-8 inside a state", "pau\xffsed", []string{"I don't understand", "Usage"}, nil},
		// Invisible characters are dropped before the words are read, so the reply never
		// names a word that looks valid or empty.
		{"a NUL byte after a state", "paused\x00", []string{"Tasks paused"}, [][]tasks.State{paused}},
		{"only NUL bytes and a zero-width space", "\x00\u200b\x00", []string{"Tasks in progress"}, [][]tasks.State{inProgress}},
		{"a zero-width space joins two words", "paused\u200bfailed", []string{`I don't understand "pausedfailed"`, "Usage"}, nil},
		{"a bidi override inside an unknown word", "x\u202eyz", []string{`I don't understand "xyz"`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, api, base := newBadInputServer(t)
			ru := bottest.NewResponseURL()
			defer ru.Close()
			code, raw := signedPost(t, base+"/slack/commands", bottest.CommandForm(tc.text, ru.URL), true, time.Now())
			if code != http.StatusOK {
				t.Fatalf("status %d (%s), want 200", code, raw)
			}
			texts := replyTexts(t, raw)
			checkNoMentions(t, texts)
			all := strings.Join(texts, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("reply lacks %q:\n%s", w, all)
				}
			}
			if len(raw) > 8<<10 && tc.states == nil {
				t.Errorf("a usage reply of %d bytes; it should be short", len(raw))
			}
			if err := s.Drain(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := len(ru.Posts()); n != 0 {
				t.Errorf("%d posts to response_url; the answer was due in the acknowledgement", n)
			}
			qs := api.Queries()
			if len(qs) != len(tc.states) {
				t.Fatalf("%d API queries, want %d: %+v", len(qs), len(tc.states), qs)
			}
			for i, q := range qs {
				checkKnownQuery(t, q)
				if !slices.Equal(q.States, tc.states[i]) {
					t.Errorf("query %d asks for %v, want %v", i, q.States, tc.states[i])
				}
			}
		})
	}
}

func TestInteractionBadInput(t *testing.T) {
	payload := func(p string) []byte { return []byte(url.Values{"payload": {p}}.Encode()) }
	action := func(typ, responseURL, actionID, value string) []byte {
		p, err := json.Marshal(map[string]any{"type": typ, "response_url": responseURL, "actions": []map[string]any{{
			"block_id": "tasks_actions", "action_id": actionID, "value": value, "type": "button"}}})
		if err != nil {
			t.Fatal(err)
		}
		return payload(string(p))
	}
	for _, tc := range []struct {
		name       string
		body       func(responseURL string) []byte
		sign       bool
		age        time.Duration
		wantStatus int
		// wantPost are strings the response_url post must contain; nil means no post.
		wantPost []string
		// states is the state set the API is asked for; nil means no API call.
		states []tasks.State
	}{
		{"unsigned refresh", func(u string) []byte { return action("block_actions", u, RefreshActionID, "paused") },
			false, 0, http.StatusUnauthorized, nil, nil},
		{"stale refresh", func(u string) []byte { return action("block_actions", u, RefreshActionID, "paused") },
			true, 6 * time.Minute, http.StatusUnauthorized, nil, nil},
		{"refresh from the future", func(u string) []byte { return action("block_actions", u, RefreshActionID, "paused") },
			true, -6 * time.Minute, http.StatusUnauthorized, nil, nil},
		{"malformed JSON payload", func(string) []byte { return payload(`{"type":"block_actions",`) },
			true, 0, http.StatusBadRequest, nil, nil},
		{"payload that is not an object", func(string) []byte { return payload(`["block_actions"]`) },
			true, 0, http.StatusBadRequest, nil, nil},
		{"missing payload field", func(string) []byte { return []byte("type=block_actions&actions=refresh") },
			true, 0, http.StatusBadRequest, nil, nil},
		{"empty body", func(string) []byte { return nil },
			true, 0, http.StatusBadRequest, nil, nil},
		{"unknown action id", func(u string) []byte { return action("block_actions", u, "approve_everything", "paused") },
			true, 0, http.StatusOK, nil, nil},
		{"refresh in an interaction that is not a block action", func(u string) []byte { return action("view_submission", u, RefreshActionID, "paused") },
			true, 0, http.StatusOK, nil, nil},
		{"refresh whose value is garbage", func(u string) []byte { return action("block_actions", u, RefreshActionID, "<!channel> rm -rf") },
			true, 0, http.StatusOK, []string{`I don't understand "&lt;!channel&gt;"`, "Usage"}, nil},
		{"refresh whose value is invalid UTF-8 and NUL", func(u string) []byte { return action("block_actions", u, RefreshActionID, "\xff\x00") },
			true, 0, http.StatusOK, []string{"I don't understand", "Usage"}, nil},
		{"refresh whose value is 10,000 characters", func(u string) []byte {
			return action("block_actions", u, RefreshActionID, strings.Repeat("<@U123>", 1500))
		},
			true, 0, http.StatusOK, []string{"I don't understand"}, nil},
		{"refresh in capitals", func(u string) []byte { return action("block_actions", u, RefreshActionID, " PAUSED ") },
			true, 0, http.StatusOK, []string{"Tasks paused", "Backup &lt;!channel&gt; &amp; more"}, []tasks.State{tasks.Paused}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, api, base := newBadInputServer(t)
			ru := bottest.NewResponseURL()
			defer ru.Close()
			code, raw := signedPost(t, base+"/slack/interactions", tc.body(ru.URL), tc.sign, time.Now().Add(-tc.age))
			if code != tc.wantStatus {
				t.Fatalf("status %d (%s), want %d", code, raw, tc.wantStatus)
			}
			if err := s.Drain(t.Context()); err != nil {
				t.Fatal(err)
			}
			posts := ru.Posts()
			switch {
			case tc.wantPost == nil && len(posts) != 0:
				t.Errorf("response_url got %d posts, want none: %s", len(posts), posts)
			case tc.wantPost != nil && len(posts) != 1:
				t.Errorf("response_url got %d posts, want 1", len(posts))
			case tc.wantPost != nil:
				texts := replyTexts(t, posts[0])
				checkNoMentions(t, texts)
				all := strings.Join(texts, "\n")
				for _, w := range tc.wantPost {
					if !strings.Contains(all, w) {
						t.Errorf("response_url post lacks %q:\n%s", w, all)
					}
				}
			}
			qs := api.Queries()
			if tc.states == nil {
				if len(qs) != 0 {
					t.Fatalf("%d API queries, want none: %+v", len(qs), qs)
				}
				return
			}
			if len(qs) != 1 || !slices.Equal(qs[0].States, tc.states) {
				t.Fatalf("API queries %+v, want one for %v", qs, tc.states)
			}
			checkKnownQuery(t, qs[0])
		})
	}
}
