package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"slices"
	"strings"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// A scope (`/tasks scope tenant:NAME…`) limits a channel shared with a customer to the
// customer's tenants: every listing, show, button, subscription and mute in it. People of another
// Slack organization (Slack Connect) are answered only in such a channel, within its scope, and
// never change settings (DESIGN.md, "Slash command /tasks").

// changes reports whether cmd changes settings: the verbs TASKBOT_ADMINS guards, which people of
// another organization may never use.
func changes(cmd Command) bool {
	switch cmd.Verb {
	case Subscribe, Unsubscribe, Mute, Unmute:
		return true
	case Scope:
		return len(cmd.Tenants) > 0 || cmd.All
	}
	return false
}

// Refusals of people of another Slack organization: short, and the same whatever they asked.
const (
	refuseExternal        = ":no_entry: taskbot answers people from other organizations only in a channel set up for them. Ask the channel's hosts."
	refuseExternalChanges = ":no_entry: People from other organizations cannot change taskbot's subscriptions, mutes or scopes."
)

// admit decides whether user may run cmd in channel, and returns the channel's scope (no
// Tenants: none). team is the user's team as the payload gave it ("" for a slash command).
//
// The scope is read first; who the user is matters only in a channel without one, or for a
// change: there taskbot asks Slack (AnswererConfig.External) and, when Slack cannot tell,
// refuses — a leak to another organization costs more than a retry.
func (a *Answerer) admit(ctx context.Context, channel, user, team string, cmd Command) (announce.Scope, Message, bool) {
	var sc announce.Scope
	if a.cfg.Settings != nil && channel != "" {
		got, found, err := a.cfg.Settings.Scope(channel)
		if err != nil {
			return sc, a.settingsError("read this channel's scope", err), false
		}
		if found {
			sc = got
		}
	}
	scoped := len(sc.Tenants) > 0
	if scoped && !changes(cmd) {
		// Anyone may ask here, a customer too: each person's requests are metered, so that no
		// one can load the partner's Task Manager API (a tenant listing pages through 2,000
		// tasks) and slow the polls of every customer.
		if wait, ok := a.meter.allow(user, a.cfg.Now()); !ok {
			a.count("rate_limited")
			return sc, textMessage(fmt.Sprintf(":hourglass: That was many requests in a short time; try again in %s.", humanDuration(wait.Round(time.Second)+time.Second))), false
		}
	}
	if a.cfg.External == nil || scoped && !changes(cmd) {
		return sc, Message{}, true
	}
	external, err := a.cfg.External(ctx, user, team)
	if err != nil {
		a.cfg.Logger.Warn("could not tell which Slack organization a user belongs to; refused", "user", user, "channel", channel, "err", err)
		// A hint is a fix for taskbot's operators (a missing scope): waiting will not help.
		text := ":warning: taskbot could not check with Slack which organization you belong to, so it answers nothing for now; try again in a minute."
		if hint := slackHint(err); hint != "" {
			text = ":warning: taskbot cannot check with Slack which organization you belong to, so it answers nothing here until its operators fix this: " + escapeEntities(hint) + "."
		}
		return sc, textMessage(text), false
	}
	switch {
	case external && changes(cmd):
		a.count("refused_external")
		a.cfg.Logger.Info("refused a change by a user of another organization", "user", user, "channel", channel, "command", cmd.String())
		return sc, textMessage(refuseExternalChanges), false
	case external && !scoped:
		a.count("refused_external")
		a.cfg.Logger.Info("refused a user of another organization in a channel without a scope", "user", user, "channel", channel)
		return sc, textMessage(refuseExternal), false
	}
	return sc, Message{}, true
}

// Each person's requests in scoped channels: scopedBurst at once, then one per scopedEvery.
const (
	scopedBurst = 20
	scopedEvery = 3 * time.Second
)

// meter keeps a token bucket (golang.org/x/time/rate) per person who asks in a scoped channel.
// A bucket unused for an hour is full again and is dropped when the map grows past
// meterPeople; a plain map rather than a cache with a clean-up goroutine, so that an Answerer
// starts none.
type meter struct {
	mu       sync.Mutex
	limiters map[string]*metered
}

type metered struct {
	limiter *rate.Limiter
	last    time.Time
}

const meterPeople = 10_000

// allow takes one request of user's at now; when there is none left it returns how long until
// the next.
func (m *meter) allow(user string, now time.Time) (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.limiters == nil {
		m.limiters = map[string]*metered{}
	}
	l, ok := m.limiters[user]
	if !ok {
		if len(m.limiters) >= meterPeople {
			for k, v := range m.limiters {
				if now.Sub(v.last) > time.Hour {
					delete(m.limiters, k)
				}
			}
		}
		l = &metered{limiter: rate.NewLimiter(rate.Every(scopedEvery), scopedBurst)}
		if len(m.limiters) < meterPeople {
			m.limiters[user] = l
		}
	}
	l.last = now
	r := l.limiter.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// slackHint is the fix an error from the Slack Web API carries (ClassifySlackError), or "".
func slackHint(err error) string {
	if de, ok := errors.AsType[*announce.DeliveryError](err); ok {
		return de.Hint
	}
	return ""
}

// inScope reports whether the tenant word w (a tenant: word as typed) names one of the scope's
// tenants (Scope.Names).
func inScope(sc announce.Scope, w string) bool { return sc.Names(w) }

// taskInScope reports whether t may be shown in a channel with scope sc (none: every task).
func taskInScope(sc announce.Scope, t *tasks.Task) bool {
	if len(sc.Tenants) == 0 {
		return true
	}
	return t.Tenant != nil && sc.Allows(t.Tenant.ID, t.Tenant.Name)
}

// outsideScope is the answer to tenant: words beyond a channel's scope: "This channel is scoped
// to Acme Corp: " and what, in which %s stands for "that tenant's" ("those tenants'"). It names
// the channel's own tenants only, never whether the others exist.
func outsideScope(sc announce.Scope, what string) Message {
	return textMessage(":no_entry: This channel is scoped to " + tenantWords(sc.Display()) + ": " + fmt.Sprintf(what, tenantsOf(sc)) + ".")
}

// tenantsOf is "that tenant's", or "those tenants'" for a scope of several.
func tenantsOf(sc announce.Scope) string {
	if len(sc.Tenants) == 1 {
		return "that tenant's"
	}
	return "those tenants'"
}

// scopeList refuses a listing whose tenant: words go beyond the scope (ok false, with the
// refusal); the listing itself keeps only the tasks the scope allows (fetch).
func scopeList(sc announce.Scope, cmd Command) (Message, bool) {
	for _, w := range cmd.Tenants {
		if len(sc.Tenants) > 0 && !inScope(sc, w) {
			return outsideScope(sc, "it lists only %s tasks"), false
		}
	}
	return Message{}, true
}

// showScope answers `/tasks scope`.
func (a *Answerer) showScope(sc announce.Scope) Message {
	if len(sc.Tenants) == 0 {
		return textMessage("This channel has no scope: it shows every tenant. `/tasks scope tenant:NAME` limits it to a customer's tenants, for a channel shared with that customer.")
	}
	text := fmt.Sprintf("This channel is scoped to %s: its listings, tasks, buttons, announcements and mutes show only %s tasks, and people from other organizations may use /tasks here within it.",
		tenantWords(sc.Tenants), tenantsOf(sc))
	if sc.By != "" {
		text += fmt.Sprintf(" Set by %s, %s.", who(sc.By), slackDate(sc.At))
	}
	return textMessage(text + " `/tasks scope all` removes it.")
}

// setScope answers `/tasks scope tenant:NAME…` and `/tasks scope all`, confirmed in the channel.
// Each word is first resolved to the tenant it names among the API's recent tasks, so that the
// scope holds that tenant by ID (announce.Scope.Resolved): a word naming several tenants is
// refused with their IDs; one naming none is refused unless it is a tenant id, which is kept and
// matched by id only, with a warning. SLACK_CHANNEL, which gets every tenant's announcements,
// cannot be scoped. Setting the scope
// narrows the channel's subscriptions to it (state.Store.SetScope); the confirmation says how.
func (a *Answerer) setScope(ctx context.Context, req Request, cmd Command) Message {
	prev, hadPrev, err := a.cfg.Settings.Scope(req.Channel)
	if err != nil {
		return a.settingsError("read this channel's scope", err)
	}
	if cmd.All {
		had, err := a.cfg.Settings.ClearScope(req.Channel)
		if err != nil {
			return a.settingsError("remove the scope", err)
		}
		if !had {
			return textMessage("This channel has no scope: it already shows every tenant.")
		}
		a.cfg.Logger.Info("removed a channel's scope", "channel", req.Channel, "user", req.User, "was", prev.Tenants)
		return confirm(fmt.Sprintf("%s removed this channel's scope (%s): it shows every tenant again, and people from other organizations can no longer use /tasks here. Its subscriptions stay as they were: `/tasks subscriptions` lists them.",
			who(req.User), tenantWords(prev.Display())))
	}
	if a.cfg.Channel != "" && req.Channel == a.cfg.Channel {
		return textMessage(":no_entry: This is taskbot's announcement channel (SLACK_CHANNEL): it gets every tenant's announcements, so it cannot be scoped. Share another channel with the customer and scope that one.")
	}
	resolved, unknown, m, ok := a.resolveTenants(ctx, cmd.Tenants)
	if !ok {
		return m
	}
	words := cmd.Tenants
	if len(resolved) > 0 { // a tenant named twice (by name and by id) is in the scope once
		seen := map[string]bool{}
		words = slices.DeleteFunc(slices.Clone(words), func(w string) bool {
			for _, r := range resolved {
				if r.Word == w {
					dup := seen[r.ID]
					seen[r.ID] = true
					return dup
				}
			}
			return false
		})
	}
	sc := announce.Scope{Channel: req.Channel, Tenants: words, Resolved: resolved, By: req.User, At: a.cfg.Now()}
	change, err := a.cfg.Settings.SetScope(sc)
	removed, added := change.Removed, change.Added
	if err != nil {
		return a.settingsError("store the scope", err)
	}
	a.cfg.Logger.Info("scoped a channel", "channel", req.Channel, "user", req.User, "tenants", cmd.Tenants, "resolved", resolved,
		"subscriptions_removed", len(removed), "subscriptions_added", len(added),
		"queued_dropped", change.Dropped, "queued_summaries_narrowed", change.Narrowed)
	text := fmt.Sprintf("%s scoped this channel to %s", who(req.User), tenantWords(sc.Display()))
	if hadPrev {
		text += fmt.Sprintf(" (it was scoped to %s)", tenantWords(prev.Display()))
	}
	text += fmt.Sprintf(": from now on its listings, tasks, buttons, announcements and mutes show only %s tasks. People from other organizations may use /tasks here, within the scope.", tenantsOf(sc))
	narrowed := 0
	for _, r := range removed {
		if r.Tenant == "" {
			narrowed++
		}
	}
	if n := len(removed) - narrowed; n > 0 {
		text += fmt.Sprintf(" %d %s of this channel for other tenants %s removed.", n, plural(n, "subscription", "subscriptions"), plural(n, "was", "were"))
	}
	if narrowed > 0 {
		text += fmt.Sprintf(" Its subscription for all tenants now covers only %s.", tenantWords(subscriptionTenants(added)))
	}
	if n := change.Dropped + change.Narrowed; n > 0 {
		text += fmt.Sprintf(" %d queued %s about other tenants %s withdrawn unsent.", n, plural(n, "announcement", "announcements"), plural(n, "was", "were"))
	}
	if len(unknown) > 0 {
		text += fmt.Sprintf(" :warning: No recent task belongs to the tenant with id %s yet: its tasks show here once it has some; check the id if none do.",
			tenantWords(unknown))
	}
	return confirm(text)
}

func subscriptionTenants(subs []announce.Subscription) []string {
	var out []string
	for _, s := range subs {
		out = append(out, s.Tenant)
	}
	return out
}

// resolveTenants finds the tenant each word names (tasks.TenantIs: its ID, or its name in any
// case) among the tenants of the tenantMaxTasks most recently updated tasks. A word naming
// several tenants is refused (ok false, m says which IDs to choose from); one naming none is
// returned in unknown. An API failure refuses too: a scope is set only on what is known.
func (a *Answerer) resolveTenants(ctx context.Context, words []string) (resolved []announce.ScopeTenant, unknown []string, m Message, ok bool) {
	res, err := a.cfg.API.List(ctx, tasks.Query{Order: tasks.Order{Field: "updatedAt", Desc: true}, Limit: commandPageSize, MaxTasks: tenantMaxTasks})
	if err != nil {
		a.cfg.Logger.Warn("could not look up tenants for a scope", "err", err, "fix", tasks.Fix(err))
		return nil, nil, textMessage(":warning: The scope was not set: taskbot looks its tenants up in the Task Manager first, and " + apiWhy(err) + "."), false
	}
	seen := map[string]tasks.Tenant{}
	for i := range res.Tasks {
		if t := res.Tasks[i].Tenant; t != nil && t.ID != "" {
			seen[t.ID] = *t
		}
	}
	for _, w := range words {
		var found []tasks.Tenant
		for _, t := range seen {
			if tasks.TenantIs(w, t.ID, t.Name) {
				found = append(found, t)
			}
		}
		switch {
		case len(found) == 0 && !tasks.LooksLikeTenantID(w):
			// Kept as typed, a name could later match a tenant other than the customer's (a
			// new tenant of that name, or one whose id is that word): refuse, fail closed.
			return nil, nil, textMessage(fmt.Sprintf(":no_entry: The scope was not set: no recent task belongs to a tenant named %s, so taskbot cannot tell which tenant that is. Scope by the tenant's id (the Acronis console shows it under Company Management), or set the scope once the tenant has a task.",
				Escape(w))), false
		case len(found) == 0:
			unknown = append(unknown, w)
		case len(found) == 1:
			resolved = append(resolved, announce.ScopeTenant{Word: w, ID: found[0].ID, Name: found[0].Name})
		default:
			slices.SortFunc(found, func(x, y tasks.Tenant) int { return strings.Compare(x.ID, y.ID) })
			var ids []string
			for _, t := range found {
				ids = append(ids, fmt.Sprintf("%s (id %s)", Escape(t.Name), Escape(t.ID)))
			}
			return nil, nil, textMessage(fmt.Sprintf(":no_entry: %s names %d tenants: %s. Scope by id, e.g. `/tasks scope tenant:%s`.",
				Escape(w), len(found), strings.Join(ids, ", "), Escape(found[0].ID))), false
		}
	}
	return resolved, unknown, Message{}, true
}

// visibleMute reports whether mute m may be listed or ended in a channel with scope sc: in a
// scoped channel, the mutes of its tenants and of their tasks (whose tenant was looked up when
// they were made). Plan mutes, whose names are shared by every tenant, are not shown there.
func visibleMute(sc announce.Scope, m announce.Mute) bool {
	switch {
	case len(sc.Tenants) == 0:
		return true
	case m.Kind == announce.MuteTenant:
		return inScope(sc, m.Value)
	case m.Kind == announce.MuteTask:
		return (m.TenantID != "" || m.TenantName != "") && sc.Allows(m.TenantID, m.TenantName)
	}
	return false
}
