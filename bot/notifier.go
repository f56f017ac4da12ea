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

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// SlackNotifier delivers the announce pipeline's entries to Slack with chat.postMessage and
// keeps thread parents current with chat.update. It implements announce.Notifier: a message
// Slack refuses as built is sent again as short text, and only when that is refused too does
// it report announce.Refused; every failure is a *announce.DeliveryError from the Slack error
// table (slackerrors.go) and is counted in taskbot_slack_errors_total.
type SlackNotifier struct {
	api     *slack.Client
	metrics *Metrics
	buttons func(channel, taskKey string) (details, mute string)
	now     func() time.Time
}

// NewSlackNotifier returns a SlackNotifier posting with api; metrics nil means unregistered
// ones. buttons gives the signed values of an announcement's Details and Mute task buttons
// (Answerer.TaskButtons); nil posts announcements without buttons.
func NewSlackNotifier(api *slack.Client, metrics *Metrics, buttons func(channel, taskKey string) (details, mute string)) *SlackNotifier {
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	return &SlackNotifier{api: api, metrics: metrics, buttons: buttons, now: time.Now}
}

// withButtons adds the Details and Mute task buttons of t in channel to m.
func (n *SlackNotifier) withButtons(m Message, channel, taskKey string) Message {
	if n.buttons == nil || taskKey == "" {
		return m
	}
	details, mute := n.buttons(channel, taskKey)
	return WithAnnouncementButtons(m, details, mute)
}

var _ announce.Notifier = (*SlackNotifier)(nil)

// Notify implements announce.Notifier. It posts the entry in the first form Slack accepts:
// the full message (unless it breaks Slack's documented limits or maxBlocksChars, or d.Plain
// asks for the plainest form), then a shortened one (Shorten), then its short text alone. Only
// a refusal of the message as built (announce.Refused) moves on to the next form; any other
// error is returned at once.
func (n *SlackNotifier) Notify(ctx context.Context, d announce.Delivery) (announce.Receipt, error) {
	full := RenderEntry(d.Entry, n.now())
	if d.AboutTask() {
		full = n.withButtons(full, d.Channel, d.Task.Key)
	}
	var forms []Message
	if !d.Plain {
		if CheckLimits(full) == nil && blocksChars(full) <= maxBlocksChars {
			forms = append(forms, full)
		}
		forms = append(forms, Shorten(full))
	}
	forms = append(forms, Message{Text: truncate(full.Text, FallbackTextTarget)})
	var err error
	for i, m := range forms {
		var ts string
		ts, err = n.post(ctx, d.Channel, m, d.Thread, d.Broadcast)
		if err == nil {
			return announce.Receipt{ID: ts, Shortened: i > 0 || d.Plain}, nil
		}
		if o, _ := outcome(err); o != announce.Refused {
			return announce.Receipt{}, err
		}
	}
	return announce.Receipt{}, err
}

// outcome is the Outcome of a classified error.
func outcome(err error) (announce.Outcome, *announce.DeliveryError) {
	var de *announce.DeliveryError
	if errors.As(err, &de) {
		return de.Outcome, de
	}
	return announce.Unknown, nil
}

// UpdateThread implements announce.Notifier with chat.update
// (https://api.slack.com/methods/chat.update): the thread's parent shows RenderStatus of t.
func (n *SlackNotifier) UpdateThread(ctx context.Context, channel, thread string, t tasks.Snapshot) error {
	m := n.withButtons(RenderStatus(t, n.now()), channel, t.Key)
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false)}
	if len(m.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(m.Blocks...))
	}
	_, _, _, err := n.api.UpdateMessageContext(ctx, channel, thread, opts...)
	return n.classify("chat.update", err)
}

// post sends m with chat.postMessage (https://api.slack.com/methods/chat.postMessage), as a
// reply in thread when it is not empty (broadcast to the channel too when asked), and returns
// the new message's ts.
func (n *SlackNotifier) post(ctx context.Context, channel string, m Message, thread string, broadcast bool) (string, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false), slack.MsgOptionDisableLinkUnfurl()}
	if len(m.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(m.Blocks...))
	}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
		if broadcast {
			opts = append(opts, slack.MsgOptionBroadcast())
		}
	}
	_, ts, err := n.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return "", n.classify("chat.postMessage", err)
	}
	return ts, nil
}

// classify turns a slack-go error into a *announce.DeliveryError and counts it.
func (n *SlackNotifier) classify(method string, err error) error {
	if err == nil {
		return nil
	}
	de := ClassifySlackError(method, err)
	n.metrics.SlackErrors.WithLabelValues(de.Code).Inc()
	return de
}

// RenderEntry renders an outbox entry: a Digest with RenderDigest, a Summary with
// RenderSummary, a transition (or a stuck task) with RenderAnnouncement.
func RenderEntry(e announce.Entry, now time.Time) Message {
	if e.Digest != nil {
		return RenderDigest(e.Digest, now)
	}
	if e.Summary != nil {
		return RenderSummary(e.Summary, now)
	}
	return RenderAnnouncement(e.Event, e.From, e.Task, now)
}

// TerminalNotifier prints announcements to W as readable text, as they would read in Slack
// (`taskbot demo`). It implements announce.Notifier and never fails.
type TerminalNotifier struct {
	W   io.Writer
	Now func() time.Time // default time.Now

	mu  sync.Mutex
	seq int
}

// Notify implements announce.Notifier by printing the entry with its channel and thread.
func (p *TerminalNotifier) Notify(_ context.Context, d announce.Delivery) (announce.Receipt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	prefix := fmt.Sprintf("[%s] %s", now().Format("15:04:05"), d.Channel)
	if d.Thread != "" {
		prefix += " (in thread " + d.Thread + ")"
	}
	fmt.Fprintf(p.W, "%s\n%s\n", prefix, indent(PlainText(RenderEntry(d.Entry, now())), "  "))
	return announce.Receipt{ID: fmt.Sprintf("%d.%06d", now().Unix(), p.seq)}, nil
}

// UpdateThread implements announce.Notifier; a terminal cannot rewrite old lines, so updates
// are not shown.
func (p *TerminalNotifier) UpdateThread(context.Context, string, string, tasks.Snapshot) error {
	return nil
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = pre + l
	}
	return strings.Join(lines, "\n")
}
