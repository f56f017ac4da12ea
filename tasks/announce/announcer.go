package announce

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Announcer defaults and bounds.
const (
	DefaultPace         = time.Second      // Slack allows about one message a second per channel
	DefaultMaxBackoff   = time.Minute      // longest wait between retries (after /invite, posts resume within a minute)
	DefaultPostTimeout  = 10 * time.Second // one delivery, the Notifier's fallbacks included
	DefaultFinishWithin = 5 * time.Second  // how long a delivery in flight may go on after Run's ctx ended
	// maxUnknownTries is how often an entry is tried while the chat answers with an error the
	// Notifier does not know, before it is sent in its plainest form or dropped.
	maxUnknownTries = 5
)

// AnnouncerConfig configures an Announcer. Store, Notifier and Channel are required; zero
// values of the other fields mean their defaults.
type AnnouncerConfig struct {
	Store    OutboxStore
	Notifier Notifier
	// Channel is where entries without a channel of their own go (SLACK_CHANNEL).
	Channel string
	// Pace is the least time between two deliveries to one channel; default DefaultPace. See
	// https://api.slack.com/methods/chat.postMessage#rate_limiting.
	Pace time.Duration
	// MaxBackoff caps the wait after failures; default DefaultMaxBackoff.
	MaxBackoff time.Duration
	// PostTimeout bounds one delivery; default DefaultPostTimeout.
	PostTimeout time.Duration
	// FinishWithin bounds a delivery still in flight when Run's ctx ends; default
	// DefaultFinishWithin. One cut short stays in the outbox and is delivered after a restart.
	FinishWithin time.Duration
	// NoThreads (TASKBOT_THREADS=off): every announcement is a message of its own, also for
	// tasks that had a thread before threads were switched off.
	NoThreads bool
	Logger    *slog.Logger // default slog.Default()
	Metrics   *Metrics     // default: unregistered metrics
}

// Announcer drains the outbox through a Notifier, each channel on its own: in order, one
// delivery at a time, paced, so a channel the bot cannot post to holds back only its own
// entries. An entry leaves the outbox only after it was delivered (at-least-once: a crash
// between the delivery and Delivered repeats that one message) or refused for good; a message
// refused for good is sent in shorter forms, then outside its thread, then dropped with an
// error log and taskbot_announcements_total{result="dropped"}: it never holds back what is
// behind it.
//
// When the state file cannot record a delivery (a full disk, an I/O error), posting stops in
// every channel until it can: the entry already posted is marked again and again, never posted
// again, and Ready says why. A restart meanwhile posts it once more.
type Announcer struct {
	cfg  AnnouncerConfig
	wake chan struct{}

	mu       sync.Mutex
	workers  map[string]chan struct{} // channel → its worker's wake-up
	blocked  map[string]string        // channel → why nothing can be posted there
	unmarked error                    // the state file failed to record a delivery
}

// NewAnnouncer returns an Announcer for cfg with its defaults filled in.
func NewAnnouncer(cfg AnnouncerConfig) *Announcer {
	cfg.Pace = cmp.Or(cfg.Pace, DefaultPace)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, DefaultMaxBackoff)
	cfg.PostTimeout = cmp.Or(cfg.PostTimeout, DefaultPostTimeout)
	cfg.FinishWithin = cmp.Or(cfg.FinishWithin, DefaultFinishWithin)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	cfg.Metrics.watchOutbox(cfg.Store)
	return &Announcer{cfg: cfg, wake: make(chan struct{}, 1), workers: map[string]chan struct{}{}, blocked: map[string]string{}}
}

// Wake makes the Announcer look at the outbox now (the Poller calls it after queueing). It
// never blocks.
func (a *Announcer) Wake() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Ready reports whether announcements can be delivered, for /readyz: false while the state file
// cannot record deliveries. Channels that refuse posts do not make taskbot unready (slash
// commands still work); they are named in the reason.
func (a *Announcer) Ready() (bool, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.unmarked != nil {
		return false, "cannot record deliveries in the state file, so posting is paused: " + a.unmarked.Error()
	}
	if len(a.blocked) == 0 {
		return true, ""
	}
	var why []string
	for _, ch := range slices.Sorted(func(yield func(string) bool) {
		for ch := range a.blocked {
			if !yield(ch) {
				return
			}
		}
	}) {
		why = append(why, fmt.Sprintf("cannot post to %s: %s", ch, a.blocked[ch]))
	}
	return true, strings.Join(why, "; ")
}

// Run delivers pending entries until ctx ends: it starts a worker for every channel with
// entries, at once and whenever woken (at least once a minute). A delivery in flight when ctx
// ends goes on for at most FinishWithin.
func (a *Announcer) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		chans, err := a.cfg.Store.Channels()
		if err != nil {
			a.cfg.Logger.Error("read outbox", "err", err)
		}
		a.mu.Lock()
		for _, ch := range chans {
			w, ok := a.workers[ch]
			if !ok {
				w = make(chan struct{}, 1)
				a.workers[ch] = w
				wg.Go(func() { a.drain(ctx, ch, w) })
			}
			select {
			case w <- struct{}{}:
			default:
			}
		}
		a.mu.Unlock()
		if sleep(ctx, a.wake, time.Minute) != nil {
			return
		}
	}
}

// drain delivers channel's entries in order until ctx ends, waiting for wake when it has none.
func (a *Announcer) drain(ctx context.Context, channel string, wake chan struct{}) {
	ch := cmp.Or(channel, a.cfg.Channel)
	log := a.cfg.Logger.With("channel", ch)
	failures := 0
	var head struct { // the entry at the head and what happened to it so far
		seq     uint64
		unknown int
	}
	for {
		wait, idle := a.cfg.Pace, false
		pending, err := a.cfg.Store.Pending(channel, 1)
		switch {
		case err != nil:
			log.Error("read outbox", "err", err)
			wait = time.Minute
		case len(pending) == 0:
			idle, wait = true, time.Minute
		default:
			e := pending[0]
			if e.Seq != head.seq { // a new head: its own tries and its own backoff
				head.seq, head.unknown, failures = e.Seq, 0, 0
			}
			err := a.deliver(ctx, ch, e, head.unknown >= maxUnknownTries)
			if err == nil {
				failures = 0
				a.unblock(channel, log)
				if e.Refresh {
					// chat.update is rate-limited per workspace (Tier 3), not by the channel's
					// one message a second: a refresh does not take a posting slot.
					wait = a.cfg.Pace / 5
				}
				break
			}
			failures++
			wait = backoff(failures, a.cfg.Pace, a.cfg.MaxBackoff)
			o, de := outcomeOf(err)
			switch o {
			case Blocked:
				a.block(channel, de, log)
			case Unknown:
				head.unknown++
				log.Warn("posting announcement failed with an unexpected error; will retry", "err", err,
					"try", head.unknown, "of", maxUnknownTries)
			default:
				if failures >= 3 && de != nil {
					a.failing(channel, fmt.Sprintf("posts keep failing (%s, %d tries in a row); retrying", de.Code, failures))
				}
				if ctx.Err() != nil {
					log.Info("a post was cut short by the shutdown; it stays in the outbox and is posted after the restart", "err", err)
				} else {
					log.Warn("posting announcement failed; will retry", "err", err)
				}
			}
			if de != nil && de.RetryAfter > 0 {
				wait = de.RetryAfter // Slack said how long; waiting longer only delays the channel
			}
		}
		var w <-chan struct{}
		if idle {
			w = wake // only an idle worker is woken early: the pace and backoffs are kept
		}
		if sleep(ctx, w, wait) != nil {
			return
		}
	}
}

// block records that channel refuses posts for a reason the user must fix, and logs it once
// per reason.
func (a *Announcer) block(channel string, de *DeliveryError, log *slog.Logger) {
	why := de.Error()
	a.mu.Lock()
	changed := a.blocked[channel] != why
	a.blocked[channel] = why
	a.mu.Unlock()
	if changed {
		log.Error("cannot post announcements; they stay queued until this is fixed", "err", de.Code, "fix", de.Hint)
	}
}

// failing records that channel's posts keep failing for a passing reason (Slack down, a
// network fault): not the user's to fix, but worth naming in /readyz.
func (a *Announcer) failing(channel, why string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.blocked[channel] = why
}

func (a *Announcer) unblock(channel string, log *slog.Logger) {
	a.mu.Lock()
	_, was := a.blocked[channel]
	delete(a.blocked, channel)
	a.mu.Unlock()
	if was {
		log.Info("slack accepts posts again; draining the outbox")
	}
}

// deliver hands e to the Notifier, in its task's thread when it has one, and records the
// outcome; plain asks for the plainest form (the entry failed too often). Delivered, or refused
// for good in every form, the entry leaves the outbox; otherwise it stays and the error is
// returned.
func (a *Announcer) deliver(ctx context.Context, channel string, e Entry, plain bool) error {
	if err := a.waitWritable(ctx); err != nil {
		return err
	}
	log, m := a.cfg.Logger.With("channel", channel), a.cfg.Metrics
	dctx, cancel := a.deliveryContext(ctx)
	defer cancel()
	d := Delivery{Entry: e, Channel: channel, Plain: plain}
	key := e.Task.Key
	if e.AboutTask() {
		seen, _, err := a.cfg.Store.Sighting(key)
		if err != nil {
			log.Error("read task record", "task", key, "err", err)
		}
		if !a.cfg.NoThreads {
			d.Thread = seen.Threads[e.Channel]
		}
		d.Broadcast = d.Thread != "" && Broadcast(e.Event)
	}
	if e.Refresh {
		return a.refresh(ctx, dctx, d, log)
	}
	rc, err := a.cfg.Notifier.Notify(dctx, d)
	o, de := outcomeOf(err)
	replace := false
	if err != nil && d.Thread != "" && (o == ThreadGone || o == Refused || plain) {
		// The thread is gone, or the message is refused even in its shortest forms as a reply:
		// post it outside the thread; it becomes the task's thread there.
		log.Warn("the reply was refused in its thread; posting it outside the thread", "task", key, "err", err)
		d.Thread, d.Broadcast, replace = "", false, true
		rc, err = a.cfg.Notifier.Notify(dctx, d)
		o, de = outcomeOf(err)
	}
	dropped := err != nil && (o == Refused || o == ThreadGone || (o == Unknown && plain))
	if err != nil && !dropped {
		return err
	}
	thread := rc.ID
	if a.cfg.NoThreads {
		thread = "" // no message becomes a thread
	}
	if !a.markDelivered(ctx, e, key, thread, replace) {
		return fmt.Errorf("the state file cannot record deliveries")
	}
	switch {
	case dropped:
		m.Announcements.WithLabelValues("dropped").Inc()
		code := ""
		if de != nil {
			code = de.Code
		}
		log.Error("the chat refused the announcement in every form; dropped it", "task", key, "id", e.Task.ID, "title", e.Task.Title, "event", e.Event, "err", code)
	case e.Digest != nil:
		m.Announcements.WithLabelValues("digest").Inc()
		log.Info("posted the daily digest", "date", e.Digest.Date, "failed", e.Digest.Failed, "paused", e.Digest.Paused, "stuck", e.Digest.Stuck)
	case e.Summary != nil:
		total := e.Summary.Total()
		m.Announcements.WithLabelValues("summarized").Add(float64(total))
		log.Info("posted one summary instead of a flood", "transitions", total)
	case rc.Shortened:
		m.Announcements.WithLabelValues("shortened").Inc()
		log.Info("announced in a shortened form", "task", key, "id", e.Task.ID, "event", e.Event, "thread", d.Thread)
	default:
		m.Announcements.WithLabelValues("posted").Inc()
		log.Info("announced", "task", key, "id", e.Task.ID, "event", e.Event, "thread", d.Thread)
	}
	return nil
}

// refresh brings the first message of the task's thread up to date; with no thread there is
// nothing to do.
func (a *Announcer) refresh(ctx, dctx context.Context, d Delivery, log *slog.Logger) error {
	if d.Thread != "" {
		err := a.cfg.Notifier.UpdateThread(dctx, d.Channel, d.Thread, d.Task)
		if o, _ := outcomeOf(err); err != nil && o != Refused && o != ThreadGone && !(o == Unknown && d.Plain) {
			return err
		} else if err != nil {
			log.Warn("could not update the thread's first message; leaving it", "task", d.Task.Key, "err", err)
		}
	}
	if !a.markDelivered(ctx, d.Entry, d.Task.Key, "", false) {
		return fmt.Errorf("the state file cannot record deliveries")
	}
	return nil
}

// deliveryContext bounds one delivery by PostTimeout, and by FinishWithin once ctx ends.
func (a *Announcer) deliveryContext(ctx context.Context) (context.Context, context.CancelFunc) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.PostTimeout)
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(a.cfg.FinishWithin, cancel)
		context.AfterFunc(dctx, func() { t.Stop() })
	})
	return dctx, func() { stop(); cancel() }
}

// markDelivered records a delivery. When the state file cannot, it pauses posting in every
// channel and tries again with backoff, never posting the entry again, until it succeeds
// (true) or ctx ends (false: the entry stays in the outbox and is posted once more after a
// restart).
func (a *Announcer) markDelivered(ctx context.Context, e Entry, key, thread string, replace bool) bool {
	for failures := 0; ; failures++ {
		err := a.cfg.Store.Delivered(e.Channel, e.Seq, key, thread, replace)
		a.mu.Lock()
		was := a.unmarked
		a.unmarked = err
		a.mu.Unlock()
		switch {
		case err == nil && was != nil:
			a.cfg.Logger.Info("the state file records deliveries again; posting resumes")
			return true
		case err == nil:
			return true
		case was == nil:
			a.cfg.Logger.Error("posted, but the state file cannot record it; posting is paused until it can",
				"channel", cmp.Or(e.Channel, a.cfg.Channel), "seq", e.Seq, "err", err)
		}
		if sleep(ctx, nil, backoff(failures+1, a.cfg.Pace, a.cfg.MaxBackoff)) != nil {
			return false
		}
	}
}

// waitWritable waits while another channel's worker finds the state file unwritable.
func (a *Announcer) waitWritable(ctx context.Context) error {
	for {
		a.mu.Lock()
		err := a.unmarked
		a.mu.Unlock()
		if err == nil {
			return nil
		}
		if sleep(ctx, nil, a.cfg.Pace) != nil {
			return ctx.Err()
		}
	}
}
