// Package tasks is taskbot's domain: the task object of the Acronis Task Manager API v2, its
// states and result codes, the events taskbot announces and the rules that decide them ("is this
// a failure"), the query that selects tasks, and the Lister the rest of taskbot asks for tasks.
//
// It does no I/O and imports no HTTP, OAuth, bbolt or Slack package: the Acronis client is
// tasks/acronis, the fake API tasks/taskstest, the announce pipeline tasks/announce. The shapes
// follow the published OpenAPI document (testdata/acronis/task-manager-v2.openapi.json, schemas
// "task" and "task_1") and the samples in Acronis's Task Manager guides.
package tasks

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// State is a task's execution state (OpenAPI schema "executionState").
type State string

// The execution states, in the order a task normally passes through them.
const (
	Enqueued  State = "enqueued"
	Assigned  State = "assigned"
	Started   State = "started"
	Paused    State = "paused"
	Completed State = "completed"
)

// States lists every execution state in lifecycle order.
var States = []State{Enqueued, Assigned, Started, Paused, Completed}

// Valid reports whether s is one of the five documented execution states.
func (s State) Valid() bool {
	switch s {
	case Enqueued, Assigned, Started, Paused, Completed:
		return true
	}
	return false
}

// InProgress reports whether a task in state s has not completed yet.
func (s State) InProgress() bool { return s.Valid() && s != Completed }

// ResultCode is the outcome of a completed task (OpenAPI schema "resultCode").
type ResultCode string

// The documented result codes.
const (
	ResultOK        ResultCode = "ok"
	ResultError     ResultCode = "error"
	ResultWarning   ResultCode = "warning"
	ResultCancelled ResultCode = "cancelled"
	ResultAbandoned ResultCode = "abandoned"
	ResultTimedOut  ResultCode = "timedout"
)

// ResultCodes lists every documented result code.
var ResultCodes = []ResultCode{ResultOK, ResultError, ResultWarning, ResultCancelled, ResultAbandoned, ResultTimedOut}

// Valid reports whether c is one of the documented result codes.
func (c ResultCode) Valid() bool {
	for _, v := range ResultCodes {
		if c == v {
			return true
		}
	}
	return false
}

// Task is one task object as the Task Manager API returns it from GET /tasks and
// GET /tasks/{id}. Every field of the published schema is kept, so a task decoded and encoded
// again loses nothing taskbot knows about.
//
// ID exceeds 2^53 in real answers: it is decoded as an exact int64 (never through float64);
// UUID (or IDString) is the key taskbot stores tasks under. Times are RFC 3339 with up to
// nanosecond precision; a zero time means the field was absent, null or "" (see UnmarshalJSON).
type Task struct {
	ID       int64  `json:"id"`
	IDString string `json:"idString,omitempty"`
	UUID     string `json:"uuid,omitempty"`

	Type     string     `json:"type,omitempty"`
	Queue    string     `json:"queue,omitempty"`
	Priority string     `json:"priority,omitempty"`
	State    State      `json:"state"`
	Result   *Result    `json:"result,omitempty"`
	Tenant   *Tenant    `json:"tenant,omitempty"`
	Issuer   Actor      `json:"issuer"`
	Executor *Actor     `json:"executor,omitempty"`
	Resource *Reference `json:"resource,omitempty"`
	Policy   *Reference `json:"policy,omitempty"`
	Affinity *Affinity  `json:"affinity,omitempty"`

	// Context is the task's free-form context object; "title" is the human-readable name the
	// Acronis console shows (see Title).
	Context  map[string]any  `json:"context,omitempty"`
	Argument json.RawMessage `json:"argument,omitempty"`

	StartedByUser   string    `json:"startedByUser,omitempty"`
	CancelRequested bool      `json:"cancelRequested"`
	Cancellable     bool      `json:"cancellable"`
	Sustainable     bool      `json:"sustainable,omitempty"`
	Tags            []string  `json:"tags,omitempty"`
	Blockers        []Blocker `json:"blockers,omitempty"`
	Progress        *Progress `json:"progress,omitempty"`
	WorkflowID      int64     `json:"workflowId,omitempty"`

	AssignCount    int `json:"assignCount"`
	MaxAssignCount int `json:"maxAssignCount,omitempty"`

	// Timeouts and intervals are Go-style duration strings as the API sends them ("5s", "1h").
	AckTimeout        string `json:"ackTimeout,omitempty"`
	QueueTimeout      string `json:"queueTimeout,omitempty"`
	ExecTimeout       string `json:"execTimeout,omitempty"`
	HeartBeatInterval string `json:"heartBeatInterval,omitempty"`
	LifeTime          string `json:"lifeTime,omitempty"`

	EnqueuedAt  time.Time `json:"enqueuedAt"`
	AssignedAt  time.Time `json:"assignedAt,omitzero"`
	StartedAt   time.Time `json:"startedAt,omitzero"`
	UpdatedAt   time.Time `json:"updatedAt"`
	CompletedAt time.Time `json:"completedAt,omitzero"`
}

// UnmarshalJSON decodes a task object as the API sends it, like the default decoding except for
// the five times (enqueuedAt, assignedAt, startedAt, updatedAt, completedAt): null or "" means
// the time is absent and leaves it zero (real answers carry "completedAt": "" for a task that has
// not completed, which time.Time refuses), and any other value must be an RFC 3339 string.
//
// A value of the wrong JSON type, a time included, is a *json.UnmarshalTypeError whose Field
// names it as the API does ("id", "completedAt", "result.code") and whose Struct is "Task" for
// the task's own fields, so a caller can say which field of which task was bad.
func (t *Task) UnmarshalJSON(b []byte) error {
	type fields Task // Task's fields without this method: no recursion
	aux := struct {
		*fields
		EnqueuedAt  optionalTime `json:"enqueuedAt"`
		AssignedAt  optionalTime `json:"assignedAt"`
		StartedAt   optionalTime `json:"startedAt"`
		UpdatedAt   optionalTime `json:"updatedAt"`
		CompletedAt optionalTime `json:"completedAt"`
	}{
		fields:      (*fields)(t),
		EnqueuedAt:  optionalTime(t.EnqueuedAt),
		AssignedAt:  optionalTime(t.AssignedAt),
		StartedAt:   optionalTime(t.StartedAt),
		UpdatedAt:   optionalTime(t.UpdatedAt),
		CompletedAt: optionalTime(t.CompletedAt),
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			// Name the field as the API does, not through the embedded helper type.
			te.Field = strings.TrimPrefix(te.Field, "fields.")
			if te.Field == "" {
				te.Type = reflect.TypeFor[Task]()
			} else if te.Struct == "" {
				te.Struct = "Task"
			}
		}
		return err
	}
	t.EnqueuedAt = time.Time(aux.EnqueuedAt)
	t.AssignedAt = time.Time(aux.AssignedAt)
	t.StartedAt = time.Time(aux.StartedAt)
	t.UpdatedAt = time.Time(aux.UpdatedAt)
	t.CompletedAt = time.Time(aux.CompletedAt)
	return nil
}

// TaskObject is a task object decoded as part of a larger JSON value, such as a page of
// GET /tasks, in the decoder's one pass over it: Task's fields, with the five times read as
// Task.UnmarshalJSON reads them (null or "" is no time, anything but an RFC 3339 string an
// error). Decoding a Task inside a larger value calls Task.UnmarshalJSON with the bytes of the
// object, which the decoder has just scanned and which json.Unmarshal then checks and scans
// again; decoding into []TaskObject and converting each with Task reads a page once. Its
// errors name a field through the embedded type ("taskFields.id"), so a caller that reports
// the field decodes the item again as a Task.
type TaskObject struct {
	taskFields
	EnqueuedAt  optionalTime `json:"enqueuedAt"`
	AssignedAt  optionalTime `json:"assignedAt"`
	StartedAt   optionalTime `json:"startedAt"`
	UpdatedAt   optionalTime `json:"updatedAt"`
	CompletedAt optionalTime `json:"completedAt"`
}

// taskFields are Task's fields without its UnmarshalJSON.
type taskFields Task

// Task is o as a Task: what Task.UnmarshalJSON would have decoded from the same object.
func (o *TaskObject) Task() Task {
	t := Task(o.taskFields)
	t.EnqueuedAt = time.Time(o.EnqueuedAt)
	t.AssignedAt = time.Time(o.AssignedAt)
	t.StartedAt = time.Time(o.StartedAt)
	t.UpdatedAt = time.Time(o.UpdatedAt)
	t.CompletedAt = time.Time(o.CompletedAt)
	return t
}

// optionalTime is a task time as the API sends it: an RFC 3339 string, or null or "" for none.
type optionalTime time.Time

// UnmarshalJSON implements json.Unmarshaler. A value that is neither null, "" nor an RFC 3339
// string is a *json.UnmarshalTypeError (the decoder adds the field's name).
func (o *optionalTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" || string(b) == `""` {
		*o = optionalTime{}
		return nil
	}
	bad := &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[time.Time]()}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return bad
	}
	var t time.Time
	if err := t.UnmarshalJSON(b); err != nil {
		bad.Value = "string " + strconv.Quote(cut(string(b[1:len(b)-1]), 64)) // the text is task data, no secret
		return bad
	}
	*o = optionalTime(t)
	return nil
}

// jsonKind names the kind of the JSON value b the way encoding/json's errors do.
func jsonKind(b []byte) string {
	if len(b) == 0 {
		return "value"
	}
	switch b[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	default:
		return "number"
	}
}

// Key is the identifier taskbot stores a task under: its UUID, else its decimal ID string.
func (t *Task) Key() string {
	if t.UUID != "" {
		return t.UUID
	}
	if t.IDString != "" {
		return t.IDString
	}
	return formatInt(t.ID)
}

// Title is the task's human-readable name: context.title when the API sent one, else its type,
// else its key. The text is as the API sent it (not escaped).
func (t *Task) Title() string {
	if s, ok := t.Context["title"].(string); ok && strings.TrimSpace(s) != "" {
		return s
	}
	if t.Type != "" {
		return t.Type
	}
	return t.Key()
}

// ResultCode is the task's result code, or "" while it has none.
func (t *Task) ResultCode() ResultCode {
	if t.Result == nil {
		return ""
	}
	return t.Result.Code
}

// Result is a completed task's outcome (OpenAPI schema "executionResult").
type Result struct {
	Code     ResultCode      `json:"code"`
	Error    *DomainError    `json:"error,omitempty"`
	Warnings []DomainError   `json:"warnings,omitempty"`
	Payload  json.RawMessage `json:"payload,omitempty"`
}

// DomainError is the Task Manager's error object (OpenAPI schema "domainError"), found in a
// failed task's result and in the body of non-2xx answers.
type DomainError struct {
	Domain  string         `json:"domain"`
	Code    string         `json:"code"`
	Reason  string         `json:"reason,omitempty"`
	Context map[string]any `json:"context,omitempty"`
	KBLink  *KBLink        `json:"kbLink,omitempty"`
	Debug   map[string]any `json:"debug,omitempty"`
}

// KBLink points at a knowledge-base article (OpenAPI schema "kbLinkInfo").
type KBLink struct {
	LineTag string `json:"lineTag"`
	SerCode string `json:"serCode"`
	Version string `json:"version"`
	Build   int64  `json:"build"`
	Product string `json:"product"`
	OS      string `json:"os"`
}

// Tenant identifies the customer or partner a task belongs to (OpenAPI schema "tenant").
type Tenant struct {
	ID      string `json:"id"`
	UUID    string `json:"uuid,omitempty"`
	Name    string `json:"name,omitempty"`
	Locator string `json:"locator,omitempty"`
}

// Actor identifies an issuer or executor (OpenAPI schema "actor").
type Actor struct {
	ID        string `json:"id"`
	ClusterID string `json:"clusterId,omitempty"`
}

// Reference links a task to a resource or policy.
type Reference struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
}

// Affinity binds a task to an agent or cluster.
type Affinity struct {
	AgentID   string `json:"agentId,omitempty"`
	ClusterID string `json:"clusterId,omitempty"`
}

// Blocker is a reason the task cannot complete without user input (OpenAPI schema "blocker").
type Blocker struct {
	ID                int64     `json:"id"`
	UUID              string    `json:"uuid,omitempty"`
	TaskID            int64     `json:"taskId"`
	ActivityID        int64     `json:"activityId,omitempty"`
	Tenant            Tenant    `json:"tenant"`
	Issue             Message   `json:"issue"`
	Solution          *Message  `json:"solution,omitempty"`
	PossibleSolutions []Message `json:"possibleSolutions,omitempty"`
}

// Message is a localisable message key with its context (OpenAPI schema "message").
type Message struct {
	Key     string         `json:"key"`
	Context map[string]any `json:"context,omitempty"`
}

// Progress is a running task's progress (OpenAPI schema "progress"). Byte counts are bytes,
// ProcessingSpeed is bytes per second, LeftTime a duration string such as "1h25m43s".
type Progress struct {
	Total           int64       `json:"total"`
	Current         int64       `json:"current,omitempty"`
	BytesProcessed  int64       `json:"bytesProcessed,omitempty"`
	BytesSaved      int64       `json:"bytesSaved,omitempty"`
	ProcessingSpeed float64     `json:"processingSpeed,omitempty"`
	LeftTime        string      `json:"leftTime,omitempty"`
	Bottleneck      *Bottleneck `json:"bottleneck,omitempty"`
}

// Bottleneck scores (0–100, summing to 100) say where a task spends its time.
type Bottleneck struct {
	Source      int `json:"source,omitempty"`
	Destination int `json:"destination,omitempty"`
	Processing  int `json:"processing,omitempty"`
}

// UUIDBytes is the 16 bytes of a UUID in its text form (8-4-4-4-12 hex digits, either
// case); ok is false for any other string.
func UUIDBytes(s string) (u [16]byte, ok bool) {
	if !IsUUID(s) {
		return u, false
	}
	var h [32]byte
	copy(h[:], s[:8])
	copy(h[8:], s[9:13])
	copy(h[12:], s[14:18])
	copy(h[16:], s[19:23])
	copy(h[20:], s[24:])
	_, err := hex.Decode(u[:], h[:])
	return u, err == nil
}

// IsUUID reports whether s has the shape the API's uuid filter accepts
// (^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$, OpenAPI
// parameter "uuid").
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
