package announce

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// Subscription sends a channel the announcements of some events for one tenant, or for all
// (`/tasks subscribe [EVENT…] [tenant:NAME…]`, after the GitHub app's /github subscribe). A
// channel has at most one subscription per tenant: subscribing again replaces its events.
type Subscription struct {
	// Channel is the Slack channel ID that gets the announcements.
	Channel string `json:"channel"`
	// Tenant is the tenant's name (matched case-insensitively) or ID as the user gave it; ""
	// means every tenant.
	Tenant string `json:"tenant,omitempty"`
	// Events are the announced events, as TASKBOT_ANNOUNCE_STATES names them.
	Events []string `json:"events"`
	// By is the Slack user ID of who subscribed, At when.
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// Key identifies the subscription in its store: one per channel and tenant.
func (s Subscription) Key() string { return s.Channel + "\x00" + strings.ToLower(s.Tenant) }

// Announces reports whether the subscription sends an announcement of ev about a task of t's
// tenant to its channel.
func (s Subscription) Announces(ev tasks.Event, t tasks.Snapshot) bool {
	if s.Tenant != "" && !tasks.TenantIs(s.Tenant, t.TenantID, t.TenantName) {
		return false
	}
	set, err := tasks.ParseAnnounceSet(s.Events)
	return err == nil && set.Announces(ev)
}

// MuteKind is what a mute silences.
type MuteKind string

// The mute targets of `/tasks mute task:ID|tenant:NAME|plan:NAME`.
const (
	MuteTask   MuteKind = "task"
	MuteTenant MuteKind = "tenant"
	MutePlan   MuteKind = "plan"
)

// MaxMute is the longest a mute may last: a forgotten mute must not silence a customer forever.
const MaxMute = 30 * 24 * time.Hour

// Mute silences the announcements about one task, tenant or plan, in every channel, until
// Until (after Alertmanager's silences). Muted announcements are counted and logged, never
// posted; thread refreshes go on.
type Mute struct {
	// N numbers the mute for `/tasks unmute N`; the store assigns it, never reused.
	N uint64 `json:"n"`
	// Kind and Value are the target: a task's id, idString or uuid; a tenant's name
	// (case-insensitive) or ID; a plan's name (case-insensitive).
	Kind  MuteKind `json:"kind"`
	Value string   `json:"value"`
	// Until is when the mute ends by itself.
	Until time.Time `json:"until"`
	// Reason is the user's words, if any.
	Reason string `json:"reason,omitempty"`
	// By is the Slack user ID of who muted, Channel where, At when.
	By      string    `json:"by"`
	Channel string    `json:"channel"`
	At      time.Time `json:"at"`
	// TenantID and TenantName are the tenant of a task mute's task, when it was looked up:
	// a scoped channel lists the mutes of its tenants' tasks.
	TenantID   string `json:"tenantId,omitempty"`
	TenantName string `json:"tenantName,omitempty"`
}

// Active reports whether the mute is in force at now.
func (m Mute) Active(now time.Time) bool { return now.Before(m.Until) }

// Matches reports whether the mute silences announcements about t.
func (m Mute) Matches(t tasks.Snapshot) bool {
	switch m.Kind {
	case MuteTask:
		return m.Value == t.Key || m.Value == t.ID
	case MuteTenant:
		return tasks.TenantIs(m.Value, t.TenantID, t.TenantName)
	case MutePlan:
		return t.Plan != "" && strings.EqualFold(strings.TrimSpace(m.Value), strings.TrimSpace(t.Plan))
	}
	return false
}

// SameTarget reports whether m and o silence the same task, tenant or plan: the same kind and
// value, a tenant's or plan's name ignoring case and surrounding space as Matches compares it.
func (m Mute) SameTarget(o Mute) bool {
	if m.Kind != o.Kind {
		return false
	}
	if m.Kind == MuteTask {
		return m.Value == o.Value
	}
	return strings.EqualFold(strings.TrimSpace(m.Value), strings.TrimSpace(o.Value))
}

// Target is the mute's target as the user wrote it: `task:944455285181775872`, `tenant:"Acme Corp"`.
func (m Mute) Target() string {
	v := m.Value
	if strings.ContainsAny(v, " \t\"") || v == "" {
		v = fmt.Sprintf("%q", v)
	}
	return string(m.Kind) + ":" + v
}

// route turns each announced transition into one entry per channel that wants it: the default
// channel (Rules.Channel) for the events of Rules.Announce, every subscribed channel for its
// events and tenants. A channel gets an event once, however many subscriptions match, and a
// scoped channel only about its tenants.
func (r Rules) route(trs []Transition, subs []Subscription, scopes []Scope, now time.Time) []Entry {
	var out []Entry
	inScope := func(ch string, t tasks.Snapshot) bool { return scopeAllows(scopes, ch, t) }
	for _, tr := range trs {
		var chans []string
		if r.Announce.Announces(tr.Event) && inScope(r.Channel, tr.Task) {
			chans = append(chans, r.Channel)
		}
		for _, s := range subs {
			if !slices.Contains(chans, s.Channel) && s.Announces(tr.Event, tr.Task) && inScope(s.Channel, tr.Task) {
				chans = append(chans, s.Channel)
			}
		}
		for _, ch := range chans {
			out = append(out, Entry{Channel: ch, Event: tr.Event, From: tr.From, Task: tr.Task, QueuedAt: now})
		}
	}
	return out
}

// scopeAllows reports whether channel may be told about t: it has no scope, or its scope
// allows t's tenant.
func scopeAllows(scopes []Scope, channel string, t tasks.Snapshot) bool {
	return scopeAllowsTenant(scopes, channel, t.TenantID, t.TenantName)
}

// scopeAllowsTenant reports whether channel may be told about the tenant with id and name.
func scopeAllowsTenant(scopes []Scope, channel, id, name string) bool {
	for _, sc := range scopes {
		if sc.Channel == channel {
			return sc.Allows(id, name)
		}
	}
	return true
}

// mute drops the entries an active mute silences; it returns the kept and the muted ones.
func mute(es []Entry, mutes []Mute, now time.Time) (kept, muted []Entry) {
	for _, e := range es {
		if slices.ContainsFunc(mutes, func(m Mute) bool { return m.Active(now) && m.Matches(e.Task) }) {
			muted = append(muted, e)
			continue
		}
		kept = append(kept, e)
	}
	return kept, muted
}

// ScopeChange is what a store changed besides the scope itself when it set one
// (state.Store.SetScope).
type ScopeChange struct {
	// Removed and Added are the channel's subscriptions removed and added to fit the scope.
	Removed, Added []Subscription
	// Dropped counts the channel's queued outbox entries about other tenants, removed unsent;
	// Narrowed the flood summaries cut down to the scope's tenants.
	Dropped, Narrowed int
}

// Scope limits a channel shared with a customer to some tenants (`/tasks scope tenant:NAME…`):
// every listing, show, button, subscription and digest in it shows only those tenants.
type Scope struct {
	Channel string `json:"channel"`
	// Tenants are the tenant: words as the user gave them (names or IDs); never empty.
	Tenants []string `json:"tenants"`
	// Resolved are the tenants the words named when the scope was set, as the API's tasks
	// showed them then. A resolved tenant is matched by its ID from then on, so that it stays in
	// the scope when renamed and another tenant given its name stays out; a word that named no
	// tenant then (none in Resolved: a tenant id without recent tasks) is matched as an ID
	// only, never as a name, so no tenant can get in by taking a name.
	Resolved []ScopeTenant `json:"resolved,omitempty"`
	// By is the Slack user ID of who set the scope, At when.
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// ScopeTenant is the tenant a scope's word named when the scope was set.
type ScopeTenant struct {
	Word string `json:"word"`
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Allows reports whether the scope lets its channel see a task of the tenant with id and name.
func (s Scope) Allows(id, name string) bool {
	for _, w := range s.Tenants {
		if r, ok := s.resolved(w); ok {
			if r.ID == strings.TrimSpace(id) {
				return true
			}
		} else if strings.TrimSpace(w) == strings.TrimSpace(id) {
			return true
		}
	}
	return false
}

// Names is how a tenant: word may name a tenant of the scope: ignoring case and surrounding
// space, one of its words, or a resolved tenant's name or ID.
func (s Scope) Names(word string) bool {
	word = strings.TrimSpace(word)
	for _, w := range s.Tenants {
		if strings.EqualFold(strings.TrimSpace(w), word) {
			return true
		}
		if r, ok := s.resolved(w); ok && (r.ID == word || r.Name != "" && strings.EqualFold(strings.TrimSpace(r.Name), word)) {
			return true
		}
	}
	return false
}

// Display are the scope's tenants for people: a resolved tenant's name, else the word.
func (s Scope) Display() []string {
	out := make([]string, len(s.Tenants))
	for i, w := range s.Tenants {
		out[i] = w
		if r, ok := s.resolved(w); ok && r.Name != "" {
			out[i] = r.Name
		}
	}
	return out
}

func (s Scope) resolved(word string) (ScopeTenant, bool) {
	for _, r := range s.Resolved {
		if r.Word == word && r.ID != "" {
			return r, true
		}
	}
	return ScopeTenant{}, false
}
