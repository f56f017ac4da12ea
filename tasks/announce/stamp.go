package announce

import (
	"maps"
	"slices"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// sightingVersion is part of every Rules.Tag: raise it when Decide records a sighting
// differently for a task whose updatedAt, state, result code and tenant did not change (for
// instance a new field derived from the task), so that every stamp stored by the older
// taskbot is stale and the next reconciliation reads and decides each record again.
const sightingVersion = 1

// Tag is a 64-bit FNV-1a hash (never 0) of what, besides the task, makes Decide's sighting of
// it: the stuck limits (sorted by state), StuckRepeat, the failing result codes and
// sightingVersion. Changing any of them changes every Stamp, so a poll after a configuration
// change reads every record it lists again: stuck limits still apply to every task in progress
// from the next reconciliation on.
func (r Rules) Tag() uint64 {
	h := fnvUint(fnvOffset, sightingVersion)
	for _, st := range slices.Sorted(maps.Keys(r.Stuck)) {
		h = fnvUint(fnvString(h, string(st)), uint64(r.Stuck[st]))
	}
	h = fnvUint(h, uint64(r.StuckRepeat))
	failures := r.Failures
	if failures == nil {
		failures = tasks.DefaultFailures
	}
	for _, c := range failures {
		h = fnvString(h, string(c))
	}
	return max(h, 1)
}

// Stamp is what a sighting was last decided from: a 64-bit FNV-1a hash of the task's
// updatedAt (Unix nanoseconds), state, result code, tenant id and name, and the rules' Tag. It
// is 0 (no stamp) for a missing task and when tag is 0.
//
// The store keeps each stamp in its index of tasks in progress. A polled task whose stamp
// (TaskStamp) equals its record's is one Decide would record nothing for: the same answer
// again (not fresh, so no transition), not missing, the same tenant, its stuck check already
// made by the same rules. So the store leaves it out of the Input without reading its record,
// and a reconciliation of unchanged tasks reads the index, not the records. (A stuck check
// that comes due needs no polled task: the store's stuck index brings it, Input.Due.)
func (s Seen) Stamp(tag uint64) uint64 {
	if tag == 0 || !s.MissingSince.IsZero() {
		return 0
	}
	return stamp(s.UpdatedAt, s.State, s.Result, s.TenantID, s.TenantName, tag)
}

// TaskStamp is the Stamp a sighting of t has when it was last decided from t under tag.
func TaskStamp(t *tasks.Task, tag uint64) uint64 {
	if tag == 0 {
		return 0
	}
	var id, name string
	if t.Tenant != nil {
		id, name = t.Tenant.ID, t.Tenant.Name
	}
	return stamp(t.UpdatedAt, t.State, t.ResultCode(), id, name, tag)
}

func stamp(updated time.Time, st tasks.State, rc tasks.ResultCode, tenantID, tenantName string, tag uint64) uint64 {
	var ns uint64
	if !updated.IsZero() {
		ns = uint64(updated.UnixNano())
	}
	h := fnvUint(fnvUint(fnvOffset, ns), tag)
	for _, s := range []string{string(st), string(rc), tenantID, tenantName} {
		h = fnvString(h, s)
	}
	return max(h, 1)
}

// FNV-1a, 64 bits (hash/fnv's, written out so that a stamp per listed task allocates nothing).
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvUint(h, v uint64) uint64 {
	for i := 56; i >= 0; i -= 8 {
		h = (h ^ (v >> i & 0xff)) * fnvPrime
	}
	return h
}

// fnvString hashes s and a NUL after it (so that "ab","c" and "a","bc" differ).
func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h * fnvPrime // ^ 0
}
