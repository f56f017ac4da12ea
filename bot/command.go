package bot

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/taskbot/taskbot/tasks"
)

// Verb is what a slash command asks taskbot to do.
type Verb int

// The verbs of `/tasks` (README, "Slash command /tasks").
const (
	// List lists tasks: `/tasks [STATE…] [failed] [tenant:NAME…]`. The zero Command.
	List Verb = iota
	// Help: `/tasks help` (also -h, --help, ?).
	Help
	// Show: `/tasks show ID`, one task in full.
	Show
	// Subscribe: `/tasks subscribe [EVENT…] [tenant:NAME…]`.
	Subscribe
	// Unsubscribe: `/tasks unsubscribe [tenant:NAME…]`.
	Unsubscribe
	// Subscriptions: `/tasks subscriptions`, this channel's.
	Subscriptions
	// Mute: `/tasks mute task:ID|tenant:NAME|plan:NAME DURATION [REASON…]`.
	Mute
	// Mutes: `/tasks mutes`, the active mutes with their numbers.
	Mutes
	// Unmute: `/tasks unmute N`.
	Unmute
	// Scope: `/tasks scope tenant:NAME…` (Tenants), `/tasks scope` (no Tenants, not All) or
	// `/tasks scope all` (All).
	Scope
)

// Command is a parsed `/tasks` slash command (README, "Slash command /tasks";
// https://api.slack.com/interactivity/slash-commands). The zero Command is the default
// `/tasks`: tasks in progress (started and paused).
type Command struct {
	// Verb is what the command asks for; the fields below that do not belong to it are empty.
	Verb Verb
	// Help is set for `/tasks help` (Verb Help); the other fields are then empty.
	Help bool
	// States are the execution states asked for (List), deduplicated, in lifecycle order
	// (tasks.States); nil together with !Failed means the default (started, paused).
	States []tasks.State
	// Failed asks for tasks that completed with a failing result code (List). It is never set
	// together with tasks.Completed in States, which already covers failed tasks.
	Failed bool
	// Tenants are the tenant:NAME words (List, Subscribe, Unsubscribe, Scope), unquoted and
	// unescaped, deduplicated ignoring case, in the order given: tenant names or IDs.
	Tenants []string
	// ID is the task of Show: a decimal id (idString) or a UUID, as typed (shape checked).
	ID string
	// Events are the events of Subscribe, as TASKBOT_ANNOUNCE_STATES names them (lower case,
	// deduplicated); nil means the default (TASKBOT_ANNOUNCE_STATES).
	Events []string
	// MuteKind and MuteValue are the target of Mute (task:, tenant: or plan:).
	MuteKind  string
	MuteValue string
	// Duration is how long a Mute lasts (at least a minute, at most 30 days).
	Duration time.Duration
	// Reason is the rest of a Mute's text, the user's words (cut to maxReason characters).
	Reason string
	// N is the mute number of Unmute.
	N uint64
	// All is `/tasks scope all`.
	All bool
	// Failures are the result codes that count as failing (TASKBOT_FAILED_RESULTS), set by the
	// Answerer, not parsed; nil is tasks.DefaultFailures.
	Failures tasks.Failures
}

// Paging of the slash command's queries.
const (
	// commandPageSize is the page size (`limit`) of the slash command's queries.
	commandPageSize = 100
	// CommandMaxTasks bounds the tasks one query of a slash command collects (Query.MaxTasks),
	// so a huge result cannot exhaust memory; the reply shows the newest and counts the rest.
	CommandMaxTasks = 500
)

// longestCommandWord is the byte length of the longest word ParseCommand accepts ("completed");
// longer words are unknown without further work.
const longestCommandWord = len("completed")

// ParseCommand parses the text of a `/tasks` slash command as Slack sends it: the form field
// `text`, already form-decoded, with &, < and > possibly sent as &amp; &lt; &gt;
// (https://api.slack.com/interactivity/slash-commands#app_command_handling).
//
// Words are separated by any Unicode white space (unicode.IsSpace: also NBSP U+00A0, U+0085,
// ideographic space U+3000) or commas and compared case-insensitively. Accepted words: the
// states enqueued, assigned, started, paused, completed; "failed"; and "help", "-h", "--help",
// "?" for help. No words is the default command. "completed" together with "failed" is just
// "completed".
//
// An unknown word gives a *UsageError naming the first one. Work is linear in len(text) and
// stops at the first unknown word; text of any length is safe.
func ParseCommand(text string) (Command, error) {
	var (
		c      Command
		seen   [5]bool // indexed like tasks.States
		failed bool
	)
	// Invisible characters (zero-width spaces from copy and paste, control bytes) are dropped
	// first, so "\u200bpaused" is "paused" — the same word the reply would show.
	text = strings.Map(dropInvisible, text)
	for w := range strings.FieldsFuncSeq(text, isCommandSeparator) {
		if len(w) > longestCommandWord {
			return Command{}, newUsageError(w)
		}
		switch lw := strings.ToLower(w); lw {
		case "help", "-h", "--help", "?":
			c.Help = true
		case "failed":
			failed = true
		default:
			i := slices.Index(tasks.States, tasks.State(lw))
			if i < 0 {
				return Command{}, newUsageError(w)
			}
			seen[i] = true
		}
	}
	if c.Help {
		return Command{Help: true}, nil
	}
	for i, s := range tasks.States {
		if seen[i] {
			c.States = append(c.States, s)
		}
	}
	c.Failed = failed && !slices.Contains(c.States, tasks.Completed)
	return c, nil
}

// isCommandSeparator reports whether r separates words of a slash command: white space or a
// comma.
func isCommandSeparator(r rune) bool { return r == ',' || unicode.IsSpace(r) }

// IsDefault reports whether c is the default `/tasks` (tasks in progress).
func (c Command) IsDefault() bool { return !c.Help && len(c.States) == 0 && !c.Failed }

// defaultStates are the states of the default `/tasks`: tasks in progress.
var defaultStates = []tasks.State{tasks.Started, tasks.Paused}

// Queries returns the Task Manager queries that together select c's tasks, one per disjunct;
// nil for Help. The API ANDs different keys, so "paused or failed" — state in (paused) OR
// (state completed AND resultCode error) — takes two queries: the caller runs each and merges
// the results with MergeTasks. Each query orders newest first (desc(updatedAt)), pages by
// 100 and stops at CommandMaxTasks tasks.
func (c Command) Queries() []tasks.Query {
	switch {
	case c.Help:
		return nil
	case c.IsDefault():
		return []tasks.Query{commandQuery(slices.Clone(defaultStates), nil)}
	}
	var qs []tasks.Query
	if len(c.States) > 0 {
		qs = append(qs, commandQuery(slices.Clone(c.States), nil))
	}
	if c.Failed {
		qs = append(qs, commandQuery([]tasks.State{tasks.Completed}, c.Failures.Codes()))
	}
	return qs
}

func commandQuery(states []tasks.State, codes []tasks.ResultCode) tasks.Query {
	return tasks.Query{
		States:      states,
		ResultCodes: codes,
		Order:       tasks.Order{Field: "updatedAt", Desc: true},
		Limit:       commandPageSize,
		MaxTasks:    CommandMaxTasks,
	}
}

// MergeTasks merges the results of a command's Queries: tasks are deduplicated by Key (the
// most recently updated copy wins) and sorted newest first by UpdatedAt, ties by Key. The
// input slices are not modified.
func MergeTasks(lists ...[]tasks.Task) []tasks.Task {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]tasks.Task, 0, n)
	at := make(map[string]int, n)
	for _, l := range lists {
		for _, t := range l {
			k := t.Key()
			if i, ok := at[k]; ok {
				if t.UpdatedAt.After(out[i].UpdatedAt) {
					out[i] = t
				}
				continue
			}
			at[k] = len(out)
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out, func(a, b tasks.Task) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Key(), b.Key())
	})
	return out
}

// String is c's canonical slash command text, which ParseCommand turns back into c: "" for the
// default, "help", or the states in lifecycle order followed by "failed", e.g.
// "started paused failed". It is the value of the Refresh button (at most 50 bytes, far below
// Slack's 2000).
func (c Command) String() string {
	if c.Help {
		return "help"
	}
	words := make([]string, 0, len(c.States)+1)
	for _, s := range c.States {
		words = append(words, string(s))
	}
	if c.Failed {
		words = append(words, "failed")
	}
	return strings.Join(words, " ")
}

// Describe is a phrase naming c's tasks for headers and empty replies: "in progress (started,
// paused)" for the default, "paused", "paused or failed", "started, paused or failed", "help".
func (c Command) Describe() string {
	switch {
	case c.Help:
		return "help"
	case c.IsDefault():
		return "in progress (started, paused)"
	}
	words := make([]string, 0, len(c.States)+1)
	for _, s := range c.States {
		words = append(words, string(s))
	}
	if c.Failed {
		words = append(words, "failed")
	}
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// UsageError is the answer to a slash command with a word ParseCommand does not know.
type UsageError struct {
	// Word is the first unknown word, as the user typed it (Slack's &amp; &lt; &gt; decoded),
	// cut to 40 characters and then escaped with Escape: safe to paste into mrkdwn.
	Word string
}

// maxUsageWord is how many characters of an unknown word a UsageError repeats.
const maxUsageWord = 40

func newUsageError(word string) *UsageError {
	return &UsageError{Word: escapeCut(unescapeSlack(word), maxUsageWord)}
}

// Error is the reply to the user, in mrkdwn: `I don't understand "xyz".` and the usage.
func (e *UsageError) Error() string {
	return fmt.Sprintf("I don't understand \"%s\".\n%s", e.Word, Usage())
}

// Usage is the short mrkdwn help of `/tasks` (README, "Slash command /tasks").
func Usage() string {
	return "*Usage*\n" +
		"`/tasks` — tasks in progress (started, paused)\n" +
		"`/tasks STATE…` — tasks in any of the states `enqueued` `assigned` `started` `paused` `completed`\n" +
		"`/tasks failed` — tasks that failed: completed with a failing result code (by default error, abandoned or timedout; combine it with states: `/tasks paused failed`)\n" +
		"`/tasks help` — this help"
}

// slackUnescaper decodes the three entities Slack encodes in user text
// (https://api.slack.com/reference/surfaces/formatting#escaping), in one pass, so "&amp;lt;"
// becomes "&lt;".
var slackUnescaper = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

// unescapeSlack decodes &amp; &lt; &gt; in s.
func unescapeSlack(s string) string { return slackUnescaper.Replace(s) }

// dropInvisible maps format characters (Unicode Cf: zero-width space, joiners, BOM…) and
// non-space control characters to nothing, for strings.Map.
func dropInvisible(r rune) rune {
	if unicode.Is(unicode.Cf, r) || (unicode.IsControl(r) && !unicode.IsSpace(r)) {
		return -1
	}
	return r
}
