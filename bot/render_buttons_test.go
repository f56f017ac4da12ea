package bot

import (
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks"
)

func TestWithAnnouncementButtons(t *testing.T) {
	if DetailsActionID != "task_details" || MuteActionID != "task_mute" {
		t.Fatalf("action ids %q %q changed: the interaction handler relies on them", DetailsActionID, MuteActionID)
	}
	long := strings.Repeat("v", MaxButtonValue)
	for _, tc := range []struct {
		name          string
		details, mute string
		buttons       []string // "action_id=value"
		labels        []string
	}{
		{"both", "d.sig", "m.sig", []string{"task_details=d.sig", "task_mute=m.sig"}, []string{"Details", "Mute task 24h"}},
		{"details only", "d.sig", "", []string{"task_details=d.sig"}, []string{"Details"}},
		{"mute only", "", "m.sig", []string{"task_mute=m.sig"}, []string{"Mute task 24h"}},
		{"neither", "", "", nil, nil},
		{"a value at the limit is kept, a longer one left out", long, long + "x", []string{"task_details=" + long}, []string{"Details"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := RenderAnnouncement(tasks.EventPaused, tasks.Started, snap(fixtureTask(t, fxPaused)), renderNow)
			m := WithAnnouncementButtons(base, tc.details, tc.mute)
			checkSafe(t, m)
			if got := buttonsOf(m); strings.Join(got, "\n") != strings.Join(tc.buttons, "\n") {
				t.Errorf("buttons = %.60q, want %.60q", got, tc.buttons)
			}
			if got := buttonLabels(m); strings.Join(got, ",") != strings.Join(tc.labels, ",") {
				t.Errorf("labels = %q, want %q", got, tc.labels)
			}
			wantBlocks := len(base.Blocks)
			if tc.buttons != nil {
				wantBlocks++
				if _, ok := m.Blocks[len(m.Blocks)-1].(*slack.ActionBlock); !ok {
					t.Errorf("last block %T, want the actions", m.Blocks[len(m.Blocks)-1])
				}
			}
			if len(m.Blocks) != wantBlocks {
				t.Errorf("%d blocks, want %d", len(m.Blocks), wantBlocks)
			}
			if m.Text != base.Text {
				t.Errorf("Text = %q, want the announcement's %q", m.Text, base.Text)
			}
		})
	}
}

func TestWithAnnouncementButtonsLeavesItsArgumentAlone(t *testing.T) {
	base := RenderAnnouncement(tasks.EventPaused, tasks.Started, snap(fixtureTask(t, fxPaused)), renderNow)
	base.Blocks = append(make([]slack.Block, 0, 10), base.Blocks...) // room to append in place
	a := WithAnnouncementButtons(base, "a", "")
	b := WithAnnouncementButtons(base, "b", "")
	if got := buttonsOf(a); len(got) != 1 || got[0] != "task_details=a" {
		t.Errorf("first message's buttons = %q, want its own", got)
	}
	if got := buttonsOf(b); len(got) != 1 || got[0] != "task_details=b" {
		t.Errorf("second message's buttons = %q", got)
	}
	if len(buttonsOf(base)) != 0 {
		t.Errorf("the argument got buttons")
	}

	full := Message{Text: "t"}
	for range MaxBlocks {
		full.Blocks = append(full.Blocks, mrkdwnSection("x"))
	}
	if m := WithAnnouncementButtons(full, "d", "m"); len(m.Blocks) != MaxBlocks || CheckLimits(m) != nil {
		t.Errorf("a full message got %d blocks: %v", len(m.Blocks), CheckLimits(m))
	}
}
