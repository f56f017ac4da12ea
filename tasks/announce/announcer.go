package announce

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"
)

// Announcer defaults.
const (
	DefaultPace        = time.Second      // Slack allows about one message a second per channel
	DefaultMaxBackoff  = time.Minute      // longest wait between retries (after /invite, posts resume within a minute)
	DefaultPostTimeout = 15 * time.Second // one delivery, the Notifier's fallbacks included
)

// AnnouncerConfig configures an Announcer. Store, Notifier and Channel are required; zero
// values of the other fields mean their defaults.
type AnnouncerConfig struct {
	Store    OutboxStore
	Notifier Notifier
	// Channel is where entries without a channel of their own go (SLACK_CHANNEL).
	Channel string
	// Pace is the least time between two deliveries; default DefaultPace. See
	// https://api.slack.com/methods/chat.postMessage#rate_limiting.
	Pace time.Duration
	// MaxBackoff caps the wait after failures; default DefaultMaxBackoff.
	MaxBackoff time.Duration
	// PostTimeout bounds one delivery; default DefaultPostTimeout.
	PostTimeout time.Duration
	Logger      *slog.Logger // default slog.Default()
	Metrics     *Metrics     // default: unregistered metrics
}

// Announcer drains the outbox through a Notifier: in order, one delivery at a time, paced, and
// an entry leaves the outbox only after it was delivered (at-least-once: a crash between the
// delivery and Delivered repeats that one message) or refused for good.
type Announcer struct {
	cfg  AnnouncerConfig
	wake chan struct{}
}

// NewAnnouncer returns an Announcer for cfg with its defaults filled in.
func NewAnnouncer(cfg AnnouncerConfig) *Announcer {
	cfg.Pace = cmp.Or(cfg.Pace, DefaultPace)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, DefaultMaxBackoff)
	cfg.PostTimeout = cmp.Or(cfg.PostTimeout, DefaultPostTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	return &Announcer{cfg: cfg, wake: make(chan struct{}, 1)}
}

// Wake makes an idle Announcer look at the outbox now (the Poller calls it after queueing).
// It never blocks.
func (a *Announcer) Wake() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Run delivers pending entries until ctx ends. A delivery in flight when ctx ends is finished
// (bounded by PostTimeout) and recorded, so a clean shutdown repeats nothing.
func (a *Announcer) Run(ctx context.Context) {
	failures := 0
	blocked := ""
	log := a.cfg.Logger
	for {
		wait, idle, err := a.step(ctx)
		if err == nil {
			failures = 0
			if blocked != "" {
				log.Info("slack accepts posts again; draining the outbox", "channel", a.cfg.Channel)
				blocked = ""
			}
		} else {
			failures++
			var de *DeliveryError
			if errors.As(err, &de) && de.Outcome == Blocked {
				if de.Code != blocked {
					log.Error("cannot post announcements; they stay queued until this is fixed",
						"channel", a.cfg.Channel, "err", de.Code, "fix", de.Hint)
					blocked = de.Code
				}
			} else {
				log.Warn("posting announcement failed; will retry", "channel", a.cfg.Channel, "err", err, "cause", errors.Unwrap(err))
			}
			wait = backoff(failures, a.cfg.Pace, a.cfg.MaxBackoff)
			if de != nil && de.RetryAfter > wait {
				wait = de.RetryAfter
			}
		}
		// Only an idle announcer is woken early: the pace and backoffs are always kept.
		var wake <-chan struct{}
		if idle && err == nil {
			wake = a.wake
		}
		if sleep(ctx, wake, wait) != nil {
			return
		}
	}
}

// step handles the head of the outbox once. It returns how long to wait before the next step
// (Pace after a delivery, longer when the outbox is empty), whether the outbox was empty, or the
// error that kept the entry in the outbox.
func (a *Announcer) step(ctx context.Context) (wait time.Duration, idle bool, err error) {
	pending, err := a.cfg.Store.Pending(1)
	if err != nil {
		a.cfg.Logger.Error("read outbox", "err", err)
		return time.Minute, false, nil
	}
	if n, err := a.cfg.Store.PendingCount(); err == nil {
		a.cfg.Metrics.OutboxPending.Set(float64(n))
	}
	if len(pending) == 0 {
		return time.Minute, true, nil // Wake comes sooner
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.PostTimeout)
	defer cancel()
	return a.cfg.Pace, false, a.deliver(dctx, pending[0])
}

// deliver hands e to the Notifier, in its task's thread when it has one, and records the
// outcome: delivered or refused for good, the entry leaves the outbox; otherwise it stays and
// the error is returned.
func (a *Announcer) deliver(ctx context.Context, e Entry) error {
	log, m := a.cfg.Logger, a.cfg.Metrics
	d := Delivery{Entry: e, Channel: cmp.Or(e.Channel, a.cfg.Channel)}
	key := e.Task.Key
	if e.Summary == nil {
		seen, _, err := a.cfg.Store.Sighting(key)
		if err != nil {
			log.Error("read task record", "task", key, "err", err)
		}
		d.Thread = seen.Thread
		d.Broadcast = d.Thread != "" && Broadcast(e.Event)
	}
	rc, err := a.cfg.Notifier.Notify(ctx, d)
	var de *DeliveryError
	refused := errors.As(err, &de) && de.Outcome == Refused
	if err != nil && !refused {
		return err
	}
	if err := a.cfg.Store.Delivered(e.Seq, key, rc.ID); err != nil {
		log.Error("mark announcement delivered", "seq", e.Seq, "err", err)
	}
	switch {
	case refused:
		m.Announcements.WithLabelValues("dropped").Inc()
		log.Error("the chat refused the announcement in every form; dropped it", "task", key, "channel", d.Channel, "err", de.Code)
		return nil
	case e.Summary != nil:
		total := e.Summary.Total()
		m.Announcements.WithLabelValues("summarized").Add(float64(total))
		log.Info("posted one summary instead of a flood", "channel", d.Channel, "transitions", total)
		return nil
	case rc.Shortened:
		m.Announcements.WithLabelValues("shortened").Inc()
	default:
		m.Announcements.WithLabelValues("posted").Inc()
	}
	log.Info("announced", "task", key, "event", e.Event, "channel", d.Channel, "thread", d.Thread)
	if d.Thread != "" {
		// Keep the thread's first message showing the task's current state.
		if err := a.cfg.Notifier.UpdateThread(ctx, d.Channel, d.Thread, e.Task); err != nil {
			log.Warn("update thread parent", "task", key, "err", err)
		}
	}
	return nil
}
