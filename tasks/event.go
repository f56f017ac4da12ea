package tasks

import (
	"fmt"
	"slices"
	"strings"
)

// Event names what happened to a task in a transition, in the words announcements use.
// It is the task's new state, except that paused → started is "resumed" and a completion with
// result code "error" is "failed".
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
)

// EventFor is the event of a transition from state from ("" when the task was not seen before)
// to the state and result of t.
func EventFor(from State, t *Task) Event {
	switch {
	case t.Failed():
		return EventFailed
	case t.State == Started && from == Paused:
		return EventResumed
	default:
		return Event(t.State)
	}
}

// AnnounceSet is the set of TASKBOT_ANNOUNCE_STATES: state names plus "failed".
// "started" also covers resumed tasks (paused → started); "completed" covers every completion,
// failed ones included; "failed" alone covers only completions with result code "error".
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
		if !State(it).Valid() && it != string(EventFailed) {
			bad = append(bad, fmt.Sprintf("%q", it))
			continue
		}
		set[it] = true
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("unknown state %s (use any of: enqueued, assigned, started, paused, completed, failed)", strings.Join(bad, ", "))
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("no state given (use any of: enqueued, assigned, started, paused, completed, failed)")
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

// String lists the set's names in lifecycle order, comma-separated.
func (s AnnounceSet) String() string {
	var out []string
	for _, st := range States {
		if s[string(st)] {
			out = append(out, string(st))
		}
	}
	if s["failed"] {
		out = append(out, "failed")
	}
	return strings.Join(slices.Clip(out), ",")
}
