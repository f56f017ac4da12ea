package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
)

// queryRecorder is a Lister that records every tasks.Query it is asked, so that tests can check
// that nothing the user typed reached an API request.
type queryRecorder struct {
	tasks []tasks.Task

	mu      sync.Mutex
	queries []tasks.Query
}

func (r *queryRecorder) List(ctx context.Context, q tasks.Query) (*tasks.ListResult, error) {
	r.mu.Lock()
	r.queries = append(r.queries, q)
	r.mu.Unlock()
	return &tasks.ListResult{Tasks: slices.Clone(r.tasks)}, nil
}

// Queries returns the queries received so far, in order.
func (r *queryRecorder) Queries() []tasks.Query {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.queries)
}

// checkKnownQuery fails t unless q is one a slash command may send: its query string holds only
// the keys state, resultCode, order and limit, each with a documented value, and nothing else
// of the Query is set.
func checkKnownQuery(t testing.TB, q tasks.Query) {
	t.Helper()
	for k, vs := range acronis.QueryValues(q) {
		for _, v := range vs {
			ok := false
			switch k {
			case "state":
				ok = tasks.State(v).Valid()
			case "resultCode":
				ok = tasks.ResultCode(v).Valid()
			case "order":
				ok = v == "desc(updatedAt)" || v == "asc(updatedAt)"
			case "limit":
				ok = v == strconv.Itoa(commandPageSize)
			}
			if !ok {
				t.Fatalf("API query %s has %s=%q, not a known value", acronis.QueryValues(q).Encode(), k, v)
			}
		}
	}
	if len(q.Types) > 0 || len(q.UUIDs) > 0 || !q.UpdatedAfter.IsZero() || !q.CompletedAfter.IsZero() {
		t.Fatalf("a slash command sent a query with types, UUIDs or times: %+v", q)
	}
}

// refuseTransport answers every request with an error, so that a fuzzed response_url never
// leaves the machine.
type refuseTransport struct{}

func (refuseTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("fuzz: outgoing requests are refused")
}

// Signing modes of FuzzSignedRequest.
const (
	fuzzSignCorrect     = iota // signed with the right secret at now+skew
	fuzzSignNone               // no signature headers at all
	fuzzSignWrongSecret        // signed with another secret
	fuzzSignOtherBody          // the right secret over a different body
	fuzzSignGarbage            // a signature header that is not a signature
	fuzzSignModes
)

// fuzzStaleMargin keeps the fuzzer away from the exact 5-minute edge, where the outcome depends on
// the time between signing and checking.
const fuzzStaleMargin = 10 * time.Second

// FuzzSignedRequest sends fuzzed bodies, content types, signatures and timestamps through the
// real HTTP handler of slash commands and interactions. Whatever arrives: no panic and no 5xx;
// a request that is unsigned, badly signed or stale gets 401 and never reaches the API; a
// correctly signed one gets 413, 415 or 400 for a body that is too large, not form-encoded or
// malformed, and otherwise 200 with a JSON answer (commands) or an empty one (interactions); and
// every API request a command causes uses only known states, result codes, orders and limits.
// Seeds are in testdata/fuzz/FuzzSignedRequest too.
func FuzzSignedRequest(f *testing.F) {
	form := "application/x-www-form-urlencoded"
	refresh := func(value string) []byte {
		p := `{"type":"block_actions","response_url":"https://hooks.slack.com/actions/T0/1/x","actions":[{"block_id":"tasks_actions","action_id":"` +
			RefreshActionID + `","value":` + strconv.Quote(value) + `,"type":"button"}]}`
		return []byte(url.Values{"payload": {p}}.Encode())
	}
	f.Add(bottest.CommandForm("paused", "https://hooks.slack.com/commands/T0/1/x"), form, uint8(fuzzSignCorrect), int64(0), false)
	f.Add(bottest.CommandForm("PAUSED failed", ""), form+"; charset=utf-8", uint8(fuzzSignCorrect), int64(-200), false)
	f.Add(bottest.CommandForm("&lt;!channel&gt; <@U123>", ""), form, uint8(fuzzSignCorrect), int64(30), false)
	f.Add(bottest.CommandForm("help", ""), form, uint8(fuzzSignCorrect), int64(-301), false)
	f.Add(bottest.CommandForm("paused", ""), form, uint8(fuzzSignNone), int64(0), false)
	f.Add(bottest.CommandForm("paused", ""), form, uint8(fuzzSignWrongSecret), int64(0), false)
	f.Add(bottest.CommandForm("paused", ""), form, uint8(fuzzSignOtherBody), int64(0), false)
	f.Add(bottest.CommandForm("paused", ""), form, uint8(fuzzSignGarbage), int64(0), false)
	f.Add([]byte(`{"text":"paused"}`), "application/json", uint8(fuzzSignCorrect), int64(0), false)
	f.Add([]byte("text=%zz&command=%2Ftasks"), form, uint8(fuzzSignCorrect), int64(0), false)
	f.Add([]byte("text=paused;ssl_check=1"), form, uint8(fuzzSignCorrect), int64(0), false)
	f.Add(refresh("started paused"), form, uint8(fuzzSignCorrect), int64(0), true)
	f.Add(refresh("<!here> x"), form, uint8(fuzzSignCorrect), int64(0), true)
	f.Add([]byte("payload=%7Bnot+json"), form, uint8(fuzzSignCorrect), int64(0), true)
	f.Add(refresh("paused"), form, uint8(fuzzSignNone), int64(0), true)

	metrics := NewMetrics(nil) // a registry per iteration would dominate the run time
	logger := discardLogger()
	f.Fuzz(func(t *testing.T, body []byte, contentType string, mode uint8, skew int64, interaction bool) {
		api := &queryRecorder{tasks: []tasks.Task{{UUID: "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69", State: tasks.Paused,
			Context: map[string]any{"title": "Backup <!channel> & more"}}}}
		s := NewServer(ServerConfig{SigningSecret: secret, Answerer: NewAnswerer(AnswererConfig{API: api}), Logger: logger, Metrics: metrics,
			HTTPClient: &http.Client{Transport: refuseTransport{}, Timeout: time.Second},
			AckWithin:  time.Second, AnswerTimeout: 5 * time.Second})
		path := "/slack/commands"
		if interaction {
			path = "/slack/interactions"
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		now := time.Now()
		at := now.Unix() + skew // may wrap around: then it is simply stale
		mode %= fuzzSignModes
		switch mode {
		case fuzzSignCorrect:
			bottest.Sign(req, secret, body, time.Unix(at, 0))
		case fuzzSignWrongSecret:
			bottest.Sign(req, "not-"+secret, body, time.Unix(at, 0))
		case fuzzSignOtherBody:
			bottest.Sign(req, secret, append(slices.Clip(body), 'x'), time.Unix(at, 0))
		case fuzzSignGarbage:
			req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(at, 10))
			req.Header.Set("X-Slack-Signature", "v0="+contentType)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)

		drainCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Drain(drainCtx); err != nil {
			t.Fatalf("drain: %v", err)
		}

		code := rec.Code
		if code >= 500 {
			t.Fatalf("status %d for %s %q (mode %d, skew %d): %s", code, path, body, mode, skew, rec.Body)
		}
		queries := api.Queries()
		for _, q := range queries {
			checkKnownQuery(t, q)
		}
		age := now.Sub(time.Unix(at, 0)).Abs()
		tooBig := len(body) > MaxBodyBytes
		switch {
		case tooBig:
			// The size limit applies before the signature is read.
			if code != http.StatusRequestEntityTooLarge {
				t.Fatalf("a %d-byte body got %d, want 413", len(body), code)
			}
		case mode != fuzzSignCorrect || age > 5*time.Minute+fuzzStaleMargin:
			if code != http.StatusUnauthorized {
				t.Fatalf("mode %d, age %v: status %d (%s), want 401", mode, age, code, rec.Body)
			}
		case age < 5*time.Minute-fuzzStaleMargin:
			if want := expectedSignedStatus(body, contentType, interaction); code != want {
				t.Fatalf("signed %s %q (%q): status %d (%s), want %d", path, body, contentType, code, rec.Body, want)
			}
		}
		if code != http.StatusOK {
			if len(queries) > 0 {
				t.Fatalf("a request answered %d made %d API calls", code, len(queries))
			}
			return
		}
		// The API was asked exactly the queries of the command (none for usage and help) or of
		// the Refresh button's value.
		form, _ := url.ParseQuery(string(body))
		text, asked := form.Get("text"), !interaction && form.Get("ssl_check") != "1"
		if interaction {
			var cb slack.InteractionCallback
			_ = json.Unmarshal([]byte(form.Get("payload")), &cb)
			text, asked = refreshValue(cb)
		}
		want := 0
		if cmd, err := ParseCommand(text); err == nil && asked {
			want = len(cmd.Queries())
		}
		if len(queries) != want {
			t.Fatalf("%s with text %q made %d API calls, want %d", path, text, len(queries), want)
		}
		if interaction || form.Get("ssl_check") == "1" {
			if rec.Body.Len() != 0 {
				t.Fatalf("%s answered 200 with a body: %s", path, rec.Body)
			}
			return
		}
		// A 200 to a command is Slack's JSON message.
		var m struct {
			ResponseType string            `json:"response_type"`
			Text         string            `json:"text"`
			Blocks       []json.RawMessage `json:"blocks"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m.Text == "" || m.ResponseType != "ephemeral" {
			t.Fatalf("answer %s is not an ephemeral JSON message with text (%v)", rec.Body, err)
		}
	})
}

// expectedSignedStatus is the status the handler owes a correctly signed, fresh request of at
// most MaxBodyBytes: 415 unless it is form-encoded, 400 for a malformed form (or, for
// interactions, a payload that is not JSON), else 200.
func expectedSignedStatus(body []byte, contentType string, interaction bool) int {
	if mt, _, _ := mime.ParseMediaType(contentType); mt != "application/x-www-form-urlencoded" {
		return http.StatusUnsupportedMediaType
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return http.StatusBadRequest
	}
	if interaction {
		var cb slack.InteractionCallback
		if json.Unmarshal([]byte(form.Get("payload")), &cb) != nil {
			return http.StatusBadRequest
		}
	}
	return http.StatusOK
}

// refreshValue is the value of the first Refresh button action of a block_actions interaction
// (the command it re-runs), and whether there is one.
func refreshValue(cb slack.InteractionCallback) (string, bool) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return "", false
	}
	for _, act := range cb.ActionCallback.BlockActions {
		if act != nil && act.ActionID == RefreshActionID {
			return act.Value, true
		}
	}
	return "", false
}
