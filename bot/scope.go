package bot

import (
	"context"
	"errors"
	"fmt"
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
	if a.cfg.External == nil || scoped && !changes(cmd) {
		return sc, Message{}, true
	}
	external, err := a.cfg.External(ctx, user, team)
	if err != nil {
		a.cfg.Logger.Warn("could not tell which Slack organization a user belongs to; refused", "user", user, "channel", channel, "err", err)
		text := ":warning: taskbot could not check with Slack which organization you belong to, so it answers nothing for now; try again in a minute."
		if hint := slackHint(err); hint != "" {
			text += " (" + escapeEntities(hint) + ")"
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

// slackHint is the fix an error from the Slack Web API carries (ClassifySlackError), or "".
func slackHint(err error) string {
	if de, ok := errors.AsType[*announce.DeliveryError](err); ok {
		return de.Hint
	}
	return ""
}

// inScope reports whether the tenant word w (a tenant: word as typed) is one of the scope's
// tenants, compared as TenantIs compares names: ignoring case and surrounding space.
func inScope(sc announce.Scope, w string) bool {
	return slices.ContainsFunc(sc.Tenants, func(t string) bool {
		return strings.EqualFold(strings.TrimSpace(t), strings.TrimSpace(w))
	})
}

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
	return textMessage(":no_entry: This channel is scoped to " + tenantWords(sc.Tenants) + ": " + fmt.Sprintf(what, tenantsOf(sc)) + ".")
}

// tenantsOf is "that tenant's", or "those tenants'" for a scope of several.
func tenantsOf(sc announce.Scope) string {
	if len(sc.Tenants) == 1 {
		return "that tenant's"
	}
	return "those tenants'"
}

// scopeList limits a listing to the scope: no tenant: words become the scope's tenants; words
// beyond it are refused. ok is false with the refusal.
func scopeList(sc announce.Scope, cmd Command) (Command, Message, bool) {
	if len(sc.Tenants) == 0 {
		return cmd, Message{}, true
	}
	if len(cmd.Tenants) == 0 {
		cmd.Tenants = slices.Clone(sc.Tenants)
		return cmd, Message{}, true
	}
	for _, w := range cmd.Tenants {
		if !inScope(sc, w) {
			return cmd, outsideScope(sc, "it lists only %s tasks"), false
		}
	}
	return cmd, Message{}, true
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
func (a *Answerer) setScope(req Request, cmd Command) Message {
	if cmd.All {
		had, err := a.cfg.Settings.ClearScope(req.Channel)
		if err != nil {
			return a.settingsError("remove the scope", err)
		}
		if !had {
			return textMessage("This channel has no scope: it already shows every tenant.")
		}
		a.cfg.Logger.Info("removed a channel's scope", "channel", req.Channel, "user", req.User)
		return confirm(fmt.Sprintf("%s removed this channel's scope: it shows every tenant again, and people from other organizations can no longer use /tasks here.", who(req.User)))
	}
	sc := announce.Scope{Channel: req.Channel, Tenants: cmd.Tenants, By: req.User, At: a.cfg.Now()}
	if err := a.cfg.Settings.SetScope(sc); err != nil {
		return a.settingsError("store the scope", err)
	}
	a.cfg.Logger.Info("scoped a channel", "channel", req.Channel, "user", req.User, "tenants", cmd.Tenants)
	return confirm(fmt.Sprintf("%s scoped this channel to %s: from now on its listings, tasks, buttons, announcements and mutes show only %s tasks. People from other organizations may use /tasks here, within the scope.",
		who(req.User), tenantWords(cmd.Tenants), tenantsOf(sc)))
}

// visibleMute reports whether mute m may be listed or ended in a channel with scope sc: in a
// scoped channel, the mutes made there and those of its tenants.
func visibleMute(sc announce.Scope, channel string, m announce.Mute) bool {
	return len(sc.Tenants) == 0 || m.Channel == channel || m.Kind == announce.MuteTenant && inScope(sc, m.Value)
}
