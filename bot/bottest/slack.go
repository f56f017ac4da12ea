// Package bottest is a fake Slack for tests: a slack-go/slacktest server whose chat.postMessage
// and chat.update handlers record every message and can be told to fail the way Slack fails
// (an error code, 429 with or without Retry-After, 5xx, a hanging answer, a connection reset),
// whose users.info and auth.test tell the bot's own organization from others (Slack Connect),
// plus a response_url server and a request signer that follows Slack's signing scheme.
package bottest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack/slacktest"
)

// Post is one message Slack received through chat.postMessage or chat.update.
type Post struct {
	Method    string // "chat.postMessage" or "chat.update"
	Channel   string
	TS        string // the message's ts (assigned for posts, the updated one for updates)
	ThreadTS  string
	Broadcast bool
	Text      string
	Blocks    json.RawMessage
	Token     string
}

// Fault makes the next Times calls to Method fail ("" matches chat.postMessage and chat.update,
// never users.info or auth.test; conversations.info takes an Error only), of Channel when it is
// set, and only replies in a thread when InThread is set.
type Fault struct {
	Method     string
	Channel    string
	InThread   bool
	Error      string        // Slack error string, e.g. "not_in_channel" (HTTP 200, ok:false)
	Status     int           // HTTP status, e.g. 429 or 503, instead of an error string
	RetryAfter int           // seconds, sent as Retry-After with Status 429 when > 0
	Delay      time.Duration // wait before answering
	Times      int           // 0: until ClearFaults
	// DelayAfterRecord holds the answer of an accepted call back this long after the message
	// was recorded (with no Error or Status): the caller has posted but does not know it yet,
	// so a crash in that window repeats the post. The hold ends early when the caller hangs up.
	DelayAfterRecord time.Duration
	// Reset closes the connection without an answer, as a proxy or load balancer that drops
	// it does: the client sees a connection reset (or an unexpected EOF), never a status.
	Reset bool
}

// Slack is a running fake Slack Web API.
type Slack struct {
	*slacktest.Server
	mu     sync.Mutex
	posts  []Post
	faults []Fault
	seq    int
	calls  int
	chans  map[string]channel
	joins  int
	sock   socketMode

	home        member            // what auth.test answers; users never set are of its team
	users       map[string]member // by user ID, for users.info
	userLookups int
	authTests   int
}

// HomeTeam is the team ID of the bot's own workspace as slacktest's auth.test answers it: the
// team of every user not set with SetUser.
const HomeTeam = "T024BE7LD"

// member is a user's organization: their team ("T…", or "E…" for an org-wide user) and, in an
// Enterprise org, the org's ID ("" outside one).
type member struct {
	team       string
	enterprise string
}

// SetUser makes users.info answer that user id belongs to team (e.g. HomeTeam, or "T0CUSTOMER"
// for a customer's workspace in a Slack Connect channel), outside any Enterprise org.
func (s *Slack) SetUser(id, team string) { s.SetUserEnterprise(id, team, "") }

// SetUserEnterprise makes users.info answer that user id belongs to team in the Enterprise org
// enterprise ("E…"), which users.info gives as enterprise_user.enterprise_id.
func (s *Slack) SetUserEnterprise(id, team, enterprise string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[id] = member{team, enterprise}
}

// SetHome makes auth.test answer team as the bot's team_id and, when not "", enterprise as its
// enterprise_id (a bot in an Enterprise org); users never set become members of team.
func (s *Slack) SetHome(team, enterprise string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.home = member{team, enterprise}
}

// UserLookups counts users.info calls, failed ones included.
func (s *Slack) UserLookups() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userLookups
}

// AuthTests counts auth.test calls, failed ones included.
func (s *Slack) AuthTests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authTests
}

// usersInfo answers users.info (https://api.slack.com/methods/users.info) with the user's ID,
// team_id and, in an Enterprise org, enterprise_user; faults for "users.info" apply.
func (s *Slack) usersInfo(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	id := r.Form.Get("user")
	s.mu.Lock()
	s.userLookups++
	m, ok := s.users[id]
	if !ok {
		m = member{team: s.home.team}
	}
	s.mu.Unlock()
	if f, ok := s.fault("users.info", "", ""); ok && failAs(w, r, f) {
		return
	}
	user := map[string]any{"id": id, "team_id": m.team}
	if m.enterprise != "" {
		user["enterprise_user"] = map[string]any{"id": id, "enterprise_id": m.enterprise,
			"enterprise_name": "Enterprise " + m.enterprise, "teams": []string{m.team}}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "user": user})
}

// authTest answers auth.test as slacktest does, with the team and enterprise of SetHome;
// faults for "auth.test" apply.
func (s *Slack) authTest(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.authTests++
	home := s.home
	s.mu.Unlock()
	if f, ok := s.fault("auth.test", "", ""); ok && failAs(w, r, f) {
		return
	}
	answer := map[string]any{"ok": true, "url": "https://localhost.localdomain/", "team": "SlackTest Team",
		"user": "Egon Spengler", "team_id": home.team, "user_id": "W012A3CDE"}
	if home.enterprise != "" {
		answer["enterprise_id"] = home.enterprise
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

type channel struct {
	name   string
	member bool
}

// SetChannel makes conversations.info know channel id, named name, with the bot a member or
// not. Channels not set answer channel_not_found.
func (s *Slack) SetChannel(id, name string, member bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chans[id] = channel{name, member}
}

// Joins counts conversations.join calls (taskbot check must never join).
func (s *Slack) Joins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.joins
}

func (s *Slack) conversationsInfo(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	id := r.Form.Get("channel")
	if f, ok := s.fault("conversations.info", id, ""); ok && f.Error != "" {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":false,"error":%q}`, f.Error)
		return
	}
	s.mu.Lock()
	ch, ok := s.chans[id]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		io.WriteString(w, `{"ok":false,"error":"channel_not_found"}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": map[string]any{
		"id": id, "name": ch.name, "is_channel": true, "is_member": ch.member}})
}

// NewSlack starts a fake Slack; its API base URL (for SLACK_API_URL) is URL().
func NewSlack() *Slack {
	s := &Slack{chans: map[string]channel{}, home: member{team: HomeTeam}, users: map[string]member{}, sock: socketMode{ready: make(chan struct{}), acks: map[string][]chan json.RawMessage{}, counts: map[string]int{}}}
	s.Server = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", s.handle("chat.postMessage"))
		c.Handle("/chat.update", s.handle("chat.update"))
		c.Handle("/conversations.info", s.conversationsInfo)
		c.Handle("/users.info", s.usersInfo)
		c.Handle("/auth.test", s.authTest)
		c.Handle("/apps.connections.open", s.connectionsOpen)
		c.Handle("/socket", s.socket)
		c.Handle("/conversations.join", func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			s.joins++
			s.mu.Unlock()
			io.WriteString(w, `{"ok":true}`)
		})
	})
	s.Server.Start()
	return s
}

// URL is the Web API base URL, ending in "/".
func (s *Slack) URL() string { return s.Server.GetAPIURL() }

// Close stops the server.
func (s *Slack) Close() { s.Server.Stop() }

// Fail queues a fault.
func (s *Slack) Fail(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// ClearFaults removes every queued fault.
func (s *Slack) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Posts returns what was accepted so far, in order.
func (s *Slack) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...)
}

// Messages returns the accepted chat.postMessage calls only.
func (s *Slack) Messages() []Post {
	var out []Post
	for _, p := range s.Posts() {
		if p.Method == "chat.postMessage" {
			out = append(out, p)
		}
	}
	return out
}

// Calls counts every call to the two methods, failed ones included.
func (s *Slack) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *Slack) fault(method, channel, thread string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !f.appliesTo(method) || f.Channel != "" && f.Channel != channel || f.InThread && thread == "" {
			continue
		}
		if f.Times > 0 {
			s.faults[i].Times--
			if s.faults[i].Times == 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		return f, true
	}
	return Fault{}, false
}

// appliesTo reports whether the fault is for method: its own Method, or with none any method
// but users.info and auth.test (which tests fail by name, so that a fault meant for a post is
// not spent on them).
func (f Fault) appliesTo(method string) bool {
	if f.Method == "" {
		return method != "users.info" && method != "auth.test"
	}
	return f.Method == method
}

// failAs answers r as f says, after f's Delay, and reports whether it did: false when f only
// delays (or holds the answer after recording), so the call goes on; true too when the caller
// hung up during the Delay.
func failAs(w http.ResponseWriter, r *http.Request, f Fault) bool {
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return true
		}
	}
	switch {
	case f.Reset:
		resetConnection(w)
	case f.Status == http.StatusTooManyRequests:
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
		w.WriteHeader(http.StatusTooManyRequests)
	case f.Status != 0:
		http.Error(w, http.StatusText(f.Status), f.Status)
	case f.Error != "":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":false,"error":%q}`, f.Error)
	default:
		return false
	}
	return true
}

func (s *Slack) handle(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		s.mu.Lock()
		s.calls++
		s.mu.Unlock()
		var hold time.Duration
		if f, ok := s.fault(method, form.Get("channel"), form.Get("thread_ts")); ok {
			hold = f.DelayAfterRecord
			if failAs(w, r, f) {
				return
			}
		}
		token := form.Get("token")
		if token == "" {
			token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		p := Post{Method: method, Channel: form.Get("channel"), ThreadTS: form.Get("thread_ts"),
			Broadcast: form.Get("reply_broadcast") == "true", Text: form.Get("text"), Token: token}
		if b := form.Get("blocks"); b != "" {
			p.Blocks = json.RawMessage(b)
		}
		s.mu.Lock()
		if method == "chat.update" {
			p.TS = form.Get("ts")
		} else {
			s.seq++
			p.TS = fmt.Sprintf("1700000000.%06d", s.seq)
		}
		s.posts = append(s.posts, p)
		s.mu.Unlock()
		if hold > 0 {
			select {
			case <-time.After(hold):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": p.Channel, "ts": p.TS})
	}
}

// resetConnection takes the connection from the HTTP server and closes it at once, with a TCP
// RST where the platform allows it (SO_LINGER 0), so the client gets no answer at all.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // HTTP/2: the server resets the stream instead
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// ResponseURL is an httptest server standing in for a slash command's response_url.
type ResponseURL struct {
	*httptest.Server
	mu    sync.Mutex
	posts []json.RawMessage
}

// NewResponseURL starts one; its URL goes into the signed form's response_url.
func NewResponseURL() *ResponseURL {
	r := &ResponseURL{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.posts = append(r.posts, b)
		r.mu.Unlock()
		w.Write([]byte("ok"))
	}))
	return r
}

// Posts returns the JSON bodies received.
func (r *ResponseURL) Posts() []json.RawMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]json.RawMessage(nil), r.posts...)
}

// Sign sets Slack's X-Slack-Request-Timestamp and X-Slack-Signature headers on req for body,
// signed with secret at time at (https://api.slack.com/authentication/verifying-requests-from-slack).
func Sign(req *http.Request, secret string, body []byte, at time.Time) {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
}

// CommandForm is the form body of a /tasks slash command as Slack sends it.
func CommandForm(text, responseURL string) []byte {
	v := url.Values{
		"token": {"PLACEHOLDER"}, "team_id": {"T0000TEAM"}, "team_domain": {"example"},
		"channel_id": {"C0000CHAN"}, "channel_name": {"oncall"}, "user_id": {"U0000USER"},
		"user_name": {"oncall-engineer"}, "command": {"/tasks"}, "text": {text},
		"api_app_id": {"A0000APP"}, "response_url": {responseURL}, "trigger_id": {"1111.2222.PLACEHOLDER"},
	}
	return []byte(v.Encode())
}
