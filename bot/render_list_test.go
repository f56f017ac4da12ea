package bot

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks"
)

// buttonsOf returns "action_id=value" of every button of m's actions blocks, in order.
func buttonsOf(m Message) []string {
	var out []string
	for _, b := range m.Blocks {
		a, ok := b.(*slack.ActionBlock)
		if !ok {
			continue
		}
		for _, e := range a.Elements.ElementSet {
			if bt, ok := e.(*slack.ButtonBlockElement); ok {
				out = append(out, bt.ActionID+"="+bt.Value)
			}
		}
	}
	return out
}

// buttonLabels returns the text of every button of m, in order.
func buttonLabels(m Message) []string {
	var out []string
	for _, b := range m.Blocks {
		if a, ok := b.(*slack.ActionBlock); ok {
			for _, e := range a.Elements.ElementSet {
				out = append(out, e.(*slack.ButtonBlockElement).Text.Text)
			}
		}
	}
	return out
}

func TestRenderListPage(t *testing.T) {
	paused := fixtureTask(t, fxPaused)
	asOf := "as of " + slackDate(renderNow)
	all := ListButtons{Refresh: "r.sig", Next: "n.sig", Share: "s.sig"}
	long := strings.Repeat("v", MaxButtonValue)
	for _, tc := range []struct {
		name     string
		page     ListPage
		header   string
		sections int
		first    string // first section's text, "" to skip
		footer   string
		buttons  []string
	}{
		{name: "second page of 301",
			page:   ListPage{Tasks: manyTasks(paused, 45), Offset: 45, Total: 301, Buttons: all},
			header: "Tasks paused — 301", sections: 45,
			footer:  "tasks 46–90 of 301 · newest first · " + asOf,
			buttons: []string{"tasks_refresh=r.sig", "tasks_next=n.sig", "tasks_share=s.sig"}},
		{name: "the API has more",
			page:   ListPage{Tasks: manyTasks(paused, 45), Offset: 45, Total: 500, More: true, Buttons: all},
			header: "Tasks paused — 500+", sections: 45,
			footer:  "tasks 46–90 of 500+ · newest first · " + asOf,
			buttons: []string{"tasks_refresh=r.sig", "tasks_next=n.sig", "tasks_share=s.sig"}},
		{name: "last page, no Next",
			page:   ListPage{Tasks: manyTasks(paused, 31), Offset: 270, Total: 301, Buttons: ListButtons{Refresh: "r", Share: "s"}},
			header: "Tasks paused — 301", sections: 31,
			footer:  "tasks 271–301 of 301 · newest first · " + asOf,
			buttons: []string{"tasks_refresh=r", "tasks_share=s"}},
		{name: "one page shows them all",
			page:   ListPage{Tasks: manyTasks(paused, 3), Total: 3, Buttons: ListButtons{Refresh: "r"}},
			header: "Tasks paused — 3", sections: 3, footer: asOf,
			buttons: []string{"tasks_refresh=r"}},
		{name: "more tasks than a page holds are counted",
			page:   ListPage{Tasks: manyTasks(paused, 60), Offset: 45, Total: 301, Buttons: all},
			header: "Tasks paused — 301", sections: MaxListedTasks,
			footer:  "tasks 46–90 of 301 · newest first · " + asOf,
			buttons: []string{"tasks_refresh=r.sig", "tasks_next=n.sig", "tasks_share=s.sig"}},
		{name: "a total below what was shown is raised",
			page:   ListPage{Tasks: manyTasks(paused, 10), Offset: 45, Total: 7},
			header: "Tasks paused — 55", sections: 10,
			footer: "tasks 46–55 of 55 · newest first · " + asOf},
		{name: "a negative offset is the first page",
			page:   ListPage{Tasks: manyTasks(paused, 2), Offset: -5, Total: -1},
			header: "Tasks paused — 2", sections: 2, footer: asOf},
		{name: "the largest offset does not overflow",
			page:   ListPage{Tasks: manyTasks(paused, 2), Offset: math.MaxInt, Total: math.MaxInt},
			header: "Tasks paused — 9223372036854775807", sections: 2,
			footer: "tasks 9223372036854775806–9223372036854775807 of 9223372036854775807 · newest first · " + asOf},
		{name: "an empty page after the first",
			page:   ListPage{Offset: 45, Total: 45, Buttons: ListButtons{Refresh: "r"}},
			header: "Tasks paused — 45", sections: 1,
			first:  "No more paused tasks: the list has changed since the page before; Refresh shows it again from the newest.",
			footer: asOf, buttons: []string{"tasks_refresh=r"}},
		{name: "empty, no buttons",
			page:   ListPage{},
			header: "Tasks paused — 0", sections: 1, first: "No paused tasks right now.", footer: asOf},
		{name: "values up to the limit are kept, longer ones left out",
			page:   ListPage{Tasks: manyTasks(paused, 1), Total: 1, Buttons: ListButtons{Refresh: long, Next: long + "x", Share: strings.Repeat("é", MaxButtonValue)}},
			header: "Tasks paused — 1", sections: 1, footer: asOf,
			buttons: []string{"tasks_refresh=" + long, "tasks_share=" + strings.Repeat("é", MaxButtonValue)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := RenderListPage(Command{States: []tasks.State{tasks.Paused}}, tc.page, renderNow)
			checkSafe(t, m)
			if h := m.Blocks[0].(*slack.HeaderBlock).Text.Text; h != tc.header {
				t.Errorf("header = %q, want %q", h, tc.header)
			}
			if want := "Tasks paused: " + strings.TrimPrefix(tc.header, "Tasks paused — "); m.Text != want {
				t.Errorf("Text = %q, want %q", m.Text, want)
			}
			secs := sectionTexts(m)
			if len(secs) != tc.sections {
				t.Errorf("%d sections, want %d", len(secs), tc.sections)
			}
			if tc.first != "" && secs[0] != tc.first {
				t.Errorf("first section = %q, want %q", secs[0], tc.first)
			}
			if got := contextText(t, m); got != tc.footer {
				t.Errorf("footer = %q, want %q", got, tc.footer)
			}
			if got := buttonsOf(m); strings.Join(got, "\n") != strings.Join(tc.buttons, "\n") {
				t.Errorf("buttons = %.80q, want %.80q", got, tc.buttons)
			}
			if tc.buttons == nil {
				if _, ok := m.Blocks[len(m.Blocks)-1].(*slack.ContextBlock); !ok {
					t.Errorf("last block %T, want the context line (no empty actions block)", m.Blocks[len(m.Blocks)-1])
				}
			}
			// A notice still fits.
			if err := CheckLimits(WithIncompleteNotice(m)); err != nil {
				t.Errorf("with a notice: %v", err)
			}
		})
	}
}

func TestRenderListPageButtonLabels(t *testing.T) {
	m := RenderListPage(Command{}, ListPage{Tasks: manyTasks(fixtureTask(t, fxPaused), 50), Total: 50,
		Buttons: ListButtons{Refresh: "r", Next: "n", Share: "s"}}, renderNow)
	checkSafe(t, m)
	if got, want := strings.Join(buttonLabels(m), ","), "Refresh,Next page,Share"; got != want {
		t.Errorf("labels = %q, want %q", got, want)
	}
	if n := len(m.Blocks); n > MaxBlocks-2 {
		t.Errorf("%d blocks, want at most %d (a notice must fit)", n, MaxBlocks-2)
	}
	if RefreshActionID != "tasks_refresh" || NextActionID != "tasks_next" || ShareActionID != "tasks_share" {
		t.Errorf("action ids %q %q %q changed: Slack apps and the interaction handler rely on them", RefreshActionID, NextActionID, ShareActionID)
	}
}

func TestRenderListPageEscapes(t *testing.T) {
	evil := withTitle(fixtureTask(t, fxPaused), "<!channel> wake up & <@U123>", "<!here>", "<https://evil|x>")
	m := RenderListPage(Command{}, ListPage{Tasks: manyTasks(evil, 3), Offset: 3, Total: 9, More: true,
		Buttons: ListButtons{Refresh: "r", Next: "n"}}, renderNow)
	checkSafe(t, m)
	want := "*&lt;!channel&gt; wake up &amp; &lt;@U123&gt;*\n:double_vertical_bar: paused · &lt;!here&gt; · &lt;https://evil|x&gt;"
	if first, _, _ := strings.Cut(sectionTexts(m)[0], "\nstarted"); first != want {
		t.Errorf("entry = %q, want %q", first, want)
	}
}

func TestRenderListTenants(t *testing.T) {
	for _, tc := range []struct {
		name, text, header, empty string
	}{
		{"in progress", `tenant:"Acme Corp"`, "Tasks in progress (started, paused) for Acme Corp — 0",
			"No tasks in progress (started, paused) for Acme Corp right now."},
		{"paused, two tenants", `paused tenant:Acme tenant:Beta`, "Tasks paused for Acme or Beta — 0",
			"No tasks paused for Acme or Beta right now."},
		{"escaped", `failed tenant:"<!channel> & *x*"`, "Tasks failed for &lt;!channel&gt; &amp; *x* — 0",
			"No tasks failed for &lt;!channel&gt; &amp; \u2217x\u2217 right now."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := ParseCommand(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			m := RenderListPage(cmd, ListPage{Buttons: ListButtons{Refresh: "r"}}, renderNow)
			checkSafe(t, m)
			if h := headerText(t, m); h != tc.header {
				t.Errorf("header = %q, want %q", h, tc.header)
			}
			if s := sectionTexts(m); len(s) != 1 || s[0] != tc.empty {
				t.Errorf("sections = %q, want [%q]", s, tc.empty)
			}
		})
	}

	// However many tenants, the count stays in the header and the fallback.
	cmd := Command{States: []tasks.State{tasks.Paused}}
	for i := range 100 {
		cmd.Tenants = append(cmd.Tenants, fmt.Sprintf("Tenant number %d", i))
	}
	m := RenderListPage(cmd, ListPage{Tasks: manyTasks(fixtureTask(t, fxPaused), 3), Offset: 45, Total: 301, More: true}, renderNow)
	checkSafe(t, m)
	if h := headerText(t, m); !strings.HasPrefix(h, "Tasks paused for Tenant number 0, ") || !strings.HasSuffix(h, "… — 301+") {
		t.Errorf("header = %q, want the description cut and the count", h)
	}
	if !strings.HasSuffix(m.Text, "…: 301+") || len([]rune(m.Text)) > FallbackTextTarget {
		t.Errorf("Text = %q, want the description cut and the count", m.Text)
	}
}

func TestRenderListHelpPage(t *testing.T) {
	m := RenderListPage(Command{Help: true}, ListPage{Buttons: ListButtons{Refresh: "r"}}, renderNow)
	checkSafe(t, m)
	if s := sectionTexts(m); len(s) != 1 || s[0] != Usage() || len(buttonsOf(m)) != 0 {
		t.Errorf("help page = %q, buttons %q; want the usage alone", s, buttonsOf(m))
	}
}
