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

// maxDaysMinutes caps what ParseDays adds up (ten years of minutes), so a long number of any
// size stays one past every limit callers check instead of overflowing.
const maxDaysMinutes = 10 * 365 * 24 * 60

// ParseDays parses a duration of whole minutes written with the units m, h and d (any case,
// any order, added up): 30m, 2h, 1d, 1h30m, 1d12h. A number without a unit, another unit or
// nothing at all is an error. The result saturates just past ten years; work is linear in
// len(v), whatever its numbers. The grammar of mute durations (`/tasks mute … 2h`) and of
// TASKBOT_STUCK_AFTER and TASKBOT_STUCK_REPEAT.
func ParseDays(v string) (time.Duration, error) {
	var total int64 // minutes
	for i := 0; i < len(v); {
		j, n := i, int64(0)
		for ; j < len(v) && '0' <= v[j] && v[j] <= '9'; j++ {
			n = min(n*10+int64(v[j]-'0'), maxDaysMinutes+1)
		}
		if j == i || j == len(v) {
			return 0, fmt.Errorf("%q is not a duration such as 30m, 2h or 1d", v)
		}
		switch v[j] | 0x20 { // ASCII lower case
		case 'm':
		case 'h':
			n *= 60
		case 'd':
			n *= 24 * 60
		default:
			return 0, fmt.Errorf("%q is not a duration such as 30m, 2h or 1d", v)
		}
		total = min(total+n, maxDaysMinutes+1)
		i = j + 1
	}
	if v == "" {
		return 0, fmt.Errorf("no duration given (such as 30m, 2h or 1d)")
	}
	return time.Duration(total) * time.Minute, nil
}

// FormatDays writes d as ParseDays reads it: days, hours and minutes, each only when not zero
// ("1d", "1h30m", "2d5m"; "0m" for less than a minute); whole minutes of d only.
func FormatDays(d time.Duration) string {
	m := int64(d / time.Minute)
	var b []byte
	for _, u := range []struct {
		minutes int64
		unit    byte
	}{{24 * 60, 'd'}, {60, 'h'}, {1, 'm'}} {
		if n := m / u.minutes; n > 0 || (u.unit == 'm' && len(b) == 0) {
			b = append(strconv.AppendInt(b, n, 10), u.unit)
		}
		m %= u.minutes
	}
	return string(b)
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
