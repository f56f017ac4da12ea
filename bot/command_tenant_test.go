package bot

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
)

// wantUsage is what a test expects of a *UsageError: the escaped Word and the whole Problem
// line.
type wantUsage struct {
	word, problem string
}

// checkUsageError fails t unless err is a *UsageError with want's Word and Problem, Error()
// is the problem followed by the usage, and cmd is the zero Command.
func checkUsageError(t *testing.T, text string, cmd Command, err error, want wantUsage) {
	t.Helper()
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("ParseCommand(%.60q) = %#v, %v; want a *UsageError", text, cmd, err)
	}
	checkUsageSafe(t, ue)
	if ue.Word != want.word {
		t.Errorf("Word = %q, want %q", ue.Word, want.word)
	}
	if ue.Problem != want.problem {
		t.Errorf("Problem =\n%q\nwant\n%q", ue.Problem, want.problem)
	}
	if got := err.Error(); got != want.problem+"\n"+Usage() {
		t.Errorf("Error() = %q, want the problem and the usage", got)
	}
	if !reflect.DeepEqual(cmd, Command{}) {
		t.Errorf("command with an error = %#v, want the zero Command", cmd)
	}
}

func TestParseCommandTenants(t *testing.T) {
	paused := []tasks.State{tasks.Paused}
	for _, tc := range []struct {
		name     string
		text     string
		want     Command
		str      string // String()
		describe string // Describe()
	}{
		{name: "bare name", text: "tenant:Acme",
			want: Command{Tenants: []string{"Acme"}}, str: "tenant:Acme", describe: "in progress (started, paused) for Acme"},
		{name: "key in capitals", text: "TENANT:Acme", want: Command{Tenants: []string{"Acme"}}, str: "tenant:Acme",
			describe: "in progress (started, paused) for Acme"},
		{name: "straight quotes hold a space", text: `paused tenant:"Acme Corp"`,
			want: Command{States: paused, Tenants: []string{"Acme Corp"}}, str: `paused tenant:"Acme Corp"`, describe: "paused for Acme Corp"},
		{name: "a no-break space inside quotes is a space", text: "paused tenant:\"Acme\u00a0Corp\"",
			want: Command{States: paused, Tenants: []string{"Acme Corp"}}, str: `paused tenant:"Acme Corp"`, describe: "paused for Acme Corp"},
		{name: "Slack's curly quotes", text: "paused tenant:\u201cAcme Corp\u201d",
			want: Command{States: paused, Tenants: []string{"Acme Corp"}}, str: `paused tenant:"Acme Corp"`, describe: "paused for Acme Corp"},
		{name: "curly opening, straight closing", text: "tenant:\u201cAcme Corp\" paused",
			want: Command{States: paused, Tenants: []string{"Acme Corp"}}, str: `paused tenant:"Acme Corp"`, describe: "paused for Acme Corp"},
		{name: "straight opening, curly closing", text: "tenant:\"Acme Corp\u201d paused",
			want: Command{States: paused, Tenants: []string{"Acme Corp"}}, str: `paused tenant:"Acme Corp"`, describe: "paused for Acme Corp"},
		{name: "closing curly quote opens too", text: "tenant:\u201dAcme Corp\u201c",
			want: Command{Tenants: []string{"Acme Corp"}}, str: `tenant:"Acme Corp"`, describe: "in progress (started, paused) for Acme Corp"},
		{name: "a comma inside quotes", text: `tenant:"Acme, Inc." failed`,
			want: Command{Failed: true, Tenants: []string{"Acme, Inc."}}, str: `failed tenant:"Acme, Inc."`, describe: "failed for Acme, Inc."},
		{name: "a comma right after the closing quote separates", text: `tenant:"Acme Corp",paused`,
			want: Command{States: paused, Tenants: []string{"Acme Corp"}}, str: `paused tenant:"Acme Corp"`, describe: "paused for Acme Corp"},
		{name: "an escaped ampersand is decoded", text: `tenant:"Smith &amp; Sons"`,
			want: Command{Tenants: []string{"Smith & Sons"}}, str: `tenant:"Smith & Sons"`, describe: "in progress (started, paused) for Smith & Sons"},
		{name: "escaped angle brackets in a bare name", text: "tenant:&lt;b&gt;",
			want: Command{Tenants: []string{"<b>"}}, str: "tenant:<b>", describe: "in progress (started, paused) for <b>"},
		{name: "a doubly escaped entity is decoded once", text: "tenant:A&amp;lt;B",
			want: Command{Tenants: []string{"A&lt;B"}}, str: "tenant:A&amp;lt;B", describe: "in progress (started, paused) for A&lt;B"},
		{name: "space around a quoted name is trimmed", text: `tenant:"  Acme  "`,
			want: Command{Tenants: []string{"Acme"}}, str: "tenant:Acme", describe: "in progress (started, paused) for Acme"},
		{name: "spaces inside a quoted name are kept, each as a space", text: "tenant:\"Acme \u00a0Corp\"",
			want: Command{Tenants: []string{"Acme  Corp"}}, str: "tenant:\"Acme  Corp\"", describe: "in progress (started, paused) for Acme  Corp"},
		{name: "a zero-width space inside a name is dropped", text: "tenant:Ac\u200bme",
			want: Command{Tenants: []string{"Acme"}}, str: "tenant:Acme", describe: "in progress (started, paused) for Acme"},
		{name: "an apostrophe is no quote", text: "tenant:\u201cO\u2019Brien & Co\u201d tenant:O'Hara",
			want: Command{Tenants: []string{"O\u2019Brien & Co", "O'Hara"}}, str: "tenant:\"O\u2019Brien & Co\" tenant:O'Hara",
			describe: "in progress (started, paused) for O\u2019Brien & Co or O'Hara"},
		{name: "a colon in a bare name", text: "tenant:eu:acme",
			want: Command{Tenants: []string{"eu:acme"}}, str: "tenant:eu:acme", describe: "in progress (started, paused) for eu:acme"},
		{name: "a tenant id", text: "tenant:6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69",
			want: Command{Tenants: []string{"6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69"}}, str: "tenant:6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69",
			describe: "in progress (started, paused) for 6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69"},
		{name: "two tenants", text: `failed tenant:Acme tenant:"Beta Ltd"`,
			want: Command{Failed: true, Tenants: []string{"Acme", "Beta Ltd"}}, str: `failed tenant:Acme tenant:"Beta Ltd"`,
			describe: "failed for Acme or Beta Ltd"},
		{name: "two tenants, default states", text: `tenant:Acme,tenant:"Beta Ltd"`,
			want: Command{Tenants: []string{"Acme", "Beta Ltd"}}, str: `tenant:Acme tenant:"Beta Ltd"`,
			describe: "in progress (started, paused) for Acme or Beta Ltd"},
		{name: "three tenants", text: "tenant:a tenant:b tenant:c started paused",
			want: Command{States: []tasks.State{tasks.Started, tasks.Paused}, Tenants: []string{"a", "b", "c"}},
			str:  "started paused tenant:a tenant:b tenant:c", describe: "started or paused for a, b or c"},
		{name: "the same tenant in other cases is dropped, the first spelling kept", text: "tenant:Acme tenant:ACME tenant:\"acme\" Tenant:\u201cAcMe\u201d",
			want: Command{Tenants: []string{"Acme"}}, str: "tenant:Acme", describe: "in progress (started, paused) for Acme"},
		{name: "states and tenants in any order", text: "tenant:Acme failed paused",
			want: Command{States: paused, Failed: true, Tenants: []string{"Acme"}}, str: "paused failed tenant:Acme",
			describe: "paused or failed for Acme"},
		{name: "a name of 100 characters", text: "tenant:" + strings.Repeat("é", 100),
			want: Command{Tenants: []string{strings.Repeat("é", 100)}}, str: "tenant:" + strings.Repeat("é", 100),
			describe: "in progress (started, paused) for " + strings.Repeat("é", 100)},
		{name: "100 characters once entities are decoded", text: "tenant:" + strings.Repeat("&amp;", 100),
			want: Command{Tenants: []string{strings.Repeat("&", 100)}}, str: "tenant:" + strings.Repeat("&", 100),
			describe: "in progress (started, paused) for " + strings.Repeat("&", 100)},
		{name: "eight tenants", text: "tenant:1 tenant:2 tenant:3 tenant:4 tenant:5 tenant:6 tenant:7 tenant:8 tenant:8",
			want: Command{Tenants: []string{"1", "2", "3", "4", "5", "6", "7", "8"}},
			str:  "tenant:1 tenant:2 tenant:3 tenant:4 tenant:5 tenant:6 tenant:7 tenant:8", describe: "in progress (started, paused) for 1, 2, 3, 4, 5, 6, 7 or 8"},
		{name: "help wins over tenants", text: "tenant:Acme help", want: Command{Verb: Help, Help: true}, str: "help", describe: "help"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCommand(tc.text)
			if err != nil {
				t.Fatalf("ParseCommand(%.60q): %v", tc.text, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseCommand(%.60q) =\n%#v\nwant\n%#v", tc.text, got, tc.want)
			}
			if s := got.String(); s != tc.str {
				t.Errorf("String() = %q, want %q", s, tc.str)
			}
			if d := got.Describe(); d != tc.describe {
				t.Errorf("Describe() = %q, want %q", d, tc.describe)
			}
			if got.IsDefault() {
				t.Errorf("IsDefault() for %#v", got)
			}
			back, err := ParseCommand(got.String())
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("ParseCommand(%q) = %#v, %v; want the command back", got.String(), back, err)
			}
		})
	}
}

// TestCommandTenantsQueries: tenants do not change the queries (the API has no tenant filter;
// the caller filters).
func TestCommandTenantsQueries(t *testing.T) {
	for text, want := range map[string][]string{
		"tenant:Acme":               {qInProgress},
		`paused tenant:"Acme Corp"`: {qPaused},
		"failed tenant:a tenant:b":  {qFailed},
		"paused failed tenant:a":    {qPaused, qFailed},
	} {
		c, err := ParseCommand(text)
		if err != nil {
			t.Fatalf("ParseCommand(%q): %v", text, err)
		}
		var got []string
		for _, q := range c.Queries() {
			got = append(got, acronis.QueryValues(q).Encode())
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: Queries() =\n%q\nwant\n%q", text, got, want)
		}
	}
}

func TestParseCommandBadTenants(t *testing.T) {
	const (
		needsName = `tenant: needs a name right after the colon, e.g. tenant:"Acme Corp"`
		tooLong   = `": a tenant name has at most 100 characters`
	)
	for _, tc := range []struct {
		name, text string
		want       wantUsage
	}{
		{"tenant: with nothing", "paused tenant:", wantUsage{"", needsName}},
		{"a name with spaces unquoted", "paused tenant:Beta Industries", wantUsage{"Industries",
			`I don't understand "Industries". A name with spaces goes in quotes: tenant:"Beta Industries".`}},
		{"a name in single quotes", "paused tenant:'Beta Industries'", wantUsage{"Industries'",
			`I don't understand "Industries'". A name with spaces goes in quotes: tenant:"Beta Industries".`}},
		{"a mute of a name with spaces unquoted", "mute plan:Daily backup 2h", wantUsage{"backup",
			`"backup" is not a mute duration: use minutes, hours or days from 1m to 30d (30 days), e.g. 30m, 2h, 1d or 1h30m. A name with spaces goes in quotes: plan:"Daily backup".`}},
		{"a quoted name then a stray word: no quote hint", `paused tenant:"Beta" Industries`, wantUsage{"Industries", `I don't understand "Industries".`}},
		{"tenant: in capitals with nothing", "TENANT:", wantUsage{"", needsName}},
		{"a space after the colon", `tenant: "Acme Corp"`, wantUsage{"", needsName}},
		{"empty quotes", `tenant:""`, wantUsage{`tenant:""`, `"tenant:""": the name is blank, e.g. tenant:"Acme Corp"`}},
		{"blank quotes", "tenant:\"  \u3000 \"", wantUsage{`tenant:" "`, `"tenant:" "": the name is blank, e.g. tenant:"Acme Corp"`}},
		{"an unterminated quote", `paused tenant:"Acme Corp`,
			wantUsage{`tenant:"Acme Corp`, `"tenant:"Acme Corp": the quote after tenant: is never closed, e.g. tenant:"Acme Corp"`}},
		{"an unterminated curly quote", "tenant:\u201cAcme Corp, paused",
			wantUsage{"tenant:\u201cAcme Corp, paused", "\"tenant:\u201cAcme Corp, paused\": the quote after tenant: is never closed, e.g. tenant:\"Acme Corp\""}},
		{"an unterminated quote of 10,000 characters", `tenant:"` + strings.Repeat("a ", 5000),
			wantUsage{`tenant:"` + strings.Repeat("a ", 15) + "a…", `"tenant:"` + strings.Repeat("a ", 15) + `a…": the quote after tenant: is never closed, e.g. tenant:"Acme Corp"`}},
		{"text after the closing quote", `tenant:"Acme"Corp paused`,
			wantUsage{`tenant:"Acme"Corp`, `"tenant:"Acme"Corp": put a space after the closing quote (a name cannot contain double quotes)`}},
		{"a quote inside a quoted name", "tenant:\"The \u201cBest\u201d Co\"",
			wantUsage{"tenant:\"The \u201cBest\u201d", "\"tenant:\"The \u201cBest\u201d\": put a space after the closing quote (a name cannot contain double quotes)"}},
		{"a quote inside a bare name", `tenant:Ac"me`,
			wantUsage{`tenant:Ac"me`, `"tenant:Ac"me": a tenant name cannot contain double quotes; quote a name with spaces like tenant:"Acme Corp"`}},
		{"101 characters", "tenant:" + strings.Repeat("x", 101),
			wantUsage{"tenant:" + strings.Repeat("x", 32) + "…", `"tenant:` + strings.Repeat("x", 32) + "…" + tooLong}},
		{"101 characters once entities are decoded", "tenant:" + strings.Repeat("&amp;", 101),
			wantUsage{"tenant:" + strings.Repeat("&amp;", 6) + "…", `"tenant:` + strings.Repeat("&amp;", 6) + "…" + tooLong}},
		{"10,000 characters in quotes", `tenant:"` + strings.Repeat("x", 10000) + `"`,
			wantUsage{`tenant:"` + strings.Repeat("x", 31) + "…", `"tenant:"` + strings.Repeat("x", 31) + "…" + tooLong}},
		{"a mention as a name is escaped in the message", "tenant:\"<!channel> " + strings.Repeat("x", 100) + `"`,
			wantUsage{`tenant:"&lt;!channel&gt; ` + strings.Repeat("x", 14) + "…", `"tenant:"&lt;!channel&gt; ` + strings.Repeat("x", 14) + "…" + tooLong}},
		{"nine tenants", "tenant:1 tenant:2 tenant:3 tenant:4 tenant:5 tenant:6 tenant:7 tenant:8 tenant:ACME",
			wantUsage{"tenant:ACME", `"tenant:ACME": at most 8 tenants in one command`}},
		{"task: in a listing", "paused task:123", wantUsage{"task:123", `I don't understand "task:123".`}},
		{"plan: in a listing", `plan:"Daily backup"`, wantUsage{`plan:"Daily backup"`, `I don't understand "plan:"Daily backup"".`}},
		{"an unknown key", "tenants:Acme", wantUsage{"tenants:Acme", `I don't understand "tenants:Acme".`}},
		{"a quoted word without a key", `"Acme Corp"`, wantUsage{`"Acme`, `I don't understand ""Acme".`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCommand(tc.text)
			checkUsageError(t, tc.text, got, err, tc.want)
		})
	}
}

// TestCommandStringFitsAButton: the canonical text of the longest listing (every state, the
// most tenants, the longest names, each & doubled by escapeEntityAmps) fits in a button's value
// with room to spare.
func TestCommandStringFitsAButton(t *testing.T) {
	// A letter, "&lt;" 24 times and " ab": 100 characters, each "&lt;" written "&amp;lt;".
	text := "enqueued assigned started paused completed"
	for i := range maxTenants {
		text += ` tenant:"` + string(rune('a'+i)) + strings.Repeat("&amp;lt;", 24) + ` ab"`
	}
	c, err := ParseCommand(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tenants) != maxTenants || utf8.RuneCountInString(c.Tenants[0]) != maxName {
		t.Fatalf("%d tenants of %d characters, want %d of %d", len(c.Tenants), utf8.RuneCountInString(c.Tenants[0]), maxTenants, maxName)
	}
	s := c.String()
	if n := utf8.RuneCountInString(s); n > 1800 || n > MaxButtonValue {
		t.Errorf("String() has %d characters, want at most 1,800", n)
	}
	if back, err := ParseCommand(s); err != nil || !reflect.DeepEqual(back, c) {
		t.Errorf("ParseCommand(String()) = %#v, %v; want %#v", back, err, c)
	}
}

// TestCommandStringOfAQuotedName: a tenant name with a double quote cannot come from
// ParseCommand; String writes it so that parsing fails rather than naming another tenant.
func TestCommandStringOfAQuotedName(t *testing.T) {
	for _, name := range []string{`Acme "West"`, `"Acme"`, "Acme\u201d"} {
		s := Command{Tenants: []string{name}}.String()
		c, err := ParseCommand(s)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("ParseCommand(%q) = %#v, %v; want a usage error", s, c, err)
		}
	}
}
