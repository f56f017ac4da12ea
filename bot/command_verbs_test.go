package bot

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/taskbot/taskbot/tasks"
)

// commandProblem says what is inconsistent in a parsed command, "" when nothing: a field set
// that does not belong to its verb, a value ParseCommand should have refused or normalised.
func commandProblem(c Command) string {
	if c.Help != (c.Verb == Help) {
		return "Help and Verb disagree"
	}
	if c.Failures != nil {
		return "Failures set by the parser"
	}
	rest := c // the fields c's verb does not use must be empty
	rest.Verb = List
	switch c.Verb {
	case List:
		rest.States, rest.Failed, rest.Tenants = nil, false, nil
		last := -1
		for _, s := range c.States {
			i := slices.Index(tasks.States, s)
			if i <= last {
				return fmt.Sprintf("states %v not valid, unique and in lifecycle order", c.States)
			}
			last = i
		}
		if c.States != nil && len(c.States) == 0 {
			return "empty, non-nil States"
		}
		if c.Failed && slices.Contains(c.States, tasks.Completed) {
			return "failed together with completed"
		}
	case Help:
		rest.Help = false
	case Show:
		rest.ID = ""
		if id, ok := taskID(c.ID); !ok || id != c.ID {
			return fmt.Sprintf("ID %q is not a task ID in the API's form", c.ID)
		}
	case Subscribe:
		rest.Events, rest.Tenants = nil, nil
		last := -1
		for _, e := range c.Events {
			i := slices.Index(eventNames[:], e)
			if i <= last {
				return fmt.Sprintf("events %q not valid, unique and in lifecycle order", c.Events)
			}
			last = i
		}
		if c.Events != nil && len(c.Events) == 0 {
			return "empty, non-nil Events"
		}
	case Unsubscribe:
		rest.Tenants = nil
	case Subscriptions, Mutes:
	case Mute:
		rest.MuteKind, rest.MuteValue, rest.Duration, rest.Reason = "", "", 0, ""
		switch c.MuteKind {
		case keyTask:
			if id, ok := taskID(c.MuteValue); !ok || id != c.MuteValue {
				return fmt.Sprintf("task:%q is not a task ID in the API's form", c.MuteValue)
			}
		case keyTenant, keyPlan:
			if p := nameProblem(c.MuteValue); p != "" {
				return "mute " + c.MuteKind + ": " + p
			}
		default:
			return fmt.Sprintf("MuteKind %q", c.MuteKind)
		}
		if c.Duration < time.Minute || c.Duration > 30*24*time.Hour || c.Duration%time.Minute != 0 {
			return fmt.Sprintf("Duration %v", c.Duration)
		}
		if utf8.RuneCountInString(c.Reason) > 200 || strings.TrimSpace(c.Reason) != c.Reason ||
			strings.Contains(c.Reason, "  ") || strings.ContainsFunc(c.Reason, func(r rune) bool {
			return dropInvisible(r) < 0 || unicode.IsSpace(r) && r != ' '
		}) {
			return fmt.Sprintf("Reason %q is not trimmed, collapsed and at most 200 characters", c.Reason)
		}
	case Unmute:
		rest.N = 0
		if c.N < 1 || c.N > 1e9 {
			return fmt.Sprintf("N %d", c.N)
		}
	case Scope:
		rest.All, rest.Tenants = false, nil
		if c.All && c.Tenants != nil {
			return "scope all with tenants"
		}
	default:
		return fmt.Sprintf("unknown verb %d", c.Verb)
	}
	if !reflect.DeepEqual(rest, Command{}) {
		return fmt.Sprintf("fields that do not belong to verb %d: %#v", c.Verb, rest)
	}
	if c.Tenants != nil && len(c.Tenants) == 0 {
		return "empty, non-nil Tenants"
	}
	if len(c.Tenants) > maxTenants {
		return fmt.Sprintf("%d tenants", len(c.Tenants))
	}
	for i, tn := range c.Tenants {
		if p := nameProblem(tn); p != "" {
			return "tenant " + p
		}
		if slices.ContainsFunc(c.Tenants[:i], func(u string) bool { return strings.EqualFold(u, tn) }) {
			return fmt.Sprintf("tenant %q twice", tn)
		}
	}
	return ""
}

// nameProblem says what is wrong with a parsed tenant: or plan: name, "" when nothing.
func nameProblem(n string) string {
	switch {
	case strings.TrimFunc(n, unicode.IsSpace) != n || n == "":
		return fmt.Sprintf("%q is blank or not trimmed", n)
	case utf8.RuneCountInString(n) > maxName:
		return fmt.Sprintf("%q is longer than %d characters", n, maxName)
	case strings.ContainsAny(n, quotes):
		return fmt.Sprintf("%q holds a quote", n)
	case strings.ContainsFunc(n, func(r rune) bool { return dropInvisible(r) < 0 }):
		return fmt.Sprintf("%q holds an invisible character", n)
	}
	return ""
}

// verbCase is a slash command that parses: the command, its String and its Describe.
type verbCase struct {
	name     string
	text     string
	want     Command
	str      string
	describe string // "" means not checked
}

func checkVerbCases(t *testing.T, cases []verbCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCommand(tc.text)
			if err != nil {
				t.Fatalf("ParseCommand(%.60q): %v", tc.text, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseCommand(%.60q) =\n%#v\nwant\n%#v", tc.text, got, tc.want)
			}
			if p := commandProblem(got); p != "" {
				t.Errorf("inconsistent command: %s", p)
			}
			if s := got.String(); s != tc.str {
				t.Errorf("String() = %q, want %q", s, tc.str)
			}
			if d := got.Describe(); tc.describe != "" && d != tc.describe {
				t.Errorf("Describe() = %q, want %q", d, tc.describe)
			}
			if qs := got.Queries(); got.Verb != List && qs != nil {
				t.Errorf("Queries() = %v for verb %d, want none", qs, got.Verb)
			}
			back, err := ParseCommand(got.String())
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("ParseCommand(%q) = %#v, %v; want the command back", got.String(), back, err)
			}
		})
	}
}

func TestParseCommandVerbs(t *testing.T) {
	help := Command{Verb: Help, Help: true}
	checkVerbCases(t, []verbCase{
		{"show a decimal id", "show 944455285181775872", Command{Verb: Show, ID: "944455285181775872"}, "show 944455285181775872", "task 944455285181775872"},
		{"show in capitals, commas and spaces", " SHOW,\u00a0 42 ", Command{Verb: Show, ID: "42"}, "show 42", "task 42"},
		{"show the largest int64", "show 9223372036854775807", Command{Verb: Show, ID: "9223372036854775807"}, "show 9223372036854775807", ""},
		{"show drops leading zeros", "show 00000000000000000042", Command{Verb: Show, ID: "42"}, "show 42", ""},
		{"show a UUID", "show 6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69", Command{Verb: Show, ID: "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69"},
			"show 6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69", "task 6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69"},
		{"show a UUID in capitals, lower-cased", "show 6F1C2A0E-3B7D-4C1A-9E55-0D2F3C4B5A69", Command{Verb: Show, ID: "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69"},
			"show 6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69", ""},
		{"show with a zero-width space in the id", "show 12\u200b34", Command{Verb: Show, ID: "1234"}, "show 1234", ""},

		{"subscribe to the default events", "subscribe", Command{Verb: Subscribe}, "subscribe", "/tasks subscribe"},
		{"subscribe to events in lifecycle order", "Subscribe completed, FAILED paused", Command{Verb: Subscribe, Events: []string{"paused", "completed", "failed"}},
			"subscribe paused completed failed", ""},
		{"subscribe to every event", "subscribe failed completed paused started assigned enqueued",
			Command{Verb: Subscribe, Events: []string{"enqueued", "assigned", "started", "paused", "completed", "failed"}},
			"subscribe enqueued assigned started paused completed failed", ""},
		{"subscribe deduplicates events", "subscribe paused PAUSED Paused", Command{Verb: Subscribe, Events: []string{"paused"}}, "subscribe paused", ""},
		{"subscribe for tenants", "subscribe failed tenant:\"Acme Corp\" tenant:acme\u00a0tenant:\"ACME CORP\"",
			Command{Verb: Subscribe, Events: []string{"failed"}, Tenants: []string{"Acme Corp", "acme"}},
			`subscribe failed tenant:"Acme Corp" tenant:acme`, ""},
		{"subscribe, tenants first", "subscribe tenant:\u201cAcme, Inc.\u201d failed", Command{Verb: Subscribe, Events: []string{"failed"}, Tenants: []string{"Acme, Inc."}},
			`subscribe failed tenant:"Acme, Inc."`, ""},

		{"unsubscribe everything", "unsubscribe", Command{Verb: Unsubscribe}, "unsubscribe", "/tasks unsubscribe"},
		{"unsubscribe tenants", "UNSUBSCRIBE tenant:Acme TENANT:acme tenant:Beta", Command{Verb: Unsubscribe, Tenants: []string{"Acme", "Beta"}},
			"unsubscribe tenant:Acme tenant:Beta", "/tasks unsubscribe tenant:Acme tenant:Beta"},

		{"subscriptions", " subscriptions ", Command{Verb: Subscriptions}, "subscriptions", "/tasks subscriptions"},
		{"mutes", "Mutes", Command{Verb: Mutes}, "mutes", "/tasks mutes"},

		{"unmute a number", "unmute 3", Command{Verb: Unmute, N: 3}, "unmute 3", "/tasks unmute 3"},
		{"unmute #number", "unmute #12", Command{Verb: Unmute, N: 12}, "unmute 12", ""},
		{"unmute the largest number", "unmute 1000000000", Command{Verb: Unmute, N: 1e9}, "unmute 1000000000", ""},
		{"unmute with leading zeros", "unmute 0000000007", Command{Verb: Unmute, N: 7}, "unmute 7", ""},

		{"scope shows the scope", "scope", Command{Verb: Scope}, "scope", "/tasks scope"},
		{"scope all", "scope ALL", Command{Verb: Scope, All: true}, "scope all", "/tasks scope all"},
		{"scope all twice", "scope all all", Command{Verb: Scope, All: true}, "scope all", ""},
		{"scope tenants", `scope tenant:"Acme Corp",tenant:Beta`, Command{Verb: Scope, Tenants: []string{"Acme Corp", "Beta"}},
			`scope tenant:"Acme Corp" tenant:Beta`, ""},

		{"help after show", "show help", help, "help", "help"},
		{"help after subscribe", "subscribe ?", help, "help", "help"},
		{"help after mutes", "mutes -h", help, "help", "help"},
		{"help after scope", "scope --help", help, "help", "help"},
		{"help after unmute", "unmute HELP", help, "help", "help"},
	})
}

func TestParseCommandBadVerbs(t *testing.T) {
	const (
		idShapeMsg = "its number (e.g. 944455285181775872) or its UUID (e.g. 6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69)"
		unmuteEx   = "e.g. /tasks unmute 3 (/tasks mutes lists them with their numbers)"
		subHint    = "/tasks subscribe takes events (enqueued, assigned, started, paused, completed, failed, stuck) and tenant:NAME words."
	)
	for _, tc := range []struct {
		name, text string
		want       wantUsage
	}{
		{"show with nothing", "show", wantUsage{"", "/tasks show needs a task ID: " + idShapeMsg}},
		{"show with 10,000 digits", "show " + strings.Repeat("9", 10000),
			wantUsage{strings.Repeat("9", 39) + "…", `"` + strings.Repeat("9", 39) + `…" is not a task ID: ` + idShapeMsg}},
		{"show with 21 digits", "show 944455285181775872123", wantUsage{"944455285181775872123", `"944455285181775872123" is not a task ID: ` + idShapeMsg}},
		{"show a number over int64", "show 9223372036854775808", wantUsage{"9223372036854775808", `"9223372036854775808" is not a task ID: ` + idShapeMsg}},
		{"show letters", "show abc", wantUsage{"abc", `"abc" is not a task ID: ` + idShapeMsg}},
		{"show a negative number", "show -1", wantUsage{"-1", `"-1" is not a task ID: ` + idShapeMsg}},
		{"show a UUID without hyphens", "show 6f1c2a0e3b7d4c1a9e550d2f3c4b5a69", wantUsage{"6f1c2a0e3b7d4c1a9e550d2f3c4b5a69", `"6f1c2a0e3b7d4c1a9e550d2f3c4b5a69" is not a task ID: ` + idShapeMsg}},
		{"show a UUID with a letter past f", "show 6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a6g", wantUsage{"6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a6g", `"6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a6g" is not a task ID: ` + idShapeMsg}},
		{"show a mention", "show <@U123>", wantUsage{"&lt;@U123&gt;", `"&lt;@U123&gt;" is not a task ID: ` + idShapeMsg}},
		{"show two ids", "show 1 2", wantUsage{"2", `"2": /tasks show takes one task ID`}},
		{"show with a tenant", "show 1 tenant:Acme", wantUsage{"tenant:Acme", `"tenant:Acme": tenant:NAME goes with a listing, subscribe, unsubscribe or scope, not with /tasks show`}},
		{"show a tenant", `show tenant:"Acme Corp"`, wantUsage{`tenant:"Acme Corp"`, `"tenant:"Acme Corp"": tenant:NAME goes with a listing, subscribe, unsubscribe or scope, not with /tasks show`}},
		{"show task:ID", "show task:42", wantUsage{"task:42", `"task:42" is not a task ID: ` + idShapeMsg}},
		{"help and more after show", "show help 1", wantUsage{"help", `"help" is not a task ID: ` + idShapeMsg}},

		{"subscribe to an unknown event", "subscribe paused resumed", wantUsage{"resumed", `I don't understand "resumed": ` + subHint}},
		{"subscribe with tenant: and nothing", "subscribe tenant:", wantUsage{"", `tenant: needs a name right after the colon, e.g. tenant:"Acme Corp"`}},
		{"subscribe with an unterminated quote", `subscribe tenant:"Acme`, wantUsage{`tenant:"Acme`, `"tenant:"Acme": the quote after tenant: is never closed, e.g. tenant:"Acme Corp"`}},
		{"subscribe to a plan", "subscribe plan:x", wantUsage{"plan:x", `I don't understand "plan:x": ` + subHint}},
		{"unsubscribe events", "unsubscribe paused", wantUsage{"paused", `I don't understand "paused": /tasks unsubscribe takes only tenant:NAME words.`}},
		{"subscriptions and more", "subscriptions paused", wantUsage{"paused", `"paused": /tasks subscriptions takes no more words`}},
		{"subscriptions for a tenant", "subscriptions tenant:Acme", wantUsage{"tenant:Acme", `"tenant:Acme": tenant:NAME goes with a listing, subscribe, unsubscribe or scope, not with /tasks subscriptions`}},
		{"mutes and more", "mutes all", wantUsage{"all", `"all": /tasks mutes takes no more words`}},
		{"MUTES and more names the verb in taskbot's words", "MUTES all", wantUsage{"all", `"all": /tasks mutes takes no more words`}},

		{"unmute with nothing", "unmute", wantUsage{"", "/tasks unmute needs the number of a mute, " + unmuteEx}},
		{"unmute zero", "unmute 0", wantUsage{"0", `"0" is not the number of a mute, ` + unmuteEx}},
		{"unmute over a billion", "unmute 1000000001", wantUsage{"1000000001", `"1000000001" is not the number of a mute, ` + unmuteEx}},
		{"unmute 10,000 digits", "unmute " + strings.Repeat("1", 10000), wantUsage{strings.Repeat("1", 39) + "…", `"` + strings.Repeat("1", 39) + `…" is not the number of a mute, ` + unmuteEx}},
		{"unmute a negative number", "unmute -3", wantUsage{"-3", `"-3" is not the number of a mute, ` + unmuteEx}},
		{"unmute a word", "unmute all", wantUsage{"all", `"all" is not the number of a mute, ` + unmuteEx}},
		{"unmute a bare #", "unmute #", wantUsage{"#", `"#" is not the number of a mute, ` + unmuteEx}},
		{"unmute two numbers", "unmute 3 4", wantUsage{"4", `"4": /tasks unmute takes one mute number`}},
		{"unmute a tenant", "unmute tenant:Acme", wantUsage{"tenant:Acme", `"tenant:Acme": tenant:NAME goes with a listing, subscribe, unsubscribe or scope, not with /tasks unmute`}},

		{"scope all and a tenant", "scope all tenant:x", wantUsage{"tenant:x", `"tenant:x": /tasks scope takes tenant:NAME words or all, not both`}},
		{"scope a tenant and all", "scope tenant:x all", wantUsage{"all", `"all": /tasks scope takes tenant:NAME words or all, not both`}},
		{"scope a bare name", "scope Acme", wantUsage{"Acme", `I don't understand "Acme": /tasks scope takes tenant:NAME words, or all.`}},
		{"scope a blank tenant", `scope tenant:" "`, wantUsage{`tenant:" "`, `"tenant:" "": the name is blank, e.g. tenant:"Acme Corp"`}},

		{"a verb after a state", "paused show 1", wantUsage{"show", `I don't understand "show".`}},
		{"a verb's typo", "subscribes", wantUsage{"subscribes", `I don't understand "subscribes".`}},
		{"an unknown verb with mentions", "<!channel> now", wantUsage{"&lt;!channel&gt;", `I don't understand "&lt;!channel&gt;".`}},
		{"an unknown verb of 10,000 characters", strings.Repeat("mute", 2500), wantUsage{strings.Repeat("mute", 9) + "mut…", `I don't understand "` + strings.Repeat("mute", 9) + `mut…".`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCommand(tc.text)
			checkUsageError(t, tc.text, got, err, tc.want)
		})
	}
}
