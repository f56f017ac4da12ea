package bot

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks"
)

func TestPlainText(t *testing.T) {
	all := MergeTasks(renderFixtures(t, "tasks-in-progress.json"), renderFixtures(t, "tasks-completed-page2.json"))
	for _, tc := range []struct {
		name string
		msg  Message
		want string
	}{
		{"task list", RenderList(Command{States: []tasks.State{tasks.Paused}, Failed: true}, all[:3], false, renderNow), "" +
			"Tasks paused or failed — 3\n" +
			"  *Backup plan 'R&D <nightly> & archive' on FS-02*\n" +
			"  :double_vertical_bar: paused · Customer B GmbH · MachineBackup\n" +
			"  started 2020-04-22 12:00 UTC · updated 2m ago\n" +
			"\n" +
			"  *Adding agent 'WS-0001' to the management server*\n" +
			"  :arrow_forward: started · customer-a@example.com · A59E8BF2-39C3-42C4-B667-CB672381A214\n" +
			"  started 2020-04-22 11:34 UTC · running for 35m · updated 35m ago\n" +
			"\n" +
			"  *Backup plan 'Daily' on SQL-01*\n" +
			"  :x: failed · Backup/VolumeNotFound · Customer B GmbH · MachineBackup\n" +
			"  started 2020-04-22 10:00 UTC · completed 2020-04-22 10:41 UTC · took 41m\n" +
			"  — as of 2020-04-22 12:10 UTC\n" +
			"[Refresh]\n"},
		{"announcement", RenderAnnouncement(tasks.EventFailed, tasks.Started, snap(fixtureTask(t, fxFailed)), renderNow), "" +
			"  :x: *Failed* · *Backup plan 'Daily' on SQL-01*\n" +
			"    Tenant: Customer B GmbH\n" +
			"    State: started → completed (error)\n" +
			"    Type: MachineBackup\n" +
			"    Started by: scheduler\n" +
			"\n" +
			"  *Error:* Backup/VolumeNotFound\n" +
			"  — Task 944455285181770001 · updated " + humanDuration(time.Since(fixtureTask(t, fxFailed).UpdatedAt)) + " ago\n"},
		{"text only", Message{Text: "Tasks &lt;x&gt;"}, "Tasks <x>\n"},
		{"divider and foreign blocks", Message{Text: "t", Blocks: []slack.Block{
			slack.NewDividerBlock(),
			slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "see <https://example.com|the docs> <@U1> <!here> <#C1|ops>", false, false), nil,
				slack.NewAccessory(slack.NewButtonBlockElement("x", "y", slack.NewTextBlockObject("plain_text", "Open", false, false)))),
		}}, "" +
			"  ────────\n" +
			"  see the docs (https://example.com) @U1 @here #ops\n" +
			"  [Open]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PlainText(tc.msg); got != tc.want {
				t.Errorf("PlainText =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestTerminalText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"entities decoded once", "R&amp;D &lt;x&gt; &amp;lt;", "R&D <x> &lt;"},
		{"date token", "at <!date^1587555243^{date_short_pretty} {time}|2020-04-22 11:34 UTC>.", "at 2020-04-22 11:34 UTC."},
		{"ago token", fmt.Sprintf("updated <!date^%d^{ago}|2020-04-22 11:34 UTC>", time.Now().Add(-90*time.Minute-20*time.Second).Unix()), "updated 1h 30m ago"},
		{"link with label", "<https://a.example/?a=1&amp;b=2|docs>", "docs (https://a.example/?a=1&b=2)"},
		{"bare link", "<https://a.example>", "https://a.example"},
		{"user group", "<!subteam^S1|@oncall>", "@oncall"},
		{"special mention", "<!channel>", "@channel"},
		{"unclosed bracket kept", "a < b", "a < b"},
		{"escaped control text stays plain", Escape("\x1b[2Jboom"), "[2Jboom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := terminalText(tc.in); got != tc.want {
				t.Errorf("terminalText(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if strings.ContainsRune(terminalText(tc.in), '\x1b') {
				t.Error("ANSI escape in terminal text")
			}
		})
	}
}
