package bot

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks/announce"
)

var defaultEvents = []string{"started", "paused", "failed", "stuck"}

func TestRenderSubscriptions(t *testing.T) {
	at := renderNow.Add(-48 * time.Hour)
	for _, tc := range []struct {
		name    string
		subs    []announce.Subscription
		text    string
		header  string // "" for none
		entries string // the sections' text
		footer  string // "" for no context line
	}{
		{name: "none", text: "This channel has no subscriptions.",
			entries: "This channel has no subscriptions. `/tasks subscribe` sends it announcements of started, paused, failed, stuck " +
				"for all tenants; `/tasks subscribe failed tenant:\"Acme Corp\"` only failures of one tenant."},
		{name: "only other channels'", subs: []announce.Subscription{{Channel: "C2", Events: []string{"failed"}}},
			text: "This channel has no subscriptions.",
			entries: "This channel has no subscriptions. `/tasks subscribe` sends it announcements of started, paused, failed, stuck " +
				"for all tenants; `/tasks subscribe failed tenant:\"Acme Corp\"` only failures of one tenant."},
		{name: "all tenants, default events", subs: []announce.Subscription{{Channel: "C1", By: "U123", At: at}},
			text: "This channel has 1 subscription.", header: "Subscriptions of this channel — 1",
			entries: "• *All tenants*: started, paused, failed, stuck (the default) · by U123, " + slackDate(at),
			footer:  "`/tasks unsubscribe` removes them all, `/tasks unsubscribe tenant:NAME` one tenant's"},
		{name: "all tenants first, then by name", subs: []announce.Subscription{
			{Channel: "C1", Tenant: "zeta", Events: []string{"failed"}, By: "U1", At: at},
			{Channel: "C2", Tenant: "other channel", Events: []string{"failed"}},
			{Channel: "C1", Tenant: "Acme <Corp> & Co", Events: []string{"failed", "stuck"}, By: "U2"},
			{Channel: "C1", Events: []string{"paused"}, By: "U3", At: at},
		},
			text: "This channel has 3 subscriptions.", header: "Subscriptions of this channel — 3",
			entries: "• *All tenants*: paused · by U3, " + slackDate(at) + "\n" +
				"• *Acme &lt;Corp&gt; &amp; Co*: failed, stuck · by U2\n" +
				"• *zeta*: failed · by U1, " + slackDate(at),
			footer: "`/tasks unsubscribe` removes them all, `/tasks unsubscribe tenant:NAME` one tenant's"},
		{name: "hostile names are escaped", subs: []announce.Subscription{
			{Channel: "C1", Tenant: "<!channel>", Events: []string{"<@U1>", "*x*"}, By: "<!here>"}},
			text: "This channel has 1 subscription.", header: "Subscriptions of this channel — 1",
			entries: "• *&lt;!channel&gt;*: &lt;@U1&gt;, \u2217x\u2217 · by &lt;!here&gt;",
			footer:  "`/tasks unsubscribe` removes them all, `/tasks unsubscribe tenant:NAME` one tenant's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := RenderSubscriptions("C1", tc.subs, defaultEvents)
			checkSafe(t, m)
			if m.Text != tc.text {
				t.Errorf("Text = %q, want %q", m.Text, tc.text)
			}
			if tc.header != "" {
				if h := headerText(t, m); h != tc.header {
					t.Errorf("header = %q, want %q", h, tc.header)
				}
			}
			if got := strings.Join(sectionTexts(m), "\n"); got != tc.entries {
				t.Errorf("entries =\n%s\nwant\n%s", got, tc.entries)
			}
			if tc.footer != "" {
				if got := contextText(t, m); got != tc.footer {
					t.Errorf("footer = %q, want %q", got, tc.footer)
				}
			}
		})
	}
}

func TestRenderMutes(t *testing.T) {
	until := renderNow.Add(23*time.Hour + 10*time.Minute)
	asOf := "as of " + slackDate(renderNow)
	for _, tc := range []struct {
		name    string
		mutes   []announce.Mute
		text    string
		header  string
		entries string
		footer  string
	}{
		{name: "none", text: "No active mutes: every announcement is posted.",
			entries: "No active mutes: every announcement is posted. `/tasks mute task:ID 2h [reason]` silences one task's " +
				"announcements in every channel (also `tenant:NAME` and `plan:NAME`; at most 30 days)."},
		{name: "only ended ones", mutes: []announce.Mute{{N: 1, Kind: announce.MuteTask, Value: "7", Until: renderNow}},
			text: "No active mutes: every announcement is posted.",
			entries: "No active mutes: every announcement is posted. `/tasks mute task:ID 2h [reason]` silences one task's " +
				"announcements in every channel (also `tenant:NAME` and `plan:NAME`; at most 30 days)."},
		{name: "by number, ended ones left out", mutes: []announce.Mute{
			{N: 4, Kind: announce.MuteTenant, Value: "Acme Corp", Until: until, By: "U2"},
			{N: 2, Kind: announce.MuteTask, Value: "944455285181775872", Until: until, By: "U1", Reason: "maintenance window"},
			{N: 3, Kind: announce.MutePlan, Value: "Nightly", Until: renderNow.Add(-time.Second), By: "U1"},
		},
			text: "2 active mutes.", header: "Active mutes — 2",
			entries: "• *#2* task:944455285181775872 — 23h 10m left, until " + slackDate(until) + ", by U1: maintenance window\n" +
				"• *#4* tenant:\"Acme Corp\" — 23h 10m left, until " + slackDate(until) + ", by U2",
			footer: "`/tasks unmute N` ends mute N · " + asOf},
		{name: "hostile text is escaped", mutes: []announce.Mute{
			{N: 1, Kind: announce.MutePlan, Value: "<!channel>", Until: until, By: "<@U1>", Reason: "*ping* <!here> & <https://evil|x>"}},
			text: "1 active mute.", header: "Active mutes — 1",
			entries: "• *#1* plan:&lt;!channel&gt; — 23h 10m left, until " + slackDate(until) +
				", by &lt;@U1&gt;: \u2217ping\u2217 &lt;!here&gt; &amp; &lt;https://evil|x&gt;",
			footer: "`/tasks unmute N` ends mute N · " + asOf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := RenderMutes(tc.mutes, renderNow)
			checkSafe(t, m)
			if m.Text != tc.text {
				t.Errorf("Text = %q, want %q", m.Text, tc.text)
			}
			if tc.header != "" {
				if h := headerText(t, m); h != tc.header {
					t.Errorf("header = %q, want %q", h, tc.header)
				}
			}
			if got := strings.Join(sectionTexts(m), "\n"); got != tc.entries {
				t.Errorf("entries =\n%s\nwant\n%s", got, tc.entries)
			}
			if tc.footer != "" {
				if got := contextText(t, m); got != tc.footer {
					t.Errorf("footer = %q, want %q", got, tc.footer)
				}
			}
		})
	}
}

// TestRenderRoutingThousands: a thousand subscriptions or mutes, short or huge, give one
// message within every limit that shows what fits, in order, and counts the rest.
func TestRenderRoutingThousands(t *testing.T) {
	huge := strings.Repeat("<!channel> & ", 5000)
	for _, tc := range []struct {
		name string
		text string // every tenant, value, reason and user
	}{
		{"short", "Acme"},
		{"huge", huge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			until := renderNow.Add(time.Hour)
			subs := make([]announce.Subscription, 1000)
			mutes := make([]announce.Mute, 1000)
			for i := range subs {
				subs[i] = announce.Subscription{Channel: "C1", Tenant: fmt.Sprintf("%04d %s", i, tc.text),
					Events: []string{"failed", tc.text}, By: tc.text, At: renderNow}
				mutes[i] = announce.Mute{N: uint64(1000 - i), Kind: announce.MuteTenant, Value: tc.text, Until: until, By: tc.text, Reason: tc.text}
			}
			for _, m := range []Message{RenderSubscriptions("C1", subs, defaultEvents), RenderMutes(mutes, renderNow)} {
				checkSafe(t, m)
				if n := blocksChars(m); n > maxBlocksChars {
					t.Errorf("%d characters in blocks, want at most %d", n, maxBlocksChars)
				}
				shown := strings.Count(strings.Join(sectionTexts(m), "\n"), "• ")
				if shown < 10 {
					t.Errorf("%d entries shown, want at least 10", shown)
				}
				if want := fmt.Sprintf("and %d more · ", 1000-shown); !strings.HasPrefix(contextText(t, m), want) {
					t.Errorf("footer = %q, want the prefix %q", contextText(t, m), want)
				}
			}
			first, _, _ := strings.Cut(sectionTexts(RenderMutes(mutes, renderNow))[0], "\n")
			if !strings.HasPrefix(first, "• *#1* ") {
				t.Errorf("first mute = %.40q, want #1", first)
			}
			first, _, _ = strings.Cut(sectionTexts(RenderSubscriptions("C1", subs, defaultEvents))[0], "\n")
			if !strings.HasPrefix(first, "• *0000 ") {
				t.Errorf("first subscription = %.40q, want tenant 0000", first)
			}
		})
	}
}
