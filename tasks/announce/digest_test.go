package announce_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/state"
	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestDigestTimeAcrossDaylightSaving: one digest time per local date, at the same local time,
// on the days the clocks go forward (23-hour day) and back (25-hour day); a time the clocks
// skip happens once, later, and a time they repeat happens once.
func TestDigestTimeAcrossDaylightSaving(t *testing.T) {
	loc := berlin(t)
	for _, tc := range []struct {
		at        string
		from      time.Time
		wantLocal []string
	}{
		{"09:00 Europe/Berlin", time.Date(2026, 3, 27, 9, 0, 0, 0, loc), []string{
			"2026-03-28 09:00 CET", "2026-03-29 09:00 CEST", "2026-03-30 09:00 CEST"}},
		{"09:00 Europe/Berlin", time.Date(2026, 10, 24, 9, 0, 0, 0, loc), []string{
			"2026-10-25 09:00 CET", "2026-10-26 09:00 CET"}},
		// 02:30 does not exist on 29 March: that day's digest is at 03:30, once.
		{"02:30 Europe/Berlin", time.Date(2026, 3, 28, 2, 30, 0, 0, loc), []string{
			"2026-03-29 03:30 CEST", "2026-03-30 02:30 CEST"}},
		// 02:30 happens twice on 25 October: one digest (time.Date picks the second, CET).
		{"02:30 Europe/Berlin", time.Date(2026, 10, 24, 2, 30, 0, 0, loc), []string{
			"2026-10-25 02:30 CET", "2026-10-26 02:30 CET"}},
	} {
		at, err := announce.ParseDigestTime(tc.at)
		if err != nil {
			t.Fatal(err)
		}
		now := tc.from
		var got []string
		for range tc.wantLocal {
			now = at.Next(now)
			got = append(got, now.In(loc).Format("2006-01-02 15:04 MST"))
			if _, date := at.Latest(now); date != now.In(loc).Format(time.DateOnly) {
				t.Errorf("%s: Latest(%v) is dated %s", tc.at, now, date)
			}
		}
		if strings.Join(got, ", ") != strings.Join(tc.wantLocal, ", ") {
			t.Errorf("%s from %v: %q, want %q", tc.at, tc.from, got, tc.wantLocal)
		}
	}
}

func TestParseDigestTime(t *testing.T) {
	for v, want := range map[string]string{"09:00": "09:00 UTC", " 7:05  America/New_York ": "07:05 America/New_York", "23:59 UTC": "23:59 UTC"} {
		at, err := announce.ParseDigestTime(v)
		if err != nil || at.String() != want {
			t.Errorf("ParseDigestTime(%q) = %v, %v; want %s", v, at, err, want)
		}
	}
	for _, v := range []string{"", "9", "24:00", "09:60", "09:0", "9am", "09:00 Mars/Olympus", "09:00 Local", "09:00 Europe/Berlin extra"} {
		if _, err := announce.ParseDigestTime(v); err == nil {
			t.Errorf("ParseDigestTime(%q) accepted", v)
		}
	}
}

// digestRig is a Digester over a real state file, with a clock the test sets.
type digestRig struct {
	t     *testing.T
	store *state.Store
	clock time.Time
	at    announce.DigestTime
}

func newDigestRig(t *testing.T, at string) *digestRig {
	dt, err := announce.ParseDigestTime(at)
	if err != nil {
		t.Fatal(err)
	}
	r := &digestRig{t: t, at: dt}
	r.store, err = state.Open(filepath.Join(t.TempDir(), "taskbot.db"), state.Options{Logger: discardLogger(), Now: func() time.Time { return r.clock }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.store.Close() })
	return r
}

// tick runs one step of a new Digester (as after a restart) at local time s (2006-01-02
// 15:04 in the rig's zone) and returns the dates of the digests queued so far.
func (r *digestRig) tick(s string) []string {
	r.t.Helper()
	now, err := time.ParseInLocation("2006-01-02 15:04", s, r.at.Loc)
	if err != nil {
		r.t.Fatal(err)
	}
	r.clock = now
	g := announce.NewDigester(announce.DigesterConfig{Store: r.store, Channel: "C1", At: r.at, Logger: discardLogger(), Now: func() time.Time { return r.clock }})
	if _, err := g.Tick(); err != nil {
		r.t.Fatal(err)
	}
	p, err := r.store.Pending("C1", 0)
	if err != nil {
		r.t.Fatal(err)
	}
	var dates []string
	for _, e := range p {
		if e.Digest != nil {
			dates = append(dates, e.Digest.Date)
		}
	}
	return dates
}

// TestDigesterOncePerDay: the first start records the day without a digest; the digest comes
// at its time (also on the day the clocks go forward), once, whatever restarts follow; after
// downtime over several digest times, one digest, of the latest day, when taskbot starts.
func TestDigesterOncePerDay(t *testing.T) {
	r := newDigestRig(t, "09:00 Europe/Berlin")
	steps := []struct{ at, want string }{
		{"2026-03-28 15:00", ""},                      // first start: no digest of a day taskbot did not watch
		{"2026-03-29 08:59", ""},                      // not yet
		{"2026-03-29 09:00", "2026-03-29"},            // on the day the clocks go forward
		{"2026-03-29 09:00", "2026-03-29"},            // a restart right after it: not again
		{"2026-03-29 23:00", "2026-03-29"},            // nor later that day
		{"2026-04-01 14:00", "2026-03-29,2026-04-01"}, // down since the 29th: the latest missed, once
		{"2026-04-01 14:01", "2026-03-29,2026-04-01"},
		{"2026-04-02 09:00", "2026-03-29,2026-04-01,2026-04-02"},
	}
	for _, s := range steps {
		if got := strings.Join(r.tick(s.at), ","); got != s.want {
			t.Errorf("at %s: digests %q, want %q", s.at, got, s.want)
		}
	}
}

// TestDigestsPerChannel: SLACK_CHANNEL's digest covers every tenant; a subscribed channel's,
// the tenants of its subscriptions; a scoped channel's, only its scope (whatever it subscribed
// to). Failures of the last 24 hours only; paused and stuck tasks as of now; muted counts per
// channel. Everything comes from what the poller recorded.
func TestDigestsPerChannel(t *testing.T) {
	r := newStuckRig(t, announce.Rules{Channel: "C1", Announce: mustSet(t, "paused", "failed", "stuck"), NoThreads: true,
		Stuck: tasks.StuckLimits{tasks.Paused: time.Hour}})
	for _, sub := range []announce.Subscription{
		{Channel: "CACME", Tenant: "Acme Corp", Events: []string{"failed"}},
		{Channel: "CSHARED", Events: []string{"failed"}},
	} {
		if _, err := r.store.Subscribe(sub); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.store.SetScope(announce.Scope{Channel: "CSHARED", Tenants: []string{"Beta Ltd"},
		Resolved: []announce.ScopeTenant{{Word: "Beta Ltd", ID: "2002", Name: "Beta Ltd"}}}); err != nil {
		t.Fatal(err)
	}
	failed := func(key, id, name string, at time.Duration) tasks.Task {
		tk := tenantTask(key, id, name, "", tasks.Completed, tasks.ResultError, 0)
		tk.UpdatedAt = t0.Add(at)
		return tk
	}
	r.poll(true)
	r.at(time.Minute).poll(false, failed("old", "1001", "Acme Corp", time.Minute)) // more than 24 hours before the digest
	if _, _, _, err := r.store.AddMute(announce.Mute{Kind: announce.MuteTask, Value: "muted", Until: t0.Add(48 * time.Hour), By: "U1", Channel: "C1", At: t0}); err != nil {
		t.Fatal(err)
	}
	r.at(20*time.Hour).poll(false,
		failed("a1", "1001", "Acme Corp", 20*time.Hour), failed("a2", "1001", "Acme Corp", 20*time.Hour),
		failed("b1", "2002", "Beta Ltd", 20*time.Hour), failed("muted", "2002", "Beta Ltd", 20*time.Hour),
		pausedTask("p1", 20*time.Hour)) // Acme, paused
	r.at(26 * time.Hour).poll(false) // p1 stuck
	from := r.clock.Add(-24 * time.Hour)
	data, err := r.store.DigestData(from)
	if err != nil {
		t.Fatal(err)
	}
	byChannel := map[string]*announce.Digest{}
	for _, e := range announce.Digests(data, "C1", "2026-12-01", time.UTC, from, r.clock, r.clock) {
		byChannel[e.Channel] = e.Digest
	}
	line := func(d *announce.Digest) string {
		if d == nil {
			return "none"
		}
		var out []string
		for _, tn := range d.Tenants {
			out = append(out, tn.Label()+":"+fmt.Sprintf("%d/%d/%d", tn.Failed, tn.Paused, tn.Stuck))
		}
		return strings.Join(out, " ") + fmt.Sprintf(" muted=%d", d.Muted)
	}
	for ch, want := range map[string]string{
		"C1":      "Acme Corp:2/0/1 Beta Ltd:2/0/0 muted=1",
		"CACME":   "Acme Corp:2/0/1 muted=0",
		"CSHARED": "Beta Ltd:2/0/0 muted=1",
	} {
		if got := line(byChannel[ch]); got != want {
			t.Errorf("%s digest: %s, want %s (tenant:failed/paused/stuck)", ch, got, want)
		}
	}
}

// TestDigestWindowsTile: each digest counts from the previous digest time to its own, so
// consecutive digests neither overlap nor leave a gap: not across the nights the clocks change
// (23 and 25 hours), and not after downtime (a late digest ends at its time, not at the
// restart).
func TestDigestWindowsTile(t *testing.T) {
	r := newDigestRig(t, "09:00 Europe/Berlin")
	for _, at := range []string{"2026-03-27 10:00", "2026-03-28 09:00", "2026-03-29 09:00", "2026-03-30 09:00",
		"2026-04-01 14:00", "2026-04-02 09:00", "2026-10-24 09:00", "2026-10-25 09:00", "2026-10-26 09:00"} {
		r.tick(at)
	}
	p, _ := r.store.Pending("C1", 0)
	var got []string
	for _, e := range p {
		d := e.Digest
		got = append(got, fmt.Sprintf("%s %s→%s %s", d.Date, d.From.In(r.at.Loc).Format("01-02 15:04"), d.To.In(r.at.Loc).Format("01-02 15:04"), d.To.Sub(d.From)))
	}
	want := []string{
		"2026-03-28 03-27 09:00→03-28 09:00 24h0m0s",
		"2026-03-29 03-28 09:00→03-29 09:00 23h0m0s", // the clocks go forward
		"2026-03-30 03-29 09:00→03-30 09:00 24h0m0s",
		"2026-04-01 03-31 09:00→04-01 09:00 24h0m0s", // late (14:00), ends at 09:00
		"2026-04-02 04-01 09:00→04-02 09:00 24h0m0s",
		"2026-10-24 10-23 09:00→10-24 09:00 24h0m0s", // (after months of downtime: one day)
		"2026-10-25 10-24 09:00→10-25 09:00 25h0m0s", // the clocks go back
		"2026-10-26 10-25 09:00→10-26 09:00 24h0m0s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("digest windows:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
