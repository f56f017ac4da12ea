package bot

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

var digestNow = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

// TestRenderStuck: a stuck announcement says how long the task has been in its state and
// since when, with its blockers for a paused task, and a fallback text that says it too.
func TestRenderStuck(t *testing.T) {
	snap := tasks.Snapshot{Key: "k", ID: "944455285181775872", Title: "Backup of SQL-01", State: tasks.Paused,
		TenantName: "Acme Corp", Machine: "SQL-01", Plan: "Nightly",
		Blockers: []tasks.SnapshotBlocker{{Issue: "Insert the next tape", Solutions: []string{"Retry", "Cancel"}}},
		Since:    digestNow.Add(-3*time.Hour - 12*time.Minute)}
	m := RenderAnnouncement(tasks.EventStuck, tasks.Paused, snap, digestNow)
	if err := CheckLimits(m); err != nil {
		t.Fatal(err)
	}
	text := PlainText(m)
	t.Logf("rendered stuck announcement:\n%s", text)
	for _, w := range []string{"Stuck", "Backup of SQL-01", "paused for 3h 12m", "Insert the next tape", "Retry", "Acme Corp", "SQL-01", "paused since"} {
		if !strings.Contains(text, w) {
			t.Errorf("stuck announcement lacks %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "→") {
		t.Errorf("a stuck announcement shows a transition:\n%s", text)
	}
	if want := "Task stuck: Backup of SQL-01 (Acme Corp) — paused for 3h 12m"; m.Text != want {
		t.Errorf("fallback %q, want %q", m.Text, want)
	}
}

// TestRenderDigest: a digest names the totals and each tenant's failures and stuck tasks; a
// quiet day says so.
func TestRenderDigest(t *testing.T) {
	d := &announce.Digest{Date: "2026-12-01", Zone: "Europe/Berlin", From: digestNow.Add(-24 * time.Hour), To: digestNow,
		Failed: 4, Paused: 2, Stuck: 1, Muted: 3, Tenants: []announce.DigestTenant{
			{ID: "1001", Name: "Acme Corp", Failed: 4, Paused: 1, Stuck: 1,
				FailedFirst: []announce.DigestTask{{Title: "Backup of SQL-01"}, {Title: "Backup of FS-02"}, {Title: "Backup of <!channel>"}},
				StuckFirst:  []announce.DigestTask{{Title: "Replication", State: tasks.Paused, Since: digestNow.Add(-5 * time.Hour)}}},
			{ID: "2002", Name: "Beta Ltd", Paused: 1},
		}}
	m := RenderDigest(d, digestNow)
	if err := CheckLimits(m); err != nil {
		t.Fatal(err)
	}
	text := PlainText(m)
	t.Logf("rendered digest:\n%s", text)
	for _, w := range []string{"Daily digest", "Tue 1 Dec 2026", "*4 failed* since the last digest", "now *1 stuck*, *2 paused*", "3 announcements muted",
		"Acme Corp", "Backup of SQL-01", "and 1 more", "Replication (paused for 5h)", "Beta Ltd"} {
		if !strings.Contains(text, w) {
			t.Errorf("digest lacks %q:\n%s", w, text)
		}
	}
	if raw, _ := json.Marshal(m); strings.Contains(string(raw), "<!channel>") {
		t.Errorf("a title reached the digest unescaped: %s", raw)
	}
	quiet := RenderDigest(&announce.Digest{Date: "2026-12-01", Zone: "UTC", From: digestNow.Add(-24 * time.Hour), To: digestNow}, digestNow)
	if m.Text != "Daily digest 2026-12-01: 4 failed, 1 stuck, 2 paused, 3 muted" {
		t.Errorf("fallback text %q", m.Text)
	}
	if q := PlainText(quiet); !strings.Contains(q, "No failures since the last digest; nothing paused or stuck now") || strings.Contains(q, "*0 ") {
		t.Errorf("quiet digest:\n%s", q)
	}
}

// TestRenderDigestOf500Tenants: a digest of 500 tenants, each with failures and stuck tasks
// with long titles, stays within Block Kit's limits and Slack's undocumented total; the tenants
// that do not fit are summed up, so no failure goes uncounted.
func TestRenderDigestOf500Tenants(t *testing.T) {
	d := &announce.Digest{Date: "2026-12-01", Zone: "UTC", From: digestNow.Add(-24 * time.Hour), To: digestNow}
	long := strings.Repeat("Very long backup plan name ", 10)
	for i := range 500 {
		tn := announce.DigestTenant{ID: fmt.Sprint(1000 + i), Name: fmt.Sprintf("Customer %03d %s", i, strings.Repeat("x", 80)), Failed: 500 - i, Paused: 2, Stuck: 1}
		for j := range 3 {
			tn.FailedFirst = append(tn.FailedFirst, announce.DigestTask{Title: fmt.Sprintf("%s %d", long, j)})
		}
		tn.StuckFirst = []announce.DigestTask{{Title: long, State: tasks.Paused, Since: digestNow.Add(-time.Hour)}}
		d.Tenants = append(d.Tenants, tn)
		d.Failed, d.Paused, d.Stuck = d.Failed+tn.Failed, d.Paused+tn.Paused, d.Stuck+tn.Stuck
	}
	m := RenderDigest(d, digestNow)
	if err := CheckLimits(m); err != nil {
		t.Fatalf("500 tenants: %v", err)
	}
	if n := blocksChars(m); n > maxBlocksChars {
		t.Errorf("500 tenants: %d characters of blocks, Slack refuses more than about %d", n, maxBlocksChars)
	}
	text := PlainText(m)
	shown := strings.Count(text, "Customer ")
	var restFailed int
	for _, tn := range d.Tenants[shown:] {
		restFailed += tn.Failed
	}
	want := fmt.Sprintf("…and %d more tenants: %d failed, %d paused, %d stuck", 500-shown, restFailed, 2*(500-shown), 500-shown)
	if shown == 0 || !strings.Contains(text, want) {
		t.Errorf("500 tenants: %d shown, want the rest summed up as %q:\n%s", shown, want, text[len(text)-400:])
	}
	if !strings.Contains(text, fmt.Sprintf("*%d failed*", d.Failed)) {
		t.Errorf("the headline does not count every failure (%d)", d.Failed)
	}
	t.Logf("500 tenants: %d listed in %d blocks, %d characters", shown, len(m.Blocks), blocksChars(m))
}
