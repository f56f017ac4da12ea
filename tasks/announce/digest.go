package announce

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// digestFirst is how many titles a digest names per tenant and kind.
const digestFirst = 3

// Digest is the daily summary of one channel (TASKBOT_DIGEST_AT), queued as an outbox entry:
// failures since the previous digest per tenant, tasks paused or stuck now, and how many
// announcements a mute silenced in the channel.
type Digest struct {
	// Date is the local date of the digest (YYYY-MM-DD in Zone), Zone its IANA name.
	Date string `json:"date"`
	Zone string `json:"zone"`
	// From and To bound the window of Failed and Muted: the previous digest time and this one.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Tenants with failures, paused or stuck tasks: most failures first, then most stuck,
	// most paused, by name.
	Tenants []DigestTenant `json:"tenants,omitempty"`
	// Totals over every tenant. Paused counts the paused tasks that are not stuck; Stuck every
	// stuck task, paused or not.
	Failed int `json:"failed"`
	Paused int `json:"paused"`
	Stuck  int `json:"stuck"`
	// Muted counts the announcements for this channel a mute silenced in the window.
	Muted int `json:"muted"`
}

// DigestTenant is one tenant's line of a digest.
type DigestTenant struct {
	ID     string `json:"id,omitempty"`
	Name   string `json:"name,omitempty"`
	Failed int    `json:"failed,omitempty"`
	Paused int    `json:"paused,omitempty"`
	Stuck  int    `json:"stuck,omitempty"`
	// FailedFirst and StuckFirst name the first few (digestFirst) failed tasks (latest first)
	// and stuck tasks (longest stuck first).
	FailedFirst []DigestTask `json:"failedFirst,omitempty"`
	StuckFirst  []DigestTask `json:"stuckFirst,omitempty"`
}

// Label is the tenant's name, else its ID, else "no tenant".
func (t DigestTenant) Label() string { return cmp.Or(t.Name, t.ID, "no tenant") }

// DigestTask names a task in a digest.
type DigestTask struct {
	Key   string      `json:"key"`
	ID    string      `json:"id,omitempty"`
	Title string      `json:"title,omitempty"`
	State tasks.State `json:"state,omitempty"`
	// Since is when a stuck task entered its state.
	Since time.Time `json:"since,omitzero"`
}

// DigestData is what the digests of one day are made from, all recorded by the poller as it
// went: the history of the window, the tasks in progress now, and where digests go.
type DigestData struct {
	History       []Record
	InProgress    []Seen
	Subscriptions []Subscription
	Scopes        []Scope
}

// Digests makes one digest for the default channel (every tenant) and one for each subscribed
// channel (the tenants of its subscriptions), each within the channel's scope: failures and
// muted announcements recorded from from to to (the previous digest time and this one, so
// consecutive digests neither overlap nor leave a gap, also across daylight-saving changes),
// tasks paused and stuck as of now. date and loc name the digest's day.
func Digests(data DigestData, channel, date string, loc *time.Location, from, to, now time.Time) []Entry {
	chans := []string{channel}
	tenantsOf := map[string][]string{channel: {""}} // "" is every tenant
	for _, s := range data.Subscriptions {
		if !slices.Contains(chans, s.Channel) {
			chans = append(chans, s.Channel)
		}
		tenantsOf[s.Channel] = append(tenantsOf[s.Channel], s.Tenant)
	}
	var out []Entry
	for _, ch := range chans {
		words := tenantsOf[ch]
		wants := func(id, name string) bool {
			if !scopeAllowsTenant(data.Scopes, ch, id, name) {
				return false
			}
			for _, w := range words {
				if w == "" || tasks.TenantIs(w, id, name) {
					return true
				}
			}
			return false
		}
		d := buildDigest(data, ch, wants, from, to)
		d.Date, d.Zone = date, loc.String()
		out = append(out, Entry{Channel: ch, QueuedAt: now, Digest: &d})
	}
	return out
}

// buildDigest is the digest of channel for the tenants wants accepts.
func buildDigest(data DigestData, channel string, wants func(id, name string) bool, from, to time.Time) Digest {
	d := Digest{From: from, To: to}
	byTenant := map[string]*DigestTenant{}
	tenant := func(id, name string) *DigestTenant {
		k := cmp.Or(id, "name:"+strings.ToLower(name))
		t, ok := byTenant[k]
		if !ok {
			t = &DigestTenant{ID: id, Name: name}
			byTenant[k] = t
		}
		return t
	}
	hist := slices.Clone(data.History)
	slices.SortStableFunc(hist, func(a, b Record) int { return b.At.Compare(a.At) }) // latest first
	failed := map[string]bool{}
	for _, r := range hist {
		if r.At.Before(from) || !r.At.Before(to) || !wants(r.TenantID, r.TenantName) {
			continue
		}
		switch {
		case r.Muted:
			if r.Channel == channel {
				d.Muted++
			}
		case r.Event == tasks.EventFailed && !failed[r.Key+"\x00"+r.At.String()]:
			failed[r.Key+"\x00"+r.At.String()] = true
			t := tenant(r.TenantID, r.TenantName)
			t.Failed++
			d.Failed++
			if len(t.FailedFirst) < digestFirst {
				t.FailedFirst = append(t.FailedFirst, DigestTask{Key: r.Key, ID: r.ID, Title: r.Title})
			}
		}
	}
	prog := slices.Clone(data.InProgress)
	slices.SortStableFunc(prog, func(a, b Seen) int { return a.Since.Compare(b.Since) }) // longest first
	for _, s := range prog {
		if !s.MissingSince.IsZero() || !wants(s.TenantID, s.TenantName) {
			continue
		}
		stuck := s.Stuck > 0
		if s.State != tasks.Paused && !stuck {
			continue
		}
		t := tenant(s.TenantID, s.TenantName)
		if !stuck { // paused, not (yet) stuck: a stuck paused task is counted once, as stuck
			t.Paused++
			d.Paused++
		}
		if stuck {
			t.Stuck++
			d.Stuck++
			if len(t.StuckFirst) < digestFirst {
				t.StuckFirst = append(t.StuckFirst, DigestTask{Key: s.Key, ID: s.Key, Title: s.Title, State: s.State, Since: s.Since})
			}
		}
	}
	for _, t := range byTenant {
		d.Tenants = append(d.Tenants, *t)
	}
	slices.SortFunc(d.Tenants, func(a, b DigestTenant) int {
		return cmp.Or(b.Failed-a.Failed, b.Stuck-a.Stuck, b.Paused-a.Paused,
			strings.Compare(strings.ToLower(a.Label()), strings.ToLower(b.Label())), strings.Compare(a.ID, b.ID))
	})
	return d
}

// DigestTime is TASKBOT_DIGEST_AT: a time of day in a zone.
type DigestTime struct {
	Hour, Minute int
	Loc          *time.Location
}

// ParseDigestTime parses `HH:MM` with an optional IANA zone after a space (`09:00
// Europe/Berlin`; default UTC). The zone database is Go's (time/tzdata is embedded in the
// binary, so a container without one works).
func ParseDigestTime(v string) (DigestTime, error) {
	f := strings.Fields(v)
	if len(f) == 0 || len(f) > 2 {
		return DigestTime{}, fmt.Errorf("%q is not HH:MM with an optional zone, e.g. 09:00 Europe/Berlin", v)
	}
	h, m, ok := strings.Cut(f[0], ":")
	hour, err1 := strconv.Atoi(h)
	minute, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hour < 0 || hour > 23 || minute < 0 || minute > 59 {
		return DigestTime{}, fmt.Errorf("%q is not a time of day HH:MM from 00:00 to 23:59", f[0])
	}
	loc := time.UTC
	if len(f) == 2 {
		l, err := time.LoadLocation(f[1])
		if err != nil || f[1] == "Local" {
			return DigestTime{}, fmt.Errorf("%q is not an IANA time zone such as Europe/Berlin or America/New_York", f[1])
		}
		loc = l
	}
	return DigestTime{Hour: hour, Minute: minute, Loc: loc}, nil
}

// String is the time as ParseDigestTime reads it.
func (t DigestTime) String() string {
	return fmt.Sprintf("%02d:%02d %s", t.Hour, t.Minute, t.Loc)
}

// on is the digest time on the local date of day: time.Date normalises a time the clocks skip
// (02:30 on the night they go forward is 03:30) and picks one of a time they repeat, so each
// local date has exactly one digest time, whatever daylight saving does.
func (t DigestTime) on(day time.Time) time.Time {
	y, m, d := day.In(t.Loc).Date()
	return time.Date(y, m, d, t.Hour, t.Minute, 0, 0, t.Loc)
}

// Previous is the digest time of the local date before at's.
func (t DigestTime) Previous(at time.Time) time.Time {
	y, m, d := at.In(t.Loc).Date()
	return t.on(time.Date(y, m, d-1, 12, 0, 0, 0, t.Loc))
}

// Latest is the last digest time at or before now, and its local date (YYYY-MM-DD).
func (t DigestTime) Latest(now time.Time) (time.Time, string) {
	at := t.on(now)
	if at.After(now) {
		y, m, d := now.In(t.Loc).Date()
		at = t.on(time.Date(y, m, d-1, 12, 0, 0, 0, t.Loc))
	}
	return at, at.In(t.Loc).Format(time.DateOnly)
}

// Next is the first digest time after now.
func (t DigestTime) Next(now time.Time) time.Time {
	at := t.on(now)
	if !at.After(now) {
		y, m, d := now.In(t.Loc).Date()
		at = t.on(time.Date(y, m, d+1, 12, 0, 0, 0, t.Loc))
	}
	return at
}

// DigestStore is what the Digester needs of the state file (state.Store implements it).
type DigestStore interface {
	// LastDigest is the local date of the last digest queued ("" if none ever was).
	LastDigest() (string, error)
	// DigestData reads the history since a time and what else digests are made of.
	DigestData(since time.Time) (DigestData, error)
	// QueueDigest queues entries and records date as the last digest's, in one transaction,
	// unless date is not after the recorded one (then it queues nothing and returns false).
	// With no entries it only records date.
	QueueDigest(date string, entries []Entry) (bool, error)
}

// DigesterConfig configures a Digester; Store, Channel and At are required.
type DigesterConfig struct {
	Store   DigestStore
	Channel string // SLACK_CHANNEL
	At      DigestTime
	// OnQueued is called after digests were queued (the Announcer's Wake).
	OnQueued func()
	Logger   *slog.Logger // default slog.Default()
	Now      func() time.Time
}

// Digester queues the daily digests (TASKBOT_DIGEST_AT) through the outbox, so they are as
// crash-safe as announcements: the digests of a day and the record that they were made are
// written in one transaction. A digest missed while taskbot was down is queued once when it
// starts (only the latest day's); a restart never repeats one. On a state file that never had
// a digest, the first is the next digest time's: the history starts with taskbot.
type Digester struct{ cfg DigesterConfig }

// NewDigester returns a Digester for cfg with its defaults filled in.
func NewDigester(cfg DigesterConfig) *Digester {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Digester{cfg: cfg}
}

// maxDigestSleep bounds one wait for the digest time, so that a host clock that jumps (a
// suspended VM, an NTP step) delays a digest by at most this long.
const maxDigestSleep = 10 * time.Minute

// Run queues each day's digests at their time until ctx ends; a failure is logged and tried
// again a minute later.
func (g *Digester) Run(ctx context.Context) {
	for {
		wait, err := g.Tick()
		if err != nil {
			g.cfg.Logger.Error("could not make the daily digest; trying again in a minute", "err", err)
			wait = time.Minute
		}
		if sleep(ctx, nil, min(wait, maxDigestSleep)) != nil {
			return
		}
	}
}

// Tick queues the digests of the latest digest time if they were not queued yet, and returns
// how long until the next digest time.
func (g *Digester) Tick() (time.Duration, error) {
	now := g.cfg.Now()
	at, date := g.cfg.At.Latest(now)
	last, err := g.cfg.Store.LastDigest()
	if err != nil {
		return 0, err
	}
	switch {
	case last == "":
		if _, err := g.cfg.Store.QueueDigest(date, nil); err != nil {
			return 0, err
		}
		g.cfg.Logger.Info("daily digest on", "at", g.cfg.At.String(), "first", g.cfg.At.Next(now))
	case date > last:
		from := g.cfg.At.Previous(at)
		data, err := g.cfg.Store.DigestData(from)
		if err != nil {
			return 0, err
		}
		entries := Digests(data, g.cfg.Channel, date, g.cfg.At.Loc, from, at, now)
		queued, err := g.cfg.Store.QueueDigest(date, entries)
		if err != nil {
			return 0, err
		}
		if queued {
			late := now.Sub(at).Round(time.Second)
			g.cfg.Logger.Info("queued the daily digest", "date", date, "channels", len(entries), "late_by", late)
			if g.cfg.OnQueued != nil {
				g.cfg.OnQueued()
			}
		}
	}
	return g.cfg.At.Next(now).Sub(now), nil
}
