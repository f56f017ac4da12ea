package tasks

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Event names what happened to a task in a transition, in the words announcements use.
// It is the task's new state, except that paused → started is "resumed" and a completion with
// a failing result code (Failures) is "failed".
type Event string

// The events taskbot can announce.
const (
	EventEnqueued  Event = "enqueued"
	EventAssigned  Event = "assigned"
	EventStarted   Event = "started"
	EventPaused    Event = "paused"
	EventResumed   Event = "resumed"
	EventCompleted Event = "completed"
	EventFailed    Event = "failed"
	// EventStuck is not a transition: the task stayed in its state longer than its limit
	// (StuckLimits, TASKBOT_STUCK_AFTER).
	EventStuck Event = "stuck"
)

// EventFor is the event of a transition from state from ("" when the task was not seen before)
// to the state and result of t, with f deciding which completions failed.
func EventFor(from State, t *Task, f Failures) Event {
	switch {
	case f.Failed(t):
		return EventFailed
	case t.State == Started && from == Paused:
		return EventResumed
	default:
		return Event(t.State)
	}
}

// AnnounceSet is the set of TASKBOT_ANNOUNCE_STATES: state names plus "failed" and "stuck".
// "started" also covers resumed tasks (paused → started); "completed" covers every completion,
// failed ones included; "failed" alone covers only completions with a failing result code.
type AnnounceSet map[string]bool

// ParseAnnounceSet parses comma-separated names (items trimmed, case-insensitive, empty items
// dropped). It returns an error naming every unknown item and the accepted names.
func ParseAnnounceSet(items []string) (AnnounceSet, error) {
	set := AnnounceSet{}
	var bad []string
	for _, it := range items {
		it = strings.ToLower(strings.TrimSpace(it))
		if it == "" {
			continue
		}
		if !State(it).Valid() && it != string(EventFailed) && it != string(EventStuck) {
			bad = append(bad, fmt.Sprintf("%q", it))
			continue
		}
		set[it] = true
	}
	if len(bad) > 0 {
		noun, hint := "state", ""
		if len(bad) > 1 {
			noun = "states"
		}
		for _, b := range bad {
			if strings.ContainsFunc(b, unicode.IsSpace) {
				hint = "; separate them with commas"
			}
		}
		return nil, fmt.Errorf("unknown %s %s (use any of: enqueued, assigned, started, paused, completed, failed, stuck%s)", noun, strings.Join(bad, ", "), hint)
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("no state given (use any of: enqueued, assigned, started, paused, completed, failed, stuck)")
	}
	return set, nil
}

// Announces reports whether an event of kind e is announced under this set.
func (s AnnounceSet) Announces(e Event) bool {
	switch e {
	case EventResumed:
		return s["started"]
	case EventFailed:
		return s["failed"] || s["completed"]
	default:
		return s[string(e)]
	}
}

// Names lists the set's names in lifecycle order.
func (s AnnounceSet) Names() []string {
	if len(s) == 0 {
		return nil
	}
	return strings.Split(s.String(), ",")
}

// String lists the set's names in lifecycle order, comma-separated.
func (s AnnounceSet) String() string {
	var out []string
	for _, st := range States {
		if s[string(st)] {
			out = append(out, string(st))
		}
	}
	for _, e := range []Event{EventFailed, EventStuck} {
		if s[string(e)] {
			out = append(out, string(e))
		}
	}
	return strings.Join(slices.Clip(out), ",")
}

// Failures is the set of result codes that make a completed task "failed"
// (TASKBOT_FAILED_RESULTS). The nil Failures is DefaultFailures.
type Failures []ResultCode

// DefaultFailures are error, abandoned and timedout: a public collector of this API counts
// abandoned and timed-out tasks (agents that were unreachable) as failures, and so does taskbot.
var DefaultFailures = Failures{ResultError, ResultAbandoned, ResultTimedOut}

// ParseFailures parses comma-separated result codes (items trimmed, case-insensitive, empty
// items dropped). It returns an error naming every unknown item and the accepted codes.
func ParseFailures(items []string) (Failures, error) {
	var f Failures
	var bad []string
	for _, it := range items {
		it = strings.ToLower(strings.TrimSpace(it))
		switch {
		case it == "":
		case !ResultCode(it).Valid():
			bad = append(bad, fmt.Sprintf("%q", it))
		case !slices.Contains(f, ResultCode(it)):
			f = append(f, ResultCode(it))
		}
	}
	var names []string
	for _, c := range ResultCodes {
		names = append(names, string(c))
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("unknown result code %s (use any of: %s)", strings.Join(bad, ", "), strings.Join(names, ", "))
	}
	if len(f) == 0 {
		return nil, fmt.Errorf("no result code given (use any of: %s)", strings.Join(names, ", "))
	}
	return f, nil
}

// codes is f, or DefaultFailures for the nil f.
func (f Failures) codes() Failures {
	if f == nil {
		return DefaultFailures
	}
	return f
}

// Has reports whether result code c is a failure.
func (f Failures) Has(c ResultCode) bool { return c != "" && slices.Contains(f.codes(), c) }

// Failed reports whether t completed with a failing result code.
func (f Failures) Failed(t *Task) bool { return t.State == Completed && f.Has(t.ResultCode()) }

// Codes lists the failing result codes (a copy).
func (f Failures) Codes() []ResultCode { return slices.Clone(f.codes()) }

// String lists the codes comma-separated.
func (f Failures) String() string {
	var out []string
	for _, c := range f.codes() {
		out = append(out, string(c))
	}
	return strings.Join(out, ",")
}
