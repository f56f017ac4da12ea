package announce

import (
	"slices"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// DefaultBurst is how many announcements one poll may queue for one channel before they
// become one summary.
const DefaultBurst = 10

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
}

// Decide is the policy of one poll, a pure function of what the poll saw, what the store
// remembers, and now (the time stamped on new entries and missing tasks). Its stages, in order:
//
//  1. diff: tasks are taken in updatedAt order (so a poll's transitions are queued in the order
//     they happened); a task whose updatedAt is not newer than its last sighting is ignored, so
//     overlapping polls and stale answers cause no duplicate and no regression; a newer task
//     whose state or result code differs is a transition, with the event tasks.EventFor names.
//     A baseline poll records every task and finds no transition.
//  2. route: each transition whose event Rules.Announce names becomes an entry for
//     Rules.Channel.
//  3. group: more than Rules.Burst (default DefaultBurst) entries for one channel become one
//     Summary entry.
//
// Every polled task's sighting is recorded (keeping its thread); a task seen again is no longer
// missing; a gone task is marked missing since now. The watermark moves to the newest updatedAt
// seen, never backwards.
func (r Rules) Decide(in Input, now time.Time) Decision {
	d := Decision{Watermark: in.Watermark, Baselined: in.Baseline}
	if in.Poll.Watermark.After(d.Watermark) {
		d.Watermark = in.Poll.Watermark
	}
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
	var found []Transition
	for i := range ts {
		t := &ts[i]
		if t.UpdatedAt.After(d.Watermark) {
			d.Watermark = t.UpdatedAt
		}
		prev, ok := lookup(t.Key())
		tr, changed, newer := diff(prev, ok, t)
		if !newer {
			if !prev.MissingSince.IsZero() { // seen again: no longer missing
				prev.MissingSince = time.Time{}
				record(prev)
			}
			continue
		}
		if changed && !in.Baseline {
			found = append(found, tr)
		}
		record(Seen{Key: t.Key(), Title: t.Title(), State: t.State, Result: t.ResultCode(),
			UpdatedAt: t.UpdatedAt, CompletedAt: t.CompletedAt, Thread: prev.Thread})
	}
	for _, k := range in.Gone {
		if prev, ok := lookup(k); ok && prev.MissingSince.IsZero() {
			prev.MissingSince = now
			record(prev)
		}
	}
	for _, k := range order {
		d.Seen = append(d.Seen, last[k])
	}
	burst := r.Burst
	if burst == 0 {
		burst = DefaultBurst
	}
	d.Entries = group(r.route(found, now), burst, now)
	return d
}

// diff compares a polled task with its last sighting (ok=false: never seen). newer reports that
// t is newer than the sighting by updatedAt; changed that its state or result code differs; tr
// is then the transition.
func diff(prev Seen, ok bool, t *tasks.Task) (tr Transition, changed, newer bool) {
	if ok && !t.UpdatedAt.After(prev.UpdatedAt) {
		return Transition{}, false, false
	}
	if ok && prev.State == t.State && prev.Result == t.ResultCode() {
		return Transition{}, false, true
	}
	from := tasks.State("")
	if ok {
		from = prev.State
	}
	return Transition{Event: tasks.EventFor(from, t), From: from, Task: tasks.NewSnapshot(t)}, true, true
}

// route turns the transitions that are announced into entries, one per channel that wants them.
func (r Rules) route(trs []Transition, now time.Time) []Entry {
	var out []Entry
	for _, tr := range trs {
		if r.Announce.Announces(tr.Event) {
			out = append(out, Entry{Channel: r.Channel, Event: tr.Event, From: tr.From, Task: tr.Task, QueuedAt: now})
		}
	}
	return out
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
// channel: pauses and failures are what on-call must not miss inside a thread.
func Broadcast(ev tasks.Event) bool { return ev == tasks.EventPaused || ev == tasks.EventFailed }
