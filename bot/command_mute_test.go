package bot

import (
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks/announce"
)

func TestParseCommandMute(t *testing.T) {
	const id = "944455285181775872"
	mute := func(kind, value string, d time.Duration, reason string) Command {
		return Command{Verb: Mute, MuteKind: kind, MuteValue: value, Duration: d, Reason: reason}
	}
	long := strings.Repeat("word ", 2000) // 10,000 characters
	checkVerbCases(t, []verbCase{
		{"a task for 2 hours", "mute task:" + id + " 2h", mute("task", id, 2*time.Hour, ""), "mute task:" + id + " 2h",
			"/tasks mute task:" + id + " 2h"},
		{"a task by UUID, key and unit in capitals", "MUTE Task:6F1C2A0E-3B7D-4C1A-9E55-0D2F3C4B5A69 30M",
			mute("task", "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69", 30*time.Minute, ""), "mute task:6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69 30m", ""},
		{"a task id in quotes, with leading zeros", `mute task:"0042" 1h`, mute("task", "42", time.Hour, ""), "mute task:42 1h", ""},
		{"a tenant with a reason", `mute tenant:"Acme Corp" 1d maintenance window`,
			mute("tenant", "Acme Corp", 24*time.Hour, "maintenance window"), `mute tenant:"Acme Corp" 1d maintenance window`, ""},
		{"a tenant in curly quotes with a comma", "mute TENANT:\u201cAcme, Inc.\u201d 1h30m  patching ,  until \t 5 pm ",
			mute("tenant", "Acme, Inc.", 90*time.Minute, "patching , until 5 pm"), `mute tenant:"Acme, Inc." 1h30m patching , until 5 pm`, ""},
		{"a plan for 90 minutes", `mute plan:"Daily backup" 90m`, mute("plan", "Daily backup", 90*time.Minute, ""), `mute plan:"Daily backup" 1h30m`, ""},
		{"a bare plan name", "mute Plan:Nightly 2H", mute("plan", "Nightly", 2*time.Hour, ""), "mute plan:Nightly 2h", ""},
		{"a plan name with an escaped ampersand", "mute plan:R&amp;D 1m", mute("plan", "R&D", time.Minute, ""), "mute plan:R&D 1m", ""},
		{"at most 30 days", "mute tenant:Acme 30d", mute("tenant", "Acme", 30*24*time.Hour, ""), "mute tenant:Acme 30d", ""},
		{"720 hours are 30 days", "mute tenant:Acme 720h", mute("tenant", "Acme", 30*24*time.Hour, ""), "mute tenant:Acme 30d", ""},
		{"43,200 minutes are 30 days", "mute tenant:Acme 43200m", mute("tenant", "Acme", 30*24*time.Hour, ""), "mute tenant:Acme 30d", ""},
		{"at least a minute", "mute tenant:Acme 1m", mute("tenant", "Acme", time.Minute, ""), "mute tenant:Acme 1m", ""},
		{"days and hours", "mute tenant:Acme 1d12h", mute("tenant", "Acme", 36*time.Hour, ""), "mute tenant:Acme 1d12h", ""},
		{"units in any order", "mute tenant:Acme 30m1h", mute("tenant", "Acme", 90*time.Minute, ""), "mute tenant:Acme 1h30m", ""},
		{"a zero part", "mute tenant:Acme 0d1m", mute("tenant", "Acme", time.Minute, ""), "mute tenant:Acme 1m", ""},
		{"days and minutes", "mute tenant:Acme 2d5m", mute("tenant", "Acme", 48*time.Hour+5*time.Minute, ""), "mute tenant:Acme 2d5m", ""},
		{"leading zeros in a duration", "mute tenant:Acme 0000000000000000000000002h", mute("tenant", "Acme", 2*time.Hour, ""), "mute tenant:Acme 2h", ""},
		{"a reason with mentions, decoded", "mute tenant:Acme 2h &lt;!channel&gt; &amp; friends",
			mute("tenant", "Acme", 2*time.Hour, "<!channel> & friends"), "mute tenant:Acme 2h <!channel> & friends", ""},
		{"a doubly escaped entity in a reason", "mute tenant:Acme 2h a &amp;lt; b",
			mute("tenant", "Acme", 2*time.Hour, "a &lt; b"), "mute tenant:Acme 2h a &amp;lt; b", ""},
		{"a reason over lines, with invisible characters", "mute tenant:Acme 2h\n\tline one\u200b\n\n line\u00a0two \x00",
			mute("tenant", "Acme", 2*time.Hour, "line one line two"), "mute tenant:Acme 2h line one line two", ""},
		{"a comma right after the duration", "mute tenant:Acme 2h,maintenance", mute("tenant", "Acme", 2*time.Hour, "maintenance"),
			"mute tenant:Acme 2h maintenance", ""},
		{"only separators after the duration", "mute tenant:Acme 2h , ,\t", mute("tenant", "Acme", 2*time.Hour, ""), "mute tenant:Acme 2h", ""},
		{"keywords in a reason are words", `mute task:1 2h tenant:"x" help, 10y`, mute("task", "1", 2*time.Hour, `tenant:"x" help, 10y`),
			`mute task:1 2h tenant:"x" help, 10y`, ""},
		{"an unterminated quote in a reason", `mute task:1 2h tenant:"x`, mute("task", "1", 2*time.Hour, `tenant:"x`), `mute task:1 2h tenant:"x`, ""},
		{"a reason of 200 characters is kept", "mute task:1 2h " + strings.Repeat("é", 200), mute("task", "1", 2*time.Hour, strings.Repeat("é", 200)),
			"mute task:1 2h " + strings.Repeat("é", 200), ""},
		{"a reason of 10,000 characters is cut to 200", "mute task:1 2h " + long, mute("task", "1", 2*time.Hour, long[:195]+"word…"),
			"mute task:1 2h " + long[:195] + "word…", ""},
		{"a cut reason drops the space before the ellipsis", "mute task:1 2h " + strings.Repeat("x", 198) + " yyy",
			mute("task", "1", 2*time.Hour, strings.Repeat("x", 198)+"…"), "mute task:1 2h " + strings.Repeat("x", 198) + "…", ""},
		{"a reason of 10,000 escaped ampersands", "mute task:1 2h " + strings.Repeat("&amp;", 10000),
			mute("task", "1", 2*time.Hour, strings.Repeat("&", 199)+"…"), "mute task:1 2h " + strings.Repeat("&", 199) + "…", ""},
		{"help after mute", "mute help", Command{Verb: Help, Help: true}, "help", "help"},
	})
}

func TestParseCommandBadMute(t *testing.T) {
	const (
		example  = `e.g. /tasks mute tenant:"Acme Corp" 2h maintenance`
		idShape  = "its number (e.g. 944455285181775872) or its UUID (e.g. 6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69)"
		shape    = `" is not a mute duration: use minutes, hours or days from 1m to 30d (30 days), e.g. 30m, 2h, 1d or 1h30m`
		tooLong  = `" is too long: a mute lasts at most 30 days (30d)`
		tooShort = `" is too short: a mute lasts at least 1 minute (1m)`
	)
	for _, tc := range []struct {
		name, text string
		want       wantUsage
	}{
		{"mute with nothing", "mute", wantUsage{"", "/tasks mute needs a target and a duration, " + example}},
		{"mute a duration", "mute 2h", wantUsage{"2h", `"2h" is not a mute target: use task:ID, tenant:NAME or plan:NAME, ` + example}},
		{"mute a bare name", "mute Acme 2h", wantUsage{"Acme", `"Acme" is not a mute target: use task:ID, tenant:NAME or plan:NAME, ` + example}},
		{"mute a mention", "mute <!here> 2h", wantUsage{"&lt;!here&gt;", `"&lt;!here&gt;" is not a mute target: use task:ID, tenant:NAME or plan:NAME, ` + example}},
		{"mute without a duration", "mute tenant:Acme", wantUsage{"", "/tasks mute needs a duration after the target, from 1m to 30d (30 days), e.g. 30m, 2h, 1d or 1h30m"}},
		{"mute for 10 years", "mute tenant:Acme 10y because", wantUsage{"10y", `"10y` + shape}},
		{"mute for 0 minutes", "mute tenant:Acme 0m", wantUsage{"0m", `"0m` + tooShort}},
		{"mute for 0 days and 0 hours", "mute tenant:Acme 0d0h", wantUsage{"0d0h", `"0d0h` + tooShort}},
		{"mute for 31 days", "mute tenant:Acme 31d", wantUsage{"31d", `"31d` + tooLong}},
		{"mute for 10,000 days", "mute tenant:Acme 10000d", wantUsage{"10000d", `"10000d` + tooLong}},
		{"mute for 30 days and a minute", "mute tenant:Acme 30d1m", wantUsage{"30d1m", `"30d1m` + tooLong}},
		{"mute for 721 hours", "mute tenant:Acme 721h", wantUsage{"721h", `"721h` + tooLong}},
		{"mute for a number of 30 digits", "mute tenant:Acme " + strings.Repeat("9", 30) + "d", wantUsage{strings.Repeat("9", 30) + "d", `"` + strings.Repeat("9", 30) + "d" + tooLong}},
		{"mute for 10,000 parts", "mute tenant:Acme " + strings.Repeat("1d", 5000), wantUsage{strings.Repeat("1d", 19) + "1…", `"` + strings.Repeat("1d", 19) + "1…" + tooLong}},
		{"a number without a unit", "mute tenant:Acme 2 hours", wantUsage{"2", `"2` + shape}},
		{"a unit without a number", "mute tenant:Acme h", wantUsage{"h", `"h` + shape}},
		{"a fraction", "mute tenant:Acme 1.5h", wantUsage{"1.5h", `"1.5h` + shape}},
		{"a negative duration", "mute tenant:Acme -1h", wantUsage{"-1h", `"-1h` + shape}},
		{"a unit spelled out", "mute tenant:Acme 2hours", wantUsage{"2hours", `"2hours` + shape}},
		{"seconds", "mute tenant:Acme 90s", wantUsage{"90s", `"90s` + shape}},
		{"a mention as the duration", "mute tenant:Acme <!channel>", wantUsage{"&lt;!channel&gt;", `"&lt;!channel&gt;` + shape}},
		{"tenant: with nothing", "mute tenant: 2h", wantUsage{"", `tenant: needs a name right after the colon, e.g. tenant:"Acme Corp"`}},
		{"an unterminated quote", `mute tenant:"Acme Corp 2h`, wantUsage{`tenant:"Acme Corp 2h`, `"tenant:"Acme Corp 2h": the quote after tenant: is never closed, e.g. tenant:"Acme Corp"`}},
		{"a blank plan", `mute plan:"" 2h`, wantUsage{`plan:""`, `"plan:""": the name is blank, e.g. plan:"Daily backup"`}},
		{"a plan of 101 characters", "mute plan:" + strings.Repeat("p", 101) + " 2h",
			wantUsage{"plan:" + strings.Repeat("p", 34) + "…", `"plan:` + strings.Repeat("p", 34) + `…": a plan name has at most 100 characters`}},
		{"task: with nothing", "mute task: 2h", wantUsage{"", "task: needs a task ID right after the colon, e.g. task:944455285181775872"}},
		{"task: with letters", "mute task:abc 2h", wantUsage{"task:abc", `"task:abc" is not a task ID: ` + idShape}},
		{"task: with 10,000 digits", "mute task:" + strings.Repeat("1", 10000) + " 2h",
			wantUsage{"task:" + strings.Repeat("1", 34) + "…", `"task:` + strings.Repeat("1", 34) + `…" is not a task ID: ` + idShape}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCommand(tc.text)
			checkUsageError(t, tc.text, got, err, tc.want)
		})
	}
}

func TestFormatMuteDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute:                    "1m",
		59 * time.Minute:               "59m",
		time.Hour:                      "1h",
		25*time.Hour + time.Minute:     "1d1h1m",
		announce.MaxMute:               "30d",
		announce.MaxMute - time.Minute: "29d23h59m",
		90*time.Second + time.Hour:     "1h1m", // whole minutes only
	} {
		if got := formatMuteDuration(d); got != want {
			t.Errorf("formatMuteDuration(%v) = %q, want %q", d, got, want)
		}
		if d%time.Minute != 0 {
			continue
		}
		if back, err := muteDuration(want); err != nil || back != d {
			t.Errorf("muteDuration(%q) = %v, %v; want %v", want, back, err, d)
		}
	}
}
