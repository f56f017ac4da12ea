package announce

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// DefaultBurst is how many announcements one poll may queue for one channel before they
// become one summary.
const DefaultBurst = 10

// MaxClockAhead is how far past the API's clock the watermark may move: a task stamped in the
// future (seen: 150 s ahead) must not make later changes invisible to incremental polls.
const MaxClockAhead = 5 * time.Second

// Rules are the announce policy: which transitions are announced, where, and when many become
// one. The zero Rules announce nothing.
type Rules struct {
	// Channel gets every announced event, for all tenants (SLACK_CHANNEL).
	Channel string
	// Announce are the announced events (TASKBOT_ANNOUNCE_STATES).
	Announce tasks.AnnounceSet
	// Burst: when one poll would queue more than Burst entries for a channel, it queues one
	// Summary instead, so a mass start is one message, not a flood. 0 means DefaultBurst; a
	// negative Burst means no limit.
	Burst int
	// Failures are the result codes that make a completion "failed" (TASKBOT_FAILED_RESULTS;
	// nil: tasks.DefaultFailures).
	Failures tasks.Failures
	// NoThreads (TASKBOT_THREADS=off): every announcement is a message of its own; no thread
	// is opened and no thread parent refreshed.
	NoThreads bool
	// Stuck are the limits of time in a state (TASKBOT_STUCK_AFTER; nil: no task is stuck).
	Stuck tasks.StuckLimits
	// StuckRepeat (TASKBOT_STUCK_REPEAT) is how often a task that stays stuck is announced
	// again; 0: once per stay.
	StuckRepeat time.Duration
}

// Decide is the policy of one poll, a pure function of what the poll saw, what the store
// remembers, and now (the time stamped on new entries and missing tasks; also the API's clock
// when the poll does not know it). Its stages, in order:
//
//  1. diff: tasks are taken in updatedAt order (so a poll's transitions are queued in the order
//     they happened). A task older than its last sighting is a stale answer and ignored; one
//     whose state or result code differs from its sighting, with an updatedAt not older, is a
//     transition (the API does not always advance updatedAt with the state), with the event
//     tasks.EventFor names. A baseline poll records every task and finds no transition.
//  2. route: each transition whose event Rules.Announce names becomes an entry for
//     Rules.Channel, and one for each subscribed channel whose subscription wants the event
//     for the task's tenant (Input.Subscriptions); a channel gets an event once.
//  3. mute: an entry an active mute silences (Input.Mutes) is dropped (Decision.Muted).
//  4. group: more than Rules.Burst (default DefaultBurst) entries for one channel become one
//     Summary entry.
//  5. threads (unless Rules.NoThreads): a transition of a task that has a thread in a channel queues, after its
//     announcement if any, a Refresh of the thread's first message there, announced or not,
//     so that message always shows the task's current state. The first announcement of a task
//     in a channel marks its thread there as pending.
//
// Stuck: every sighting records when the task entered its state (Seen.Since: tasks.Entered on
// a transition, kept while the state stays) and, when Rules.Stuck limits that state, when it
// is due to be stuck (Since + limit). After the diff, each sighting whose StuckDue has come by
// the API's clock (Input.Due, and the tasks of this poll) and that is still in the same state
// becomes a transition with tasks.EventStuck, routed, muted, grouped and threaded like the
// others; its next StuckDue is the first multiple of Rules.StuckRepeat after the clock (none
// without a repeat), so a stay is announced once, or once per repeat, and never in a burst
// after downtime. A transition ends the stay (a task that leaves the state before its limit is
// never stuck). A baseline announces nothing: a task already past its limit then counts as
// announced once. Limits changed in the configuration apply to every task the next time a
// poll sees it (each reconciliation sees every task in progress).
//
// Every polled task's sighting is recorded; a task seen again is no longer missing; a gone
// task is marked missing since now. The watermark moves to the newest updatedAt seen, or to
// the API's clock when the listing began (Poll.Listed) if that is later, never backwards, and
// never more than MaxClockAhead past the API's clock (Decision.Future names the
// tasks stamped beyond it); a stored watermark ahead of the API's clock (a clock that ran ahead
// and was put right) moves back to it (Decision.WatermarkReset).
func (r Rules) Decide(in Input, now time.Time) Decision {
	d := Decision{Watermark: in.Watermark, Baselined: in.Baseline}
	if in.Poll.Watermark.After(d.Watermark) {
		d.Watermark = in.Poll.Watermark
	}
	clock := in.ServerTime
	if clock.IsZero() {
		clock = now
	}
	limit := clock.Add(MaxClockAhead)
	last := make(map[string]Seen, len(in.Tasks))
	lookup := func(key string) (Seen, bool) {
		if s, ok := last[key]; ok {
			return s, true
		}
		s, ok := in.Last[key]
		return s, ok
	}
	var order []string // keys in the order their sighting first changed
	record := func(s Seen) {
		if _, ok := last[s.Key]; !ok {
			order = append(order, s.Key)
		}
		last[s.Key] = s
	}

	ts := slices.Clone(in.Tasks)
	slices.SortStableFunc(ts, func(a, b tasks.Task) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
	var changes []found
	var due []string // keys that may be stuck now, earliest due first
	for _, s := range in.Due {
		due = append(due, s.Key)
	}
	for i := range ts {
		t := &ts[i]
		switch {
		case t.UpdatedAt.After(limit):
			d.Future = append(d.Future, t.Key())
		case t.UpdatedAt.After(d.Watermark):
			d.Watermark = t.UpdatedAt
		}
		prev, ok := lookup(t.Key())
		tr, changed, fresh := r.diff(prev, ok, t)
		if ok && t.UpdatedAt.Before(prev.UpdatedAt) {
			continue // a stale answer
		}
		cur := prev
		if fresh {
			cur = Seen{Key: t.Key(), Title: t.Title(), State: t.State, Result: t.ResultCode(),
				UpdatedAt: t.UpdatedAt, CompletedAt: t.CompletedAt, Threads: prev.Threads,
				Since: prev.Since, Stuck: prev.Stuck, StuckDue: prev.StuckDue, Task: prev.Task}
			if changed {
				cur.Since, cur.Stuck, cur.StuckDue = tasks.Entered(t, tr.From, clock), 0, time.Time{}
			}
		}
		cur.MissingSince = time.Time{} // seen again: no longer missing
		if t.Tenant != nil {
			cur.TenantID, cur.TenantName = t.Tenant.ID, t.Tenant.Name
		}
		if r.watch(&cur, t, fresh, changed, clock, in.Baseline) || fresh || !prev.MissingSince.IsZero() || cur.TenantID != prev.TenantID || cur.TenantName != prev.TenantName {
			record(cur)
		}
		if changed && !in.Baseline {
			tr.Task.Since = cur.Since
			changes = append(changes, found{tr, prev.Threads})
		}
		if !cur.StuckDue.IsZero() && !cur.StuckDue.After(clock) {
			due = append(due, cur.Key)
		}
	}
	if !in.Listed.IsZero() && in.Listed.After(d.Watermark) && !in.Listed.After(limit) {
		d.Watermark = in.Listed // quiet polls stay one small request, also right after a burst
	}
	if !in.ServerTime.IsZero() && d.Watermark.After(limit) {
		// The watermark is ahead of the API's clock: an API whose clock ran ahead and was put
		// right (or a stored watermark from such a time). Left there, it would hide every
		// change until the API's clock caught up; moving it back only fetches tasks again that
		// the sightings already hold.
		d.Watermark = in.ServerTime
		d.WatermarkReset = true
	}
	for _, k := range in.Gone {
		if prev, ok := lookup(k); ok && prev.MissingSince.IsZero() {
			prev.MissingSince = now
			prev.StuckDue, prev.Task = time.Time{}, nil
			record(prev)
		}
	}
	if !in.Baseline {
		changes = append(changes, r.stuck(due, lookup, record, clock)...)
	}

	burst := r.Burst
	if burst == 0 {
		burst = DefaultBurst
	}
	var trs []Transition
	for _, c := range changes {
		trs = append(trs, c.tr)
	}
	routed, muted := mute(r.route(trs, in.Subscriptions, in.Scopes, now), in.Mutes, now)
	d.Muted = muted
	for _, tr := range trs {
		if tr.Event == tasks.EventFailed {
			d.History = append(d.History, recordOf(tr.Event, tr.Task, now))
		}
	}
	for _, e := range muted {
		rec := recordOf(e.Event, e.Task, now)
		rec.Muted, rec.Channel = true, e.Channel
		d.History = append(d.History, rec)
	}
	announced := group(routed, burst, now)
	// Threads: a task's first announcement in a channel opens a pending thread; every
	// transition of a task with a thread refreshes the thread's first message.
	pos := 0
	for _, c := range changes {
		key := c.tr.Task.Key
		for pos < len(announced) && (announced[pos].Summary != nil || announced[pos].Task.Key == key) {
			e := announced[pos]
			d.Entries = append(d.Entries, e)
			pos++
			if e.Summary != nil {
				continue
			}
			if r.NoThreads {
				continue
			}
			if s := last[key]; s.Threads == nil || !hasKey(s.Threads, e.Channel) {
				s.Threads = withThread(s.Threads, e.Channel, "")
				record(s)
			}
		}
		if r.NoThreads {
			continue
		}
		if c.tr.Event == tasks.EventStuck {
			continue // the task's state did not change: its thread's first message is right
		}
		for _, ch := range sortedKeys(c.threads) {
			// A thread opened before its channel was scoped is left as it was: its first
			// message must not show a later state of another tenant's task.
			if !scopeAllows(in.Scopes, cmp.Or(ch, r.Channel), c.tr.Task) {
				continue
			}
			d.Entries = append(d.Entries, Entry{Channel: ch, Task: c.tr.Task, QueuedAt: now, Refresh: true})
		}
	}
	d.Entries = append(d.Entries, announced[pos:]...)
	for _, k := range order {
		d.Seen = append(d.Seen, last[k])
	}
	return d
}

// watch brings s's stuck check up to date for the task t it was just seen as (fresh: a newer
// answer than s's last one; entered: in a new state) and reports whether it changed: Since is set when unknown, StuckDue
// follows the limit of s.State (a limit set, changed or removed in the configuration applies
// from the next sighting on), and Task holds t while a check is due. A task already past its
// limit when it is first seen in its state (at a baseline, or after downtime) counts as
// announced once: its transition's announcement (or none, at a baseline) says so.
func (r Rules) watch(s *Seen, t *tasks.Task, fresh, entered bool, clock time.Time, baseline bool) bool {
	was := *s
	if s.Since.IsZero() {
		s.Since = tasks.Entered(t, "", clock)
	}
	limit := r.Stuck[s.State]
	switch {
	case limit <= 0:
		s.StuckDue = time.Time{}
	case s.Stuck == 0:
		s.StuckDue = s.Since.Add(limit)
	case r.StuckRepeat <= 0:
		s.StuckDue = time.Time{}
	case s.StuckDue.IsZero():
		s.StuckDue = r.nextStuck(s.Since.Add(limit), clock)
	}
	if (baseline || entered) && s.Stuck == 0 && !s.StuckDue.IsZero() && !s.StuckDue.After(clock) {
		// Already past its limit when first seen in this state (at the baseline, or after
		// downtime): the transition's announcement says how long (Snapshot.Since), and
		// counts as this stay's stuck one; a second post in the same poll would repeat it.
		s.Stuck, s.StuckDue = 1, r.nextStuck(s.StuckDue, clock)
	}
	switch {
	case s.StuckDue.IsZero():
		s.Task = nil
	case fresh || s.Task == nil:
		snap := tasks.NewSnapshot(t, r.Failures)
		s.Task = &snap
	}
	return !was.Since.Equal(s.Since) || !was.StuckDue.Equal(s.StuckDue) || was.Stuck != s.Stuck || (was.Task == nil) != (s.Task == nil)
}

// nextStuck is the first time after clock that is due plus a multiple of StuckRepeat (zero
// without a repeat): reminders resume their rhythm after downtime instead of catching up.
func (r Rules) nextStuck(due, clock time.Time) time.Time {
	if r.StuckRepeat <= 0 {
		return time.Time{}
	}
	n := clock.Sub(due)/r.StuckRepeat + 1
	if n < 1 {
		n = 1
	}
	return due.Add(n * r.StuckRepeat)
}

// stuck turns the due sightings (keys, earliest first, maybe repeated) that are still due by
// clock into stuck transitions, and records each one's next check.
func (r Rules) stuck(keys []string, lookup func(string) (Seen, bool), record func(Seen), clock time.Time) []found {
	var out []found
	done := map[string]bool{}
	for _, k := range keys {
		s, ok := lookup(k)
		if !ok || done[k] || s.StuckDue.IsZero() || s.StuckDue.After(clock) || !s.MissingSince.IsZero() || s.State == tasks.Completed {
			continue
		}
		done[k] = true
		snap := tasks.Snapshot{Key: s.Key, ID: s.Key, Title: s.Title, State: s.State, TenantID: s.TenantID, TenantName: s.TenantName, UpdatedAt: s.UpdatedAt}
		if s.Task != nil {
			snap = *s.Task
		}
		snap.Since = s.Since
		out = append(out, found{Transition{Event: tasks.EventStuck, From: s.State, Task: snap}, s.Threads})
		s.Stuck++
		s.StuckDue = r.nextStuck(s.StuckDue, clock)
		if s.StuckDue.IsZero() {
			s.Task = nil
		}
		record(s)
	}
	return out
}

// diff compares a polled task with its last sighting (ok=false: never seen). fresh reports
// that t is not older than the sighting and differs from it or is newer; changed that its
// state or result code differs; tr is then the transition.
func (r Rules) diff(prev Seen, ok bool, t *tasks.Task) (tr Transition, changed, fresh bool) {
	if ok && t.UpdatedAt.Before(prev.UpdatedAt) {
		return Transition{}, false, false // a stale answer
	}
	same := ok && prev.State == t.State && prev.Result == t.ResultCode()
	switch {
	case same && !t.UpdatedAt.After(prev.UpdatedAt):
		return Transition{}, false, false // the same answer again
	case same:
		return Transition{}, false, true
	}
	from := tasks.State("")
	if ok {
		from = prev.State
	}
	return Transition{Event: tasks.EventFor(from, t, r.Failures), From: from, Task: tasks.NewSnapshot(t, r.Failures)}, true, true
}

// found is a transition of a poll, with the task's threads before it.
type found struct {
	tr      Transition
	threads map[string]string
}

// group replaces, per channel, more than burst entries by one Summary entry (burst < 0: no
// limit). A summary takes the place of its channel's first entry.
func group(es []Entry, burst int, now time.Time) []Entry {
	if burst < 0 {
		return es
	}
	count := map[string]int{}
	for _, e := range es {
		count[e.Channel]++
	}
	var out []Entry
	summaries := map[string]int{} // channel → index in out
	for _, e := range es {
		if count[e.Channel] <= burst {
			out = append(out, e)
			continue
		}
		i, ok := summaries[e.Channel]
		if !ok {
			i = len(out)
			summaries[e.Channel] = i
			out = append(out, Entry{Channel: e.Channel, QueuedAt: now, Summary: &Summary{Counts: map[tasks.Event]int{}}})
		}
		sum := out[i].Summary
		sum.Counts[e.Event]++
		if len(sum.First) < SummaryFirst {
			sum.First = append(sum.First, Transition{Event: e.Event, From: e.From, Task: e.Task})
		}
	}
	return out
}

// Broadcast reports whether a reply in a task's thread announcing ev is also shown in the
// channel: pauses, failures and stuck tasks are what on-call must not miss inside a thread.
func Broadcast(ev tasks.Event) bool {
	return ev == tasks.EventPaused || ev == tasks.EventFailed || ev == tasks.EventStuck
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// withThread is a copy of threads with channel set to id.
func withThread(threads map[string]string, channel, id string) map[string]string {
	out := maps.Clone(threads)
	if out == nil {
		out = map[string]string{}
	}
	out[channel] = id
	return out
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
