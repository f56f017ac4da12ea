package tasks

import (
	"fmt"
	"maps"
	"slices"
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
	// Error is a failed task's error; nil when the result carries none.
	Error *SnapshotError `json:"error,omitempty"`

	TenantID   string `json:"tenantId,omitempty"`
	TenantName string `json:"tenantName,omitempty"`
	Machine    string `json:"machine,omitempty"` // resource.name
	Plan       string `json:"plan,omitempty"`    // policy.name

	EnqueuedAt  time.Time `json:"enqueuedAt,omitzero"`
	AssignedAt  time.Time `json:"assignedAt,omitzero"`
	StartedAt   time.Time `json:"startedAt,omitzero"`
	UpdatedAt   time.Time `json:"updatedAt,omitzero"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
}

// SnapshotError is the part of a task's result error that taskbot shows.
type SnapshotError struct {
	Domain string `json:"domain,omitempty"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Context is the error's context with every value printed as text (fmt.Sprint).
	Context map[string]string `json:"context,omitempty"`
}

// Bounds of a Snapshot's texts, in characters; renderers cut far shorter.
const (
	maxSnapshotText    = 1000 // title, reason, names
	maxSnapshotContext = 50   // error context entries kept
	maxSnapshotValue   = 500  // one error context value
)

// NewSnapshot narrows t to a Snapshot.
func NewSnapshot(t *Task) Snapshot {
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
		se := &SnapshotError{Domain: cut(e.Domain, maxSnapshotText), Code: cut(e.Code, maxSnapshotText), Reason: cut(e.Reason, maxSnapshotText)}
		for _, k := range slices.Sorted(maps.Keys(e.Context)) { // sorted: the same keys are kept every time
			if len(se.Context) == maxSnapshotContext {
				break
			}
			if se.Context == nil {
				se.Context = map[string]string{}
			}
			se.Context[cut(k, maxSnapshotText)] = cut(fmt.Sprint(e.Context[k]), maxSnapshotValue)
		}
		s.Error = se
	}
	return s
}

// Failed reports whether the task completed with result code "error" (Task.Failed).
func (s Snapshot) Failed() bool { return s.State == Completed && s.Result == ResultError }

// Tenant is the tenant's name, else its id, else "".
func (s Snapshot) Tenant() string {
	if strings.TrimSpace(s.TenantName) != "" {
		return s.TenantName
	}
	return s.TenantID
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
