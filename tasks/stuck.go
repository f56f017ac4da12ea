package tasks

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StuckLimits is TASKBOT_STUCK_AFTER: how long a task may stay in a state before it is
// announced as stuck, per state (enqueued, assigned, started, paused). A state without a limit
// is never stuck. The nil StuckLimits (`off`) makes no task stuck.
type StuckLimits map[State]time.Duration

// DefaultStuckAfter is TASKBOT_STUCK_AFTER's default: a task paused for an hour waits for
// someone (a blocker such as a question to answer or a full disk).
const DefaultStuckAfter = "paused=1h"

// StuckStates are the states a task can be stuck in: completed is final.
var StuckStates = []State{Enqueued, Assigned, Started, Paused}

// ParseStuckLimits parses `STATE=DURATION` pairs separated by commas (`paused=1h,started=12h`;
// items trimmed, state names case-insensitive, empty items dropped) or `off`. A duration is a
// Go duration or a number of days (`1d`, `1d12h`), at least a minute and at most 30 days. The
// error names every bad item and what is accepted.
func ParseStuckLimits(v string) (StuckLimits, error) {
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, "off") {
		return nil, nil
	}
	limits := StuckLimits{}
	var bad []string
	for _, it := range strings.Split(v, ",") {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		name, dur, ok := strings.Cut(it, "=")
		st := State(strings.ToLower(strings.TrimSpace(name)))
		switch {
		case !ok && strings.EqualFold(it, "off"):
			bad = append(bad, `off stands alone: it switches every limit off`)
			continue
		case !ok:
			bad = append(bad, fmt.Sprintf("%q is not STATE=DURATION (e.g. paused=1h, or off for none)", it))
			continue
		case !slices.Contains(StuckStates, st):
			bad = append(bad, fmt.Sprintf("%q: a task can be stuck only in enqueued, assigned, started or paused", it))
			continue
		}
		d, err := ParseDays(strings.TrimSpace(dur))
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("%q: %v", it, err))
		case d < time.Minute || d > 30*24*time.Hour:
			bad = append(bad, fmt.Sprintf("%q: give from 1m to 30d", it))
		case limits[st] != 0:
			bad = append(bad, fmt.Sprintf("%q: %s is given twice", it, st))
		default:
			limits[st] = d
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	if len(limits) == 0 {
		return nil, fmt.Errorf("no limit given: write STATE=DURATION pairs such as paused=1h,started=12h, or off")
	}
	return limits, nil
}

// String lists the limits as ParseStuckLimits reads them, in lifecycle order (`off` for none).
func (l StuckLimits) String() string {
	var out []string
	for _, st := range StuckStates {
		if d, ok := l[st]; ok {
			out = append(out, string(st)+"="+FormatDays(d))
		}
	}
	if len(out) == 0 {
		return "off"
	}
	return strings.Join(out, ",")
}

// ParseDays parses a Go duration that may also count days: `1d`, `1d12h`, `90m`. A bare number
// is refused (no unit).
func ParseDays(v string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration such as 30m, 2h or 1d", v)
	rest := v
	var days time.Duration
	if i := strings.IndexByte(rest, 'd'); i > 0 {
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n < 0 || n > 3650 {
			return 0, bad
		}
		days, rest = time.Duration(n)*24*time.Hour, rest[i+1:]
		if rest == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(rest)
	if err != nil || d < 0 {
		return 0, bad
	}
	return days + d, nil
}

// FormatDays writes d in the shortest of days, hours and minutes (`1d`, `1h30m`, `45s` below a
// minute); ParseDays reads it back.
func FormatDays(d time.Duration) string {
	if d < time.Minute {
		return d.String()
	}
	d = d.Truncate(time.Minute)
	var b strings.Builder
	if days := d / (24 * time.Hour); days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		d -= days * 24 * time.Hour
	}
	if h := d / time.Hour; h > 0 {
		fmt.Fprintf(&b, "%dh", h)
		d -= h * time.Hour
	}
	if m := d / time.Minute; m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	return b.String()
}

// Entered is when t entered its current state, from the API's times where they say so: its
// enqueuedAt, assignedAt or startedAt (not for a task resumed from paused, whose startedAt is
// its first start); otherwise its updatedAt, the latest time the API changed it (a task's
// pause has no time of its own). from is the state it was seen in before ("" if none). A time
// after clock (the API's clock) is clock.
func Entered(t *Task, from State, clock time.Time) time.Time {
	var at time.Time
	switch t.State {
	case Enqueued:
		at = t.EnqueuedAt
	case Assigned:
		at = t.AssignedAt
	case Started:
		if from != Paused {
			at = t.StartedAt
		}
	}
	if at.IsZero() {
		at = t.UpdatedAt
	}
	if at.IsZero() || at.After(clock) {
		at = clock
	}
	return at
}
