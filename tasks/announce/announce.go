// Package announce is taskbot's announce pipeline: everything that decides which task
// transition is posted to which channel, and the two loops that carry those decisions out.
//
//	Poller:    poll the Task Manager API (tasks.Lister)
//	Decide:    diff each task against its last sighting → events → route to channels →
//	           group floods → outbox entries            (pure: Rules.Decide, policy.go)
//	Store:     record sightings and queue the entries in one transaction (package state)
//	Announcer: drain the outbox through a Notifier (package bot posts to Slack), in order,
//	           an entry leaving the outbox only once it was delivered
//
// The policy in policy.go is pure functions over domain values, tested by tables without
// bbolt, Slack or HTTP. The package imports none of them either: the store and the notifier are
// the small interfaces below, implemented by state.Store and bot.SlackNotifier, wired in main.
// The model is Prometheus Alertmanager's dispatch → silence → notify stages, whose notifiers
// say explicitly whether a failure is worth retrying (here: DeliveryError.Outcome).
package announce

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// Seen is the last sighting of a task: what the next poll is diffed against. The store keeps
// one per task (package state calls it a record).
type Seen struct {
	Key         string           `json:"key"`
	Title       string           `json:"title"`
	State       tasks.State      `json:"state"`
	Result      tasks.ResultCode `json:"result,omitempty"`
	UpdatedAt   time.Time        `json:"updatedAt"`
	CompletedAt time.Time        `json:"completedAt,omitzero"`
	// Threads maps each channel the task was announced in to the chat message id (Slack ts)
	// of its first announcement there, whose thread later announcements reply in. The id is ""
	// while that first announcement is queued and not yet delivered.
	Threads map[string]string `json:"threads,omitempty"`
	// MissingSince is when a reconciliation found that the API no longer knows the task (zero
	// while it is seen). The store keeps such a record for a day (state.Options.GoneAfter), so
	// that an API answering with nothing for a while does not make taskbot forget tasks and
	// announce them again.
	MissingSince time.Time `json:"missingSince,omitzero"`
	// TenantID and TenantName are the task's tenant (the digest lists paused and stuck tasks
	// per tenant).
	TenantID   string `json:"tenantId,omitempty"`
	TenantName string `json:"tenantName,omitempty"`
	// Since is when the task entered State (tasks.Entered, or taskbot's first sight): time in
	// a state survives restarts.
	Since time.Time `json:"since,omitzero"`
	// StuckDue is when the task is next announced as stuck if it is still in State then (zero:
	// never). The store keeps an index of it (so a poll reads only the due ones).
	StuckDue time.Time `json:"stuckDue,omitzero"`
	// Stuck counts the stuck announcements of this stay in State (muted ones included).
	Stuck int `json:"stuck,omitempty"`
	// Task is the task as last seen, kept only while it may become stuck (StuckDue is set):
	// the stuck announcement shows it (blockers included) without asking the API again.
	Task *tasks.Snapshot `json:"task,omitempty"`
}

// Entry is one pending item of the outbox, for one channel: the announcement of a transition
// of one task, a Summary of many, or a Refresh of a task's thread parent.
type Entry struct {
	// Seq orders the outbox; the store assigns it, one more per entry, never reused.
	Seq uint64 `json:"seq"`
	// Channel is where the entry goes; "" means the Announcer's default channel.
	Channel string      `json:"channel,omitempty"`
	Event   tasks.Event `json:"event,omitempty"`
	// From is the state the task was last seen in; "" if it was not seen before.
	From tasks.State `json:"from,omitempty"`
	// Task is the task as the poll saw it, narrowed to what an announcement shows.
	Task     tasks.Snapshot `json:"task,omitzero"`
	QueuedAt time.Time      `json:"queuedAt"`
	// Summary, when set, stands for all the transitions one poll found for the channel when
	// they were more than Rules.Burst; Event, From and Task are then empty.
	Summary *Summary `json:"summary,omitempty"`
	// Refresh asks only for the first message of the task's thread in Channel to show Task
	// (chat.update); nothing is posted. A task without a thread there needs nothing.
	Refresh bool `json:"refresh,omitempty"`
	// Digest, when set, is the channel's daily digest; Event, From and Task are then empty.
	Digest *Digest `json:"digest,omitempty"`
}

// AboutTask reports whether e announces one task (not a Summary or a Digest): only such an
// entry has a thread.
func (e Entry) AboutTask() bool { return e.Summary == nil && e.Digest == nil }

// Summary is a flood of transitions queued as one entry.
type Summary struct {
	// Counts is the number of transitions per event, all of them.
	Counts map[tasks.Event]int `json:"counts"`
	// First are the first SummaryFirst transitions, in the order they happened.
	First []Transition `json:"first"`
}

// Total is the number of transitions s stands for.
func (s *Summary) Total() int {
	n := 0
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Transition is one change of a task's state, with the event it is announced as.
type Transition struct {
	Event tasks.Event    `json:"event"`
	From  tasks.State    `json:"from,omitempty"`
	Task  tasks.Snapshot `json:"task"`
}

// SummaryFirst is how many transitions a Summary keeps in full.
const SummaryFirst = 10

// Poll is what one successful poll saw, handed to the store with the policy that decides it.
type Poll struct {
	// Tasks are the tasks the API returned, in any order; a task may appear more than once.
	Tasks []tasks.Task
	// Gone are keys of tasks a reconciliation expected and the API confirmed it does not know.
	Gone []string
	// Watermark is a lower bound for the new watermark (the newest updatedAt of any task at
	// baseline).
	Watermark time.Time
	// ServerTime is the API's clock when it answered (its Date header); the watermark never
	// moves past it by more than MaxClockAhead. Zero: unknown (the host clock is used).
	ServerTime time.Time
	// Baseline records Tasks silently and marks the store baselined (unless Partial).
	Baseline bool
	// Partial: one page of a poll whose pages are recorded one Apply each; its watermark is
	// not stored (the poller passes the pages' highest as Watermark to the poll's last Apply,
	// made once every page is recorded), and a baseline is marked done only by the last.
	Partial bool
	// Listed is the API's clock when an incremental poll's listing began (the Date header of
	// its first answer; zero: unknown). Every update stamped before it, less the overlap, was
	// visible to the poll, so the watermark may move up to it even when no task was updated:
	// after a burst the incremental window empties instead of fetching the burst again.
	Listed time.Time
	// Tag is the deciding Rules' Tag (0: none). With it, the store leaves out of the Input each
	// task whose Stamp equals the one its record was stored with, unread: Decide would record
	// nothing for it.
	Tag uint64
}

// Input is what the policy decides a poll from: the poll, and what the store remembers of it.
type Input struct {
	Poll
	// Last holds the last sightings of the polled and gone tasks that have one, by key.
	Last map[string]Seen
	// Watermark is the stored watermark (zero before the baseline).
	Watermark time.Time
	// Subscriptions are every channel's subscriptions.
	Subscriptions []Subscription
	// Mutes are the mutes (the policy ignores those no longer active).
	Mutes []Mute
	// Scopes are the channels' scopes: a scoped channel gets announcements only about its
	// tenants, whatever its subscriptions say.
	Scopes []Scope
	// Due are the sightings whose StuckDue has come (at most MaxDue, earliest first), by the
	// API's clock (Poll.ServerTime, else the store's).
	Due []Seen
}

// MaxDue bounds the stuck checks one poll makes: the rest wait for the next poll.
const MaxDue = 5000

// Decision is what the store is told to write for one poll, in one transaction.
type Decision struct {
	// Seen are the sightings to record, one per changed key.
	Seen []Seen
	// Entries are the announcements to queue, in order (the store assigns Seq).
	Entries []Entry
	// Watermark is the new watermark. It moves backwards only when WatermarkReset is set.
	Watermark time.Time
	// WatermarkReset: the stored watermark was ahead of the API's clock and moves back to it.
	WatermarkReset bool
	// Baselined marks the store baselined.
	Baselined bool
	// Muted are the announcements a mute silenced: never queued, counted and logged.
	Muted []Entry
	// Future are the keys of tasks whose updatedAt lies beyond the API's clock (a clock or
	// data error of the API); they did not move the watermark.
	Future []string
	// History are the failures and muted announcements of the poll, for the daily digest.
	History []Record
}

// Record is one item of the digest's history: a failure (every one, announced or not), or an
// announcement a mute silenced (Muted, with its channel).
type Record struct {
	At         time.Time   `json:"at"`
	Event      tasks.Event `json:"event"`
	Muted      bool        `json:"muted,omitempty"`
	Channel    string      `json:"channel,omitempty"`
	Key        string      `json:"key"`
	ID         string      `json:"id,omitempty"`
	Title      string      `json:"title,omitempty"`
	TenantID   string      `json:"tenantId,omitempty"`
	TenantName string      `json:"tenantName,omitempty"`
}

// recordOf is the history record of an event about t at now.
func recordOf(ev tasks.Event, t tasks.Snapshot, now time.Time) Record {
	return Record{At: now, Event: ev, Key: t.Key, ID: t.ID, Title: t.Title, TenantID: t.TenantID, TenantName: t.TenantName}
}

// PollStore is what the Poller needs of the state file (state.Store implements it).
type PollStore interface {
	// Baselined reports whether the first poll was recorded.
	Baselined() (bool, error)
	// Watermark is the newest task updatedAt recorded (zero before the baseline).
	Watermark() (time.Time, error)
	// EachInProgress calls fn with the key of each task last seen in a state other than
	// completed (missing ones included), from an index: no record is decoded.
	EachInProgress(fn func(key string)) error
	// Apply reads the last sightings of p's tasks, calls decide with them and writes its
	// Decision, all in one transaction; on error nothing is written. It returns the entries
	// queued, with their Seq.
	Apply(p Poll, decide func(Input) Decision) ([]Entry, error)
	// TaskCount is the number of tasks recorded.
	TaskCount() (int, error)
}

// OutboxStore is what the Announcer needs of the state file (state.Store implements it).
type OutboxStore interface {
	// Channels lists the channels that have entries in the outbox.
	Channels() ([]string, error)
	// Pending returns up to limit outbox entries of channel, oldest first (limit ≤ 0: all).
	Pending(channel string, limit int) ([]Entry, error)
	// Backlog counts the outbox entries of every channel and gives the oldest one's QueuedAt
	// (zero when the outbox is empty).
	Backlog() (n int, oldest time.Time, err error)
	// Delivered removes entry seq of channel from the outbox. A non-empty thread becomes the
	// task's thread in channel when it has none yet, or in any case when replace is set (the
	// old thread is gone).
	Delivered(channel string, seq uint64, taskKey, thread string, replace bool) error
	// Sighting returns the last sighting of the task with key, and whether there is one.
	Sighting(key string) (Seen, bool, error)
}

// Delivery is one entry as the Announcer hands it to a Notifier.
type Delivery struct {
	Entry
	// Channel is the entry's channel, the default one filled in.
	Channel string
	// Thread is the message id of the task's thread, "" to start one.
	Thread string
	// Broadcast asks for a reply in Thread to be shown in the channel too.
	Broadcast bool
	// Plain asks for the plainest form of the message (short text, no blocks): the entry
	// failed too often in its full form.
	Plain bool
}

// Receipt is what a Notifier reports of a delivered entry.
type Receipt struct {
	// ID is the chat message id (Slack ts) of the post; it becomes the task's thread.
	ID string
	// Shortened reports that the chat refused the full message and a shorter form was posted.
	Shortened bool
}

// Notifier delivers announcements to a chat (bot.SlackNotifier posts to Slack; the demo prints
// them). Its errors say, as a *DeliveryError, whether delivery may succeed later.
type Notifier interface {
	// Notify posts one entry.
	Notify(ctx context.Context, d Delivery) (Receipt, error)
	// UpdateThread makes the first message of a task's thread show the task's current state.
	UpdateThread(ctx context.Context, channel, thread string, t tasks.Snapshot) error
}

// Outcome is what a failed delivery means for the outbox, after Alertmanager's notifiers: the
// decision to retry is made once, by the Notifier that knows the chat's errors, not by the
// loop that drains the outbox.
type Outcome int

const (
	// Retry: a passing fault (rate limit, 5xx, timeout, connection reset); try the same entry
	// again later.
	Retry Outcome = iota
	// Blocked: the channel or the credentials are wrong; nothing is delivered until the user
	// fixes it, and nothing is dropped.
	Blocked
	// Refused: the chat refuses this one message for good, in every form the Notifier could
	// send; the Announcer tries it outside its thread, then drops it.
	Refused
	// Unknown: an error the Notifier does not know; retried a few times (maxUnknownTries),
	// then the entry is sent in its plainest form and, refused again, dropped.
	Unknown
	// ThreadGone: the thread to reply in no longer exists (its first message was deleted);
	// the Announcer sends the entry outside the thread, which becomes the task's new thread.
	ThreadGone
)

// DeliveryError is a failed delivery as a Notifier classifies it.
type DeliveryError struct {
	Outcome Outcome
	// Code is the chat's error string ("not_in_channel") or "http_503", "network".
	Code string
	// RetryAfter is how long the chat asked to wait (a 429's Retry-After); 0 when it did not.
	RetryAfter time.Duration
	// Hint is the fix in the user's words, for Blocked errors.
	Hint string
	Err  error
}

// Outcome of err: the Outcome of a *DeliveryError in its chain, else Unknown.
func outcomeOf(err error) (Outcome, *DeliveryError) {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Outcome, de
	}
	return Unknown, nil
}

// Error is the code and the hint: "not_in_channel (invite the bot to the channel …)".
func (e *DeliveryError) Error() string {
	if e.Hint != "" {
		return fmt.Sprintf("%s (%s)", e.Code, e.Hint)
	}
	return e.Code
}

func (e *DeliveryError) Unwrap() error { return e.Err }
