package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// Poster sends announcements to a channel. SlackPoster is the real one; TerminalPoster prints
// them for `taskbot demo`.
type Poster interface {
	// Post sends m to channel, as a reply in thread threadTS when it is not empty (broadcast
	// to the channel too when broadcast is set), and returns the new message's ts.
	Post(ctx context.Context, channel string, m Message, threadTS string, broadcast bool) (ts string, err error)
	// Update replaces the message ts in channel with m.
	Update(ctx context.Context, channel, ts string, m Message) error
}

// SlackPoster posts with the Web API methods chat.postMessage and chat.update.
type SlackPoster struct{ API *slack.Client }

// Post implements Poster with chat.postMessage (https://api.slack.com/methods/chat.postMessage).
func (p SlackPoster) Post(ctx context.Context, channel string, m Message, threadTS string, broadcast bool) (string, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false), slack.MsgOptionDisableLinkUnfurl()}
	if len(m.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(m.Blocks...))
	}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
		if broadcast {
			opts = append(opts, slack.MsgOptionBroadcast())
		}
	}
	_, ts, err := p.API.PostMessageContext(ctx, channel, opts...)
	return ts, err
}

// Update implements Poster with chat.update (https://api.slack.com/methods/chat.update).
func (p SlackPoster) Update(ctx context.Context, channel, ts string, m Message) error {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false)}
	if len(m.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(m.Blocks...))
	}
	_, _, _, err := p.API.UpdateMessageContext(ctx, channel, ts, opts...)
	return err
}

// TerminalPoster writes announcements to W as readable text, as they would read in Slack.
type TerminalPoster struct {
	W   io.Writer
	Now func() time.Time

	mu  sync.Mutex
	seq int
}

// Post implements Poster by printing m.
func (p *TerminalPoster) Post(_ context.Context, channel string, m Message, threadTS string, broadcast bool) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	prefix := fmt.Sprintf("[%s] %s", now().Format("15:04:05"), channel)
	if threadTS != "" {
		prefix += " (in thread " + threadTS + ")"
	}
	fmt.Fprintf(p.W, "%s\n%s\n", prefix, indent(PlainText(m), "  "))
	return fmt.Sprintf("%d.%06d", now().Unix(), p.seq), nil
}

// Update implements Poster; the terminal cannot rewrite old lines, so updates are not shown.
func (p *TerminalPoster) Update(context.Context, string, string, Message) error { return nil }

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pre + l
	}
	return strings.Join(lines, "\n")
}

// Outcome classifies a failed Slack call for the announcer, after Alertmanager's notifiers:
// the decision to retry is made here, once, not in the loop that posts.
type Outcome int

const (
	// Retry: a passing fault (429, 5xx, timeout, connection reset); try the same post again later.
	Retry Outcome = iota
	// Blocked: the channel or credentials are wrong; nothing is posted until the user fixes it,
	// and nothing is dropped.
	Blocked
	// Rejected: Slack refuses this one message (invalid_blocks, msg_too_long); re-send it in a
	// shorter form, never retry it as is.
	Rejected
)

// SlackError describes a failed Slack call: what to do about it and what the user must fix.
type SlackError struct {
	Code       string        // Slack's error string ("not_in_channel") or "http_503", "network"
	Outcome    Outcome       // see Outcome
	RetryAfter time.Duration // from a 429's Retry-After; 0 when Slack gave none
	Hint       string        // the fix in the user's words, for Blocked errors
	Err        error
}

func (e *SlackError) Error() string {
	if e.Hint != "" {
		return fmt.Sprintf("slack: %s (%s)", e.Code, e.Hint)
	}
	return "slack: " + e.Code
}

func (e *SlackError) Unwrap() error { return e.Err }

// hints are the fixes for errors no retry can mend, per the error lists of
// https://api.slack.com/methods/chat.postMessage#errors.
var hints = map[string]string{
	"channel_not_found":       "SLACK_CHANNEL must be a channel ID such as C0123456789 (not a name), and the bot must be able to see the channel",
	"not_in_channel":          "invite the bot to the channel with /invite @taskbot",
	"is_archived":             "the channel in SLACK_CHANNEL is archived; unarchive it or choose another",
	"invalid_auth":            "SLACK_BOT_TOKEN is not valid; copy the Bot User OAuth Token (xoxb-…) again",
	"not_authed":              "SLACK_BOT_TOKEN is empty or was not sent",
	"account_inactive":        "the bot's token was revoked or the app uninstalled; reinstall the app and update SLACK_BOT_TOKEN",
	"token_revoked":           "the bot's token was revoked; reinstall the app and update SLACK_BOT_TOKEN",
	"missing_scope":           "the app lacks the chat:write scope; add it and reinstall the app",
	"restricted_action":       "a workspace setting prevents the bot from posting in this channel",
	"ekm_access_denied":       "the workspace's encryption keys deny access",
	"team_access_not_granted": "the token has no access to the workspace of SLACK_CHANNEL",
}

// ClassifySlackError turns an error from slack-go into a *SlackError (nil for nil).
func ClassifySlackError(err error) *SlackError {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &SlackError{Code: "ratelimited", Outcome: Retry, RetryAfter: rl.RetryAfter, Err: err}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && sc.Code == 429 {
		return &SlackError{Code: "ratelimited", Outcome: Retry, Err: err} // 429 without Retry-After
	}
	if errors.As(err, &sc) {
		return &SlackError{Code: fmt.Sprintf("http_%d", sc.Code), Outcome: Retry, Err: err}
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "invalid_blocks", "invalid_blocks_format", "msg_too_long", "too_many_attachments", "no_text", "invalid_arguments":
			return &SlackError{Code: se.Err, Outcome: Rejected, Err: err}
		case "ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
			return &SlackError{Code: se.Err, Outcome: Retry, Err: err}
		}
		if h, ok := hints[se.Err]; ok {
			return &SlackError{Code: se.Err, Outcome: Blocked, Hint: h, Err: err}
		}
		// An unknown error code: keep the entry and retry slowly rather than drop it.
		return &SlackError{Code: se.Err, Outcome: Blocked, Hint: "unexpected Slack error; see https://api.slack.com/methods/chat.postMessage#errors", Err: err}
	}
	// Everything else is a transport failure (timeout, reset, refused, a proxy's garbage): retry.
	return &SlackError{Code: "network", Outcome: Retry, Err: err}
}
