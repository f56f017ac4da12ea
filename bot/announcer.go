package bot

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/taskbot/taskbot/state"
	"github.com/taskbot/taskbot/tasks"
)

// Announcer defaults.
const (
	DefaultPace       = time.Second // Slack allows about one message a second per channel
	DefaultMaxBackoff = time.Minute // longest wait between retries (after /invite, posts resume within a minute)
	postTimeout       = 15 * time.Second
)

// Announcer drains the outbox into a channel: in order, one post at a time, paced, and an entry
// leaves the outbox only after Slack accepted it (at-least-once; a crash between the post and
// Delivered repeats that one message). See
// https://api.slack.com/methods/chat.postMessage#rate_limiting for the pace.
type Announcer struct {
	Store   *state.Store
	Poster  Poster
	Channel string
	// Pace is the least time between two posts; default DefaultPace.
	Pace time.Duration
	// MaxBackoff caps the wait after failures; default DefaultMaxBackoff.
	MaxBackoff time.Duration
	// PostTimeout bounds one Slack call; default 15s.
	PostTimeout time.Duration
	Logger      *slog.Logger
	Metrics     *Metrics
	Now         func() time.Time

	once sync.Once
	wake chan struct{}
}

// init fills in defaults once; Notify (from the poller's goroutine) and Run may race to it.
func (a *Announcer) init() { a.once.Do(a.defaults) }

func (a *Announcer) defaults() {
	if a.Pace <= 0 {
		a.Pace = DefaultPace
	}
	if a.PostTimeout <= 0 {
		a.PostTimeout = postTimeout
	}
	if a.MaxBackoff <= 0 {
		a.MaxBackoff = DefaultMaxBackoff
	}
	if a.Logger == nil {
		a.Logger = slog.Default()
	}
	if a.Now == nil {
		a.Now = time.Now
	}
	if a.wake == nil {
		a.wake = make(chan struct{}, 1)
	}
	if a.Metrics == nil {
		a.Metrics = NewMetrics()
	}
}

// Notify wakes the announcer after a poll queued entries. It never blocks.
func (a *Announcer) Notify() {
	a.init()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Run posts pending entries until ctx ends. A post in flight when ctx ends is finished (bounded
// by a 15-second timeout) and recorded, so a clean shutdown repeats nothing.
func (a *Announcer) Run(ctx context.Context) error {
	a.init()
	failures := 0
	blocked := ""
	for {
		wait, idle, err := a.step(ctx)
		if err == nil {
			failures = 0
			if blocked != "" {
				a.Logger.Info("slack accepts posts again; draining the outbox", "channel", a.Channel)
				blocked = ""
			}
		} else {
			failures++
			se := ClassifySlackError(err)
			if se != nil && se.Outcome == Blocked {
				if se.Code != blocked {
					a.Logger.Error("cannot post announcements; they stay queued until this is fixed",
						"channel", a.Channel, "err", se.Code, "fix", se.Hint)
					blocked = se.Code
				}
			} else {
				a.Logger.Warn("posting announcement failed; will retry", "channel", a.Channel, "err", err, "cause", errors.Unwrap(err))
			}
			wait = backoff(failures, a.Pace, a.MaxBackoff)
			if se != nil && se.RetryAfter > wait {
				wait = se.RetryAfter
			}
		}
		// Only an idle announcer is woken early: the pace and backoffs are always kept.
		var wake <-chan struct{}
		if idle && err == nil {
			wake = a.wake
		}
		if err := sleep(ctx, wake, wait); err != nil {
			return nil
		}
	}
}

// step handles the head of the outbox once. It returns how long to wait before the next step
// (Pace after a post, longer when the outbox is empty), whether the outbox was empty, or the
// Slack error that stopped it.
func (a *Announcer) step(ctx context.Context) (wait time.Duration, idle bool, err error) {
	pending, err := a.Store.Pending(1)
	if err != nil {
		a.Logger.Error("read outbox", "err", err)
		return time.Minute, false, nil
	}
	a.gauge()
	if len(pending) == 0 {
		return time.Minute, true, nil // Notify wakes us sooner
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.PostTimeout)
	defer cancel()
	if pending[0].Summary != nil {
		return a.Pace, false, a.summarize(pctx, pending[0])
	}
	return a.Pace, false, a.deliver(pctx, pending[0])
}

// summarize posts a Summary entry: one message for a poll that found a flood of transitions.
func (a *Announcer) summarize(ctx context.Context, e state.Entry) error {
	first := make([]SummaryItem, len(e.Summary.First))
	total := 0
	for i, tr := range e.Summary.First {
		first[i] = SummaryItem{Event: tr.Event, Task: tr.Task}
	}
	for _, n := range e.Summary.Counts {
		total += n
	}
	if _, err := a.post(ctx, RenderSummaryCounts(e.Summary.Counts, first, a.Now()), "", false); err != nil {
		return err
	}
	if err := a.Store.Delivered(e.Seq, "", ""); err != nil {
		a.Logger.Error("mark announcement delivered", "seq", e.Seq, "err", err)
	}
	a.Metrics.Announcements.WithLabelValues("summarized").Add(float64(total))
	a.Logger.Info("posted one summary instead of a flood", "channel", a.Channel, "transitions", total)
	return nil
}

func (a *Announcer) deliver(ctx context.Context, e state.Entry) error {
	key := e.Task.Key()
	rec, _, err := a.Store.Record(key)
	if err != nil {
		a.Logger.Error("read task record", "task", key, "err", err)
	}
	thread := rec.MessageTS
	broadcast := e.Event == tasks.EventPaused || e.Event == tasks.EventFailed
	now := a.Now()
	m := RenderAnnouncement(e.Event, e.From, e.Task, now)
	ts, err := a.post(ctx, m, thread, broadcast)
	result := "posted"
	if se := ClassifySlackError(err); se != nil && se.Outcome == Rejected {
		// Slack refused this message as built (too large, blocks it will not take): send the
		// short text alone rather than lose the announcement.
		a.Logger.Warn("slack rejected the announcement; sending it in a shortened form", "task", key, "err", se.Code)
		ts, err = a.post(ctx, Message{Text: truncate(m.Text, 300)}, thread, broadcast)
		result = "shortened"
		if se2 := ClassifySlackError(err); se2 != nil && se2.Outcome == Rejected {
			a.Logger.Error("slack rejected even the shortened announcement; dropping it", "task", key, "err", se2.Code)
			err, ts, result = nil, "", "dropped"
		}
	}
	if err != nil {
		return err
	}
	if err := a.Store.Delivered(e.Seq, key, ts); err != nil {
		a.Logger.Error("mark announcement delivered", "seq", e.Seq, "err", err)
	}
	a.Metrics.Announcements.WithLabelValues(result).Inc()
	a.Logger.Info("announced", "task", key, "event", e.Event, "channel", a.Channel, "thread", thread)
	if thread != "" {
		// Keep the thread's first message showing the task's current state.
		if err := a.Poster.Update(ctx, a.Channel, thread, RenderStatus(e.Task, now)); err != nil {
			a.Logger.Warn("update thread parent", "task", key, "err", err)
		}
	}
	return nil
}

func (a *Announcer) post(ctx context.Context, m Message, thread string, broadcast bool) (string, error) {
	ts, err := a.Poster.Post(ctx, a.Channel, m, thread, broadcast)
	if se := ClassifySlackError(err); se != nil {
		a.Metrics.SlackErrors.WithLabelValues(se.Code).Inc()
		return "", se
	}
	return ts, nil
}

func (a *Announcer) gauge() {
	if n, err := a.Store.PendingCount(); err == nil {
		a.Metrics.OutboxPending.Set(float64(n))
	}
}

// backoff is the wait after n consecutive failures: base·2^(n-1) with ±20% jitter, capped.
func backoff(n int, base, maxWait time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// sleep waits d, or until wake fires, or ctx ends (then it returns ctx.Err()).
func sleep(ctx context.Context, wake <-chan struct{}, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-wake:
		return nil
	case <-t.C:
		return nil
	}
}
