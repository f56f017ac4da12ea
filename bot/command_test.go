package bot

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/acronis"
)

// Encoded queries of the slash command (acronis.QueryValues(tasks.Query).Encode(): keys sorted, repeated
// keys in order).
const (
	qInProgress = "limit=100&order=desc%28updatedAt%29&state=started&state=paused"
	qPaused     = "limit=100&order=desc%28updatedAt%29&state=paused"
	// The failing result codes are tasks.DefaultFailures: error, abandoned, timedout.
	qFailed = "limit=100&order=desc%28updatedAt%29&resultCode=error&resultCode=abandoned&resultCode=timedout&state=completed"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		name     string
		text     string
		want     Command
		wantWord string   // UsageError.Word when an error is expected
		queries  []string // encoded Queries()
		str      string   // String()
		describe string   // Describe()
	}{
		{name: "empty is the default", text: "", want: Command{}, queries: []string{qInProgress}, str: "", describe: "in progress (started, paused)"},
		{name: "blanks are the default", text: "   ", want: Command{}, queries: []string{qInProgress}, str: "", describe: "in progress (started, paused)"},
		{name: "tab, upper case, newline", text: "\tPAUSED\n", want: Command{States: []tasks.State{tasks.Paused}}, queries: []string{qPaused}, str: "paused", describe: "paused"},
		{name: "two states in lifecycle order", text: "paused started", want: Command{States: []tasks.State{tasks.Started, tasks.Paused}}, queries: []string{qInProgress}, str: "started paused", describe: "started or paused"},
		{name: "comma and mixed case", text: "Paused,  STARTED", want: Command{States: []tasks.State{tasks.Started, tasks.Paused}}, queries: []string{qInProgress}, str: "started paused", describe: "started or paused"},
		{name: "commas only between", text: "paused,,,started,", want: Command{States: []tasks.State{tasks.Started, tasks.Paused}}, queries: []string{qInProgress}, str: "started paused", describe: "started or paused"},
		{name: "duplicates dropped", text: "paused PAUSED Paused", want: Command{States: []tasks.State{tasks.Paused}}, queries: []string{qPaused}, str: "paused", describe: "paused"},
		{name: "failed", text: "failed", want: Command{Failed: true}, queries: []string{qFailed}, str: "failed", describe: "failed"},
		{name: "paused or failed takes two queries", text: "paused failed", want: Command{States: []tasks.State{tasks.Paused}, Failed: true}, queries: []string{qPaused, qFailed}, str: "paused failed", describe: "paused or failed"},
		{name: "failed first, states after", text: "FAILED started paused", want: Command{States: []tasks.State{tasks.Started, tasks.Paused}, Failed: true}, queries: []string{qInProgress, qFailed}, str: "started paused failed", describe: "started, paused or failed"},
		{name: "completed covers failed", text: "completed failed", want: Command{States: []tasks.State{tasks.Completed}}, queries: []string{"limit=100&order=desc%28updatedAt%29&state=completed"}, str: "completed", describe: "completed"},
		{name: "every state", text: "completed paused started assigned enqueued", want: Command{States: tasks.States}, queries: []string{"limit=100&order=desc%28updatedAt%29&state=enqueued&state=assigned&state=started&state=paused&state=completed"}, str: "enqueued assigned started paused completed", describe: "enqueued, assigned, started, paused or completed"},
		{name: "help", text: "help", want: Command{Verb: Help, Help: true}, str: "help", describe: "help"},
		{name: "HELP", text: "HELP", want: Command{Verb: Help, Help: true}, str: "help", describe: "help"},
		{name: "-h", text: "-h", want: Command{Verb: Help, Help: true}, str: "help", describe: "help"},
		{name: "--help", text: " --help ", want: Command{Verb: Help, Help: true}, str: "help", describe: "help"},
		{name: "question mark", text: "?", want: Command{Verb: Help, Help: true}, str: "help", describe: "help"},
		{name: "help wins over states", text: "paused help", want: Command{Verb: Help, Help: true}, str: "help", describe: "help"},
		{name: "NBSP separates", text: "paused\u00a0started", want: Command{States: []tasks.State{tasks.Started, tasks.Paused}}, queries: []string{qInProgress}, str: "started paused", describe: "started or paused"},
		{name: "ideographic space separates", text: "paused\u3000failed", want: Command{States: []tasks.State{tasks.Paused}, Failed: true}, queries: []string{qPaused, qFailed}, str: "paused failed", describe: "paused or failed"},
		{name: "NEL separates", text: "paused\u0085started", want: Command{States: []tasks.State{tasks.Started, tasks.Paused}}, queries: []string{qInProgress}, str: "started paused", describe: "started or paused"},
		{name: "10,000 characters of paused", text: strings.Repeat("paused ", 1500), want: Command{States: []tasks.State{tasks.Paused}}, queries: []string{qPaused}, str: "paused", describe: "paused"},

		{name: "typo", text: "pausd", wantWord: "pausd"},
		{name: "first unknown word is named", text: "paused xyz pausd", wantWord: "xyz"},
		{name: "unknown word keeps its case", text: "Running", wantWord: "Running"},
		{name: "channel mention as Slack sends it", text: "&lt;!channel&gt;", wantWord: "&lt;!channel&gt;"},
		{name: "channel mention unescaped", text: "<!channel>", wantWord: "&lt;!channel&gt;"},
		{name: "user mention", text: "<@U123|bob>", wantWord: "&lt;@U123|bob&gt;"},
		{name: "ampersand", text: "paused &amp; started", wantWord: "&amp;"},
		{name: "mrkdwn markers neutralised", text: "*bold*", wantWord: "\u2217bold\u2217"},
		{name: "long word cut to 40 characters", text: strings.Repeat("é", 100), wantWord: strings.Repeat("é", 39) + "…"},
		{name: "cut keeps a whole entity", text: strings.Repeat("a", 35) + "<<<", wantWord: strings.Repeat("a", 35) + "&lt;…"},
		{name: "cut never splits an entity", text: strings.Repeat("a", 37) + "<<<", wantWord: strings.Repeat("a", 37) + "…"},
		{name: "10,000 characters of x", text: strings.Repeat("x ", 5000), wantWord: "x"},
		{name: "10,000-character word", text: strings.Repeat("x", 10000), wantWord: strings.Repeat("x", 39) + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCommand(tc.text)
			if tc.wantWord != "" {
				var ue *UsageError
				if !errors.As(err, &ue) {
					t.Fatalf("ParseCommand(%.40q) = %+v, %v; want a *UsageError", tc.text, got, err)
				}
				if ue.Word != tc.wantWord {
					t.Errorf("Word = %q, want %q", ue.Word, tc.wantWord)
				}
				if !reflect.DeepEqual(got, Command{}) {
					t.Errorf("command with an error = %+v, want the zero Command", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCommand(%.40q): %v", tc.text, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseCommand(%.40q) = %+v, want %+v", tc.text, got, tc.want)
			}
			var queries []string
			for _, q := range got.Queries() {
				queries = append(queries, acronis.QueryValues(q).Encode())
				if q.MaxTasks != CommandMaxTasks {
					t.Errorf("MaxTasks = %d, want %d", q.MaxTasks, CommandMaxTasks)
				}
			}
			if !reflect.DeepEqual(queries, tc.queries) {
				t.Errorf("Queries() =\n%q\nwant\n%q", queries, tc.queries)
			}
			if s := got.String(); s != tc.str {
				t.Errorf("String() = %q, want %q", s, tc.str)
			}
			if d := got.Describe(); d != tc.describe {
				t.Errorf("Describe() = %q, want %q", d, tc.describe)
			}
			back, err := ParseCommand(got.String())
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Errorf("ParseCommand(%q) = %+v, %v; want the command back %+v", got.String(), back, err, got)
			}
		})
	}
}

func TestParseCommandBoundedWork(t *testing.T) {
	long := strings.Repeat("paused ", 1500) // 10,500 characters of a valid word
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := ParseCommand(long); err != nil {
			t.Fatal(err)
		}
	})
	// One slice for States; nothing per word.
	if allocs > 2 {
		t.Errorf("ParseCommand of 1,500 words allocates %.0f times, want at most 2", allocs)
	}
}

func TestUsageErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		name, text, wantFirstLine string
	}{
		{"typo", "pausd", `I don't understand "pausd".`},
		{"channel mention as Slack sends it", "&lt;!channel&gt;", `I don't understand "&lt;!channel&gt;".`},
		{"link", "<https://evil|click>", `I don't understand "&lt;https://evil|click&gt;".`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCommand(tc.text)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			first, rest, _ := strings.Cut(msg, "\n")
			if first != tc.wantFirstLine {
				t.Errorf("first line = %q, want %q", first, tc.wantFirstLine)
			}
			if rest != Usage() {
				t.Errorf("rest = %q, want the usage", rest)
			}
			if strings.Contains(msg, "<") {
				t.Errorf("message %q contains '<': Slack could parse a mention or link", msg)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	u := Usage()
	for _, want := range []string{"`/tasks`", "`/tasks STATE…`", "`/tasks failed`", "`/tasks help`",
		"`enqueued` `assigned` `started` `paused` `completed`", "`tenant:NAME`", "`/tasks show ID`",
		"`/tasks subscribe [EVENT…] [tenant:NAME…]`", "`unsubscribe [tenant:NAME…]`", "`subscriptions`",
		"`/tasks mute task:ID|tenant:NAME|plan:NAME DURATION [REASON]`", "at most 30d", "`mutes`", "`unmute N`",
		"`/tasks scope tenant:NAME…`", "`scope all`"} {
		if !strings.Contains(u, want) {
			t.Errorf("Usage() lacks %q:\n%s", want, u)
		}
	}
	if n := len([]rune(u)); n > 900 {
		t.Errorf("Usage() is %d characters; keep it short", n)
	}
}

func TestMergeTasks(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2020, 4, 22, 12, min, 0, 0, time.UTC) }
	paused := []tasks.Task{
		{UUID: "a", State: tasks.Paused, UpdatedAt: at(5)},
		{UUID: "b", State: tasks.Paused, UpdatedAt: at(1)},
	}
	failed := []tasks.Task{
		{UUID: "c", State: tasks.Completed, UpdatedAt: at(3)},
		{UUID: "a", State: tasks.Completed, UpdatedAt: at(7)}, // a moved on between the two queries
		{UUID: "d", State: tasks.Completed, UpdatedAt: at(3)},
	}
	got := MergeTasks(paused, failed)
	var keys []string
	for _, t := range got {
		keys = append(keys, t.Key()+"@"+t.UpdatedAt.Format("04"))
	}
	want := []string{"a@07", "c@03", "d@03", "b@01"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("MergeTasks = %v, want %v", keys, want)
	}
	if paused[0].UpdatedAt != at(5) {
		t.Error("MergeTasks modified its input")
	}
}

func TestParseCommandDropsInvisibleCharacters(t *testing.T) {
	for _, in := range []string{"\u200bpaused", "pa\x01used", "\ufeffPAUSED\u200d", "paused\u00ad"} {
		c, err := ParseCommand(in)
		if err != nil || len(c.States) != 1 || c.States[0] != tasks.Paused {
			t.Errorf("ParseCommand(%q) = %+v, %v; want paused", in, c, err)
		}
	}
}
