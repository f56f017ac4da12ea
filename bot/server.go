package bot

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// Server defaults.
const (
	// DefaultAckWithin is how long a command may take before taskbot acknowledges it with a
	// progress note and sends the answer to response_url instead
	// (https://api.slack.com/interactivity/slash-commands#responding_basic_receipt: Slack shows
	// an error after 3 s; a delayed answer may follow through response_url for 30 minutes, up to
	// five times). One second because the 3 s are Slack's whole round trip, not taskbot's: the
	// request's way from Slack and the answer's way back, and on a busy 2-core host the queue in
	// front of the handler, come out of them too; the 0.5 s left before the 1.5 s taskbot aims
	// for is for that queue. A Task Manager that answers a page in a few hundred milliseconds,
	// as it usually does, is still answered inline in one message rather than a note and its
	// replacement. The old 2 s left one second of headroom, which load used up: at 200 commands
	// a second against a 2-second API, acknowledgements took p99 3.8–6.6 s with 2 s and 1.4–2.6 s
	// with 1 s on a loaded 2-core host. With identical listings shared while in flight and their
	// renderings queued for a core (Answerer.listing, renderSlot) the same run's acknowledgements
	// took at most 1.21–1.43 s, within the 1.5 s, so the budget stays 1 s
	// (TestSlashCommandLoad; README, Performance).
	DefaultAckWithin = time.Second
	// DefaultAnswerTimeout bounds the work behind one command.
	DefaultAnswerTimeout = 2 * time.Minute
	// IdleConnsPerHost is how many idle connections a client of one host keeps for the next
	// requests: response_url posts (all to Slack's one host) and the slash commands' Task Manager
	// requests. net/http's default, 2, makes a burst of commands open and close a connection (a
	// TLS handshake, in production) for nearly every answer.
	IdleConnsPerHost = 100
	// MaxBodyBytes limits request bodies; Slack's slash-command and interaction bodies are a
	// few KiB.
	MaxBodyBytes = 64 << 10
	// socketAckLimit keeps a Socket Mode acknowledgement under Slack's 20 KiB envelope limit
	// (https://api.slack.com/apis/socket-mode#acknowledge).
	socketAckLimit = 19 << 10
)

// ServerConfig configures a Server. Answerer is required, and SigningSecret unless the Server
// only serves Socket Mode; zero values of the other fields mean their defaults.
type ServerConfig struct {
	// SigningSecret verifies requests (https://api.slack.com/authentication/verifying-requests-from-slack).
	SigningSecret string
	Answerer      *Answerer
	// HTTPClient posts to response_url; default: a client with a 15-second timeout that keeps
	// IdleConnsPerHost idle connections.
	HTTPClient *http.Client
	// AckWithin: see DefaultAckWithin.
	AckWithin time.Duration
	// AnswerTimeout: see DefaultAnswerTimeout.
	AnswerTimeout time.Duration
	// Ready reports readiness for /readyz; nil means always ready.
	Ready func() (bool, string)
	// MetricsHandler serves GET /metrics; nil serves 404.
	MetricsHandler http.Handler
	Logger         *slog.Logger // default slog.Default()
	Metrics        *Metrics     // default: unregistered metrics
}

// Server answers Slack's HTTP requests (slash commands and interactions) and serves health and
// metrics. Socket Mode uses the same answering core (see RunSocketMode).
type Server struct {
	cfg ServerConfig

	inflight   sync.WaitGroup
	base       context.Context    // parent of every answer's context
	cancel     context.CancelFunc // cancels answers still running when Drain gives up
	deliveries deliveries         // Socket Mode envelopes of the last redeliveryWindow
	socket     socketState        // Socket Mode's connection, for SocketReady
}

// NewServer returns a Server for cfg with its defaults filled in.
func NewServer(cfg ServerConfig) *Server {
	cfg.AckWithin = cmp.Or(cfg.AckWithin, DefaultAckWithin)
	cfg.AnswerTimeout = cmp.Or(cfg.AnswerTimeout, DefaultAnswerTimeout)
	if cfg.HTTPClient == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = IdleConnsPerHost // every late answer goes to the same host
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second, Transport: transport}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	s := &Server{cfg: cfg}
	s.base, s.cancel = context.WithCancel(context.Background())
	return s
}

// Handler routes the contract's HTTP paths:
// POST /slack/commands, POST /slack/interactions, GET /healthz, GET /readyz, GET /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/slack/commands", s.handleCommand)
	mux.HandleFunc("POST /slack/interactions", s.handleInteraction)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := true, "ready"
		if s.cfg.Ready != nil {
			ok, why = s.cfg.Ready()
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		io.WriteString(w, why+"\n")
	})
	if s.cfg.MetricsHandler != nil {
		mux.Handle("GET /metrics", s.cfg.MetricsHandler)
	}
	return mux
}

// Drain waits for answers in flight (bounded by ctx), then cancels any still running and waits
// at most drainNotes more for them to say so to their users.
func (s *Server) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	// Answers still running are cancelled; each then tells its user through response_url that
	// taskbot is restarting (RenderAPIError), rather than leaving a progress note forever.
	s.cancel()
	select {
	case <-done:
	case <-time.After(drainNotes):
	}
	return fmt.Errorf("answers still in flight were cancelled: %w", ctx.Err())
}

// drainNotes is how long Drain waits, after cancelling the answers still in flight, for their
// "taskbot is restarting" notes to reach response_url.
const drainNotes = 1500 * time.Millisecond

// verified reads the body (at most MaxBodyBytes) and checks Slack's signature over it before
// anything else looks at the request. It writes the error status itself and returns ok=false
// for a body too large (413), a missing, bad or stale signature (401) or a body that is not
// form-encoded (415, 400).
func (s *Server) verified(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "cannot read request body", http.StatusBadRequest)
		}
		return nil, false
	}
	sv, err := slack.NewSecretsVerifier(r.Header, s.cfg.SigningSecret)
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		s.cfg.Metrics.Commands.WithLabelValues("bad_signature").Inc()
		reason, fix := rejection(err)
		s.cfg.Logger.Warn("rejected a request with a missing, bad or stale signature", "path", r.URL.Path, "remote", r.RemoteAddr,
			"reason", reason, requestSkew(r.Header.Get("X-Slack-Request-Timestamp"), time.Now()), "fix", fix)
		http.Error(w, "invalid or stale request signature", http.StatusUnauthorized)
		return nil, false
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		http.Error(w, "expected application/x-www-form-urlencoded", http.StatusUnsupportedMediaType)
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "malformed form body", http.StatusBadRequest)
		return nil, false
	}
	return form, true
}

// rejection words a slack.SecretsVerifier error for the log: a stable reason ("stale
// timestamp", "signature mismatch", "missing headers", "malformed headers") and what to check.
// slack-go checks the timestamp before the signature, so a stale request says nothing about
// the secret.
func rejection(err error) (reason, fix string) {
	switch {
	case errors.Is(err, slack.ErrExpiredTimestamp):
		return "stale timestamp", "if skew is about the same on every request, the host clock is off: enable time synchronisation (NTP); otherwise the request was delayed or replayed"
	case errors.Is(err, slack.ErrInvalidSignature):
		return "signature mismatch", "check SLACK_SIGNING_SECRET (Slack app → Basic Information → Signing Secret) and that no proxy rewrites the body"
	case errors.Is(err, slack.ErrMissingHeaders):
		return "missing headers", "the request did not come from Slack, or a proxy dropped the X-Slack-* headers"
	case errors.Is(err, slack.ErrInvalidConfiguration):
		return "no signing secret", "set SLACK_SIGNING_SECRET"
	}
	return "malformed headers", "the request did not come from Slack"
}

// requestSkew is the log attribute "skew" of a request whose X-Slack-Request-Timestamp header
// (Unix seconds) is ts: the host clock now minus that timestamp, in whole seconds (positive:
// the request is older than the host clock says, or the host clock is ahead). About zero on a
// request rejected for a wrong secret; beyond Slack's 5-minute window
// (https://api.slack.com/authentication/verifying-requests-from-slack) for a skewed clock. "missing" or
// "not a number" when the header is absent or not an integer.
func requestSkew(ts string, now time.Time) slog.Attr {
	if ts == "" {
		return slog.String("skew", "missing")
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return slog.String("skew", "not a number")
	}
	return slog.Duration("skew", now.Sub(time.Unix(secs, 0)).Round(time.Second))
}

func (s *Server) handleCommand(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("ssl_check") == "1" {
		w.WriteHeader(http.StatusOK) // Slack's certificate check; no body, no API call
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	form, ok := s.verified(w, r)
	if !ok {
		return
	}
	if form.Get("ssl_check") == "1" {
		w.WriteHeader(http.StatusOK)
		return
	}
	req := Request{Text: form.Get("text"), Channel: form.Get("channel_id"), User: form.Get("user_id")}
	writeJSON(w, responsePayload(s.Respond(req, form.Get("response_url"), 0)))
}

// Respond answers a slash command. If the answer is ready within AckWithin (and, when
// maxBytes > 0, its JSON fits in maxBytes) it is returned; otherwise a short progress note is
// returned and the answer is posted to responseURL (replacing the note) when it is ready.
func (s *Server) Respond(req Request, responseURL string, maxBytes int) Message {
	start := time.Now()
	ch := make(chan Message, 1)
	ctx, cancel := context.WithTimeout(s.base, s.cfg.AnswerTimeout)
	s.inflight.Add(1)
	go func() {
		defer s.inflight.Done()
		defer cancel()
		ch <- s.cfg.Answerer.Handle(ctx, req)
	}()
	timer := time.NewTimer(s.cfg.AckWithin)
	defer timer.Stop()
	select {
	case m := <-ch:
		if maxBytes <= 0 || jsonSize(responsePayload(m)) <= maxBytes {
			s.cfg.Metrics.CommandLatency.Observe(time.Since(start).Seconds())
			return m
		}
		s.inflight.Add(1)
		go func() { defer s.inflight.Done(); s.deliverLater(responseURL, m, start) }()
		return Message{Text: "The answer is long; it follows in a moment."}
	case <-timer.C:
		s.inflight.Add(1)
		go func() {
			defer s.inflight.Done()
			s.deliverLater(responseURL, <-ch, start)
		}()
		return Message{Text: ":hourglass_flowing_sand: Asking the Task Manager API… the answer follows here."}
	}
}

// deliverLater posts m to responseURL, replacing the progress note.
func (s *Server) deliverLater(responseURL string, m Message, start time.Time) {
	if err := s.postResponse(responseURL, m, !m.InChannel); err != nil {
		s.cfg.Logger.Warn("could not deliver a late /tasks answer", "err", err)
		return
	}
	s.cfg.Metrics.CommandLatency.Observe(time.Since(start).Seconds())
}

// postResponse posts m to a response_url (https://api.slack.com/interactivity/handling#message_responses).
// Any http(s) URL is accepted: the request's signature covers it. A failure is counted in
// taskbot_response_url_errors_total; its error names the URL's host only, since the rest of a
// response_url lets anyone answer in the user's name for 30 minutes.
func (s *Server) postResponse(responseURL string, m Message, replace bool) error {
	u, err := url.Parse(responseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		s.cfg.Metrics.ResponseURLErrors.Inc()
		return fmt.Errorf("response_url is not an http(s) URL")
	}
	msg := responsePayload(m)
	msg.ReplaceOriginal = replace
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.base), 15*time.Second)
	defer cancel()
	if err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, s.cfg.HTTPClient, msg); err != nil {
		s.cfg.Metrics.ResponseURLErrors.Inc()
		return fmt.Errorf("post to response_url %s: %w", u.Host, withoutURL(err))
	}
	return nil
}

// withoutURL is err without the request URL that net/http's *url.Error carries in its text
// ("Post \"https://hooks.slack.com/commands/…\": dial tcp: …"): the cause alone, unwrappable.
func withoutURL(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err // slack.StatusCodeError and the like name no URL
	}
	return fmt.Errorf("%s: %w", ue.Op, ue.Err)
}

func (s *Server) handleInteraction(w http.ResponseWriter, r *http.Request) {
	form, ok := s.verified(w, r)
	if !ok {
		return
	}
	if !form.Has("payload") {
		http.Error(w, "missing form field payload", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "payload is not valid JSON", http.StatusBadRequest)
		return
	}
	s.Interact(cb)
	w.WriteHeader(http.StatusOK)
}

// Interact handles a Block Kit interaction: a click of one of taskbot's buttons (Refresh, Next
// page, Share, Details, Mute task) is answered through the interaction's response_url, as
// Answerer.HandleClick says. Other interactions are ignored.
func (s *Server) Interact(cb slack.InteractionCallback) {
	if cb.Type != slack.InteractionTypeBlockActions {
		s.cfg.Logger.Debug("ignored an interaction", "type", cb.Type)
		return
	}
	for _, act := range cb.ActionCallback.BlockActions {
		if act == nil {
			continue
		}
		switch act.ActionID {
		case RefreshActionID, NextActionID, ShareActionID, DetailsActionID, MuteActionID:
		default:
			continue
		}
		click := Click{ActionID: act.ActionID, Value: act.Value, Channel: cb.Channel.ID, User: cb.User.ID, Team: cb.User.TeamID}
		responseURL := cb.ResponseURL
		s.inflight.Add(1)
		go func() {
			defer s.inflight.Done()
			start := time.Now()
			ctx, cancel := context.WithTimeout(s.base, s.cfg.AnswerTimeout)
			defer cancel()
			m, how := s.cfg.Answerer.HandleClick(ctx, click)
			m.InChannel = how == ForChannel
			if err := s.postResponse(responseURL, m, how == ReplaceOriginal); err != nil {
				s.cfg.Logger.Warn("could not deliver the answer to a button", "action", click.ActionID, "err", err)
				return
			}
			s.cfg.Metrics.CommandLatency.Observe(time.Since(start).Seconds())
		}()
		return
	}
	s.cfg.Logger.Debug("ignored an interaction without a known action", "block_actions", len(cb.ActionCallback.BlockActions))
}

// responsePayload is m as the answer of a slash command or response_url post: for the user alone, or
// for the whole channel when m.InChannel.
func responsePayload(m Message) *slack.WebhookMessage {
	msg := &slack.WebhookMessage{ResponseType: slack.ResponseTypeEphemeral, Text: m.Text}
	if m.InChannel {
		msg.ResponseType = slack.ResponseTypeInChannel
	}
	if len(m.Blocks) > 0 {
		msg.Blocks = &slack.Blocks{BlockSet: m.Blocks}
	}
	return msg
}

func jsonSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 1 << 30
	}
	return len(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // Slack reads &amp; as text; \u0026amp; would be noise
	if err := enc.Encode(v); err != nil {
		slog.Default().Warn("write response", "err", err)
	}
}
