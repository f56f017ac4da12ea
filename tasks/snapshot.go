package tasks

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Snapshot is a task narrowed to what taskbot shows of it: what announcements, thread parents,
// summaries and lists render. The outbox stores snapshots, not API tasks, so the state file's
// format changes only when this type does (state's format test pins its encoding), never because
// the API's Task grew a field. Long texts are cut when the snapshot is taken (see the max…
// constants), so one odd task cannot bloat the state file.
type Snapshot struct {
	// Key is the task's storage key (Task.Key: its UUID, else its id).
	Key string `json:"key"`
	// ID is the id the Acronis console shows: idString, else the key.
	ID    string `json:"id,omitempty"`
	Title string `json:"title,omitempty"` // Task.Title, as the API sent it (not escaped)
	Type  string `json:"type,omitempty"`

	Queue     string `json:"queue,omitempty"`
	Priority  string `json:"priority,omitempty"`
	StartedBy string `json:"startedBy,omitempty"`

	State  State      `json:"state"`
	Result ResultCode `json:"result,omitempty"`
	// Failed: the task completed with a result code that Failures counts as failing, when the
	// snapshot was taken.
	Failed bool `json:"failed,omitempty"`
	// Error is a completed task's error; nil when the result carries none.
	Error *SnapshotError `json:"error,omitempty"`
	// Blockers are what a paused task waits for, with the possible solutions.
	Blockers []SnapshotBlocker `json:"blockers,omitempty"`

	TenantID   string `json:"tenantId,omitempty"`
	TenantName string `json:"tenantName,omitempty"`
	Machine    string `json:"machine,omitempty"` // resource.name
	Plan       string `json:"plan,omitempty"`    // policy.name

	EnqueuedAt  time.Time `json:"enqueuedAt,omitzero"`
	AssignedAt  time.Time `json:"assignedAt,omitzero"`
	StartedAt   time.Time `json:"startedAt,omitzero"`
	UpdatedAt   time.Time `json:"updatedAt,omitzero"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
	// Since is when the task entered its state as taskbot judged it (Entered; set by the
	// announce policy, zero when unknown): a stuck announcement says how long it has been there.
	Since time.Time `json:"since,omitzero"`
}

// SnapshotError is the part of a task's result error that on-call reads: what failed, why
// (cause) and with what effect. Cause and Effect are the context's cause_str and effect_str,
// the texts the Acronis console shows; the rest of the context (module names, source files)
// is left out.
type SnapshotError struct {
	Domain string `json:"domain,omitempty"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	Cause  string `json:"cause,omitempty"`
	Effect string `json:"effect,omitempty"`
}

// SnapshotBlocker is one blocker of a paused task: the issue and its possible solutions, as
// text (MessageText).
type SnapshotBlocker struct {
	Issue     string   `json:"issue"`
	Solutions []string `json:"solutions,omitempty"`
}

// Bounds of a Snapshot's texts and lists; renderers cut far shorter.
const (
	maxSnapshotText      = 1000 // title, reason, names, in characters
	maxSnapshotBlockers  = 5
	maxSnapshotSolutions = 5
)

// NewSnapshot narrows t to a Snapshot, with f deciding whether it failed.
func NewSnapshot(t *Task, f Failures) Snapshot {
	s := Snapshot{
		Key:         t.Key(),
		ID:          t.IDString,
		Title:       cut(t.Title(), maxSnapshotText),
		Type:        cut(t.Type, maxSnapshotText),
		Queue:       cut(t.Queue, maxSnapshotText),
		Priority:    cut(t.Priority, maxSnapshotText),
		StartedBy:   cut(t.StartedByUser, maxSnapshotText),
		State:       t.State,
		Result:      t.ResultCode(),
		Failed:      f.Failed(t),
		EnqueuedAt:  t.EnqueuedAt,
		AssignedAt:  t.AssignedAt,
		StartedAt:   t.StartedAt,
		UpdatedAt:   t.UpdatedAt,
		CompletedAt: t.CompletedAt,
	}
	if s.ID == "" {
		s.ID = s.Key
	}
	if t.Tenant != nil {
		s.TenantID, s.TenantName = cut(t.Tenant.ID, maxSnapshotText), cut(t.Tenant.Name, maxSnapshotText)
	}
	if t.Resource != nil {
		s.Machine = cut(t.Resource.Name, maxSnapshotText)
	}
	if t.Policy != nil {
		s.Plan = cut(t.Policy.Name, maxSnapshotText)
	}
	if t.Result != nil && t.Result.Error != nil {
		e := t.Result.Error
		s.Error = &SnapshotError{Domain: cut(e.Domain, maxSnapshotText), Code: cut(e.Code, maxSnapshotText),
			Reason: cut(e.Reason, maxSnapshotText),
			Cause:  cut(contextText(e.Context, "cause_str"), maxSnapshotText),
			Effect: cut(contextText(e.Context, "effect_str"), maxSnapshotText)}
	}
	for _, b := range t.Blockers[:min(len(t.Blockers), maxSnapshotBlockers)] {
		sb := SnapshotBlocker{Issue: cut(MessageText(b.Issue), maxSnapshotText)}
		for _, m := range b.PossibleSolutions[:min(len(b.PossibleSolutions), maxSnapshotSolutions)] {
			sb.Solutions = append(sb.Solutions, cut(MessageText(m), maxSnapshotText))
		}
		s.Blockers = append(s.Blockers, sb)
	}
	return s
}

// Tenant is the tenant's name, else its id, else "".
func (s Snapshot) Tenant() string {
	if strings.TrimSpace(s.TenantName) != "" {
		return s.TenantName
	}
	return s.TenantID
}

// contextText is the string under key in an error or message context, "" when there is none
// or it is not a string.
func contextText(ctx map[string]any, key string) string {
	v, _ := ctx[key].(string)
	return strings.TrimSpace(v)
}

// messageTextKeys are the context keys a message's readable text is looked for under.
var messageTextKeys = []string{"message", "text", "description", "msg"}

// MessageText is the readable text of a localisable message (OpenAPI schema "message"): the
// first non-empty string of its context under message, text, description or msg, else its key
// with underscores and dots as spaces ("ask_insert_tape" → "ask insert tape").
func MessageText(m Message) string {
	for _, k := range messageTextKeys {
		if v := contextText(m.Context, k); v != "" {
			return v
		}
	}
	return strings.TrimSpace(strings.NewReplacer("_", " ", ".", " ").Replace(m.Key))
}

// cut shortens s to at most n characters (runes) without splitting one.
func cut(s string, n int) string {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// TenantIs reports whether want names the tenant with id and name: want equals the id, or the
// name ignoring case and surrounding space (tenant:NAME of the slash command, subscriptions,
// mutes and scopes).
func TenantIs(want, id, name string) bool {
	want = strings.TrimSpace(want)
	if want == "" {
		return false
	}
	return want == strings.TrimSpace(id) || strings.EqualFold(squeeze(want), squeeze(name))
}

// squeeze is s with every run of white space made one space and none around it: a name typed
// with two spaces names the tenant with one.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }

// LooksLikeTenantID reports whether s has the shape of a tenant id: digits (the Account
// Management API's numeric ids, such as 1496265) or a UUID.
func LooksLikeTenantID(s string) bool {
	s = strings.TrimSpace(s)
	if IsUUID(s) {
		return true
	}
	if s == "" || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
