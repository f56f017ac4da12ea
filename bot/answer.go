package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/sync/singleflight"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// Settings are the subscriptions, mutes and scopes users change with /tasks (state.Store keeps
// them in the state file).
type Settings interface {
	Subscriptions() ([]announce.Subscription, error)
	Subscribe(announce.Subscription) (replaced bool, err error)
	Unsubscribe(channel string, tenants []string) ([]announce.Subscription, error)
	Mutes() ([]announce.Mute, error)
	AddMute(announce.Mute) (m announce.Mute, replaced []uint64, existing bool, err error)
	Unmute(n uint64) (announce.Mute, bool, error)
	Scope(channel string) (announce.Scope, bool, error)
	SetScope(announce.Scope) (announce.ScopeChange, error)
	ClearScope(channel string) (bool, error)
}

// AnswererConfig configures an Answerer. API is required; without Settings the commands that
// change them answer that they are not available (`taskbot tasks`).
type AnswererConfig struct {
	// API is the Task Manager; `/tasks show` needs it to be a tasks.Service.
	API      tasks.Lister
	Settings Settings
	// Failures are the result codes `/tasks failed` lists (TASKBOT_FAILED_RESULTS; nil:
	// tasks.DefaultFailures).
	Failures tasks.Failures
	// Announce are the default events of a subscription (TASKBOT_ANNOUNCE_STATES).
	Announce []string
	// Channel is the announcement channel (SLACK_CHANNEL), which gets every tenant's
	// announcements and so cannot be scoped; "": not checked.
	Channel string
	// Admins may change subscriptions, mutes and scopes (TASKBOT_ADMINS); empty: anyone.
	Admins []string
	// ButtonKey signs the values of buttons (state.Store.ButtonKey); empty: no Next page,
	// Share, Details or Mute buttons.
	ButtonKey []byte
	// Member reports whether the bot is a member of a channel (SlackMember); a subscription
	// is refused where the bot cannot post. nil: not checked.
	Member func(ctx context.Context, channel string) (bool, error)
	// External reports whether user belongs to another Slack organization than the bot's
	// (Orgs.External); team is the user's team as the payload gave it, "" when it gave none.
	// Such users are answered only in scoped channels and never change settings; an error
	// refuses. nil: everyone is of the bot's organization (the demo, `taskbot tasks`).
	External func(ctx context.Context, user, team string) (bool, error)
	Logger   *slog.Logger // default: discard
	Metrics  *Metrics     // default: unregistered
	Now      func() time.Time
}

// Answerer answers /tasks commands and button clicks: it parses, checks who may do what, asks
// the Task Manager API, changes the settings, and renders the answer. HTTP, Socket Mode, the demo
// and `taskbot tasks` all use it.
type Answerer struct {
	cfg     AnswererConfig
	buttons buttons
	meter   *meter // requests in scoped channels, per person
	// listings are the listings in flight, by listingKey: see listing.
	listings singleflight.Group
	// joined, when set (tests), is called once a listing's caller has started or joined its
	// flight.
	joined func()
	// renders has a slot for each listing being rendered: see renderSlot.
	renders chan struct{}
}

// NewAnswerer returns an Answerer for cfg with its defaults filled in.
func NewAnswerer(cfg AnswererConfig) *Answerer {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Answerer{cfg: cfg, buttons: buttons{key: cfg.ButtonKey}, meter: &meter{}, renders: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

// Request is one slash command as Slack sent it.
type Request struct {
	// Text is what the user typed after /tasks.
	Text string
	// Channel and User are the channel_id and user_id of the command.
	Channel string
	User    string
	// Team is the user's own team (Slack organization) when the payload names it; a slash
	// command's does not (its team_id is the workspace it was typed in), so "".
	Team string
}

// Answer answers a command given only as its text (no channel, no user): the tests' shortcut
// for Handle.
func (a *Answerer) Answer(ctx context.Context, text string) Message {
	return a.Handle(ctx, Request{Text: text})
}

// Handle answers a slash command. It never fails: usage errors, refusals and API errors are
// answered in words. The answer is for the user alone, except the confirmation of a change,
// which the whole channel sees (Message.InChannel), naming who made it.
func (a *Answerer) Handle(ctx context.Context, req Request) Message {
	req.User = validUser(req.User)
	cmd, err := ParseCommand(req.Text)
	if err != nil {
		a.count("usage")
		return RenderUsage(err)
	}
	cmd.Failures = a.cfg.Failures
	a.count(verbName(cmd))
	if cmd.Verb == Help {
		return RenderUsage(nil)
	}
	sc, refusal, ok := a.admit(ctx, req.Channel, req.User, req.Team, cmd)
	if !ok {
		return refusal
	}
	switch cmd.Verb {
	case List:
		m, _ := a.list(ctx, req.Channel, sc, cmd, 0)
		return m
	case Show:
		return a.show(ctx, sc, cmd.ID)
	case Subscriptions:
		return a.subscriptions(req.Channel, sc)
	case Mutes:
		return a.mutes(req.Channel, sc)
	case Scope:
		if !changes(cmd) {
			return a.showScope(sc)
		}
	}
	// The verbs that change settings.
	if a.cfg.Settings == nil {
		return textMessage(":no_entry: Subscriptions, mutes and scopes are changed in Slack, with the running bot.")
	}
	if req.Channel == "" {
		return textMessage(":no_entry: This needs a channel: type it in the channel it is for.")
	}
	if m, ok := a.refuse(req.User, cmd.Verb); !ok {
		return m
	}
	switch cmd.Verb {
	case Subscribe:
		if strings.HasPrefix(req.Channel, "D") {
			return textMessage(":no_entry: Subscriptions are for channels: announcements cannot be posted in a direct message. Type it in the channel that should get them.")
		}
		if a.cfg.Member != nil {
			member, err := a.cfg.Member(ctx, req.Channel)
			if err != nil || !member {
				return textMessage(":no_entry: taskbot cannot post in this channel yet: invite it first with `/invite @taskbot`, then subscribe again.")
			}
		}
		return a.subscribe(req, cmd, sc)
	case Unsubscribe:
		return a.unsubscribe(req, cmd)
	case Mute:
		return a.mute(ctx, req, cmd, sc)
	case Unmute:
		return a.unmute(req, cmd.N, sc)
	case Scope:
		return a.setScope(ctx, req, cmd)
	}
	return RenderUsage(nil)
}

func (a *Answerer) count(kind string) { a.cfg.Metrics.Commands.WithLabelValues(kind).Inc() }

// verbName is cmd's verb as the commands metric counts it.
func verbName(cmd Command) string {
	switch cmd.Verb {
	case Help:
		return "help"
	case List:
		return "list"
	case Show:
		return "show"
	case Subscriptions:
		return "subscriptions"
	case Mutes:
		return "mutes"
	case Subscribe:
		return "subscribe"
	case Unsubscribe:
		return "unsubscribe"
	case Mute:
		return "mute"
	case Unmute:
		return "unmute"
	case Scope:
		return "scope"
	}
	return "other"
}

// SlackMember is AnswererConfig.Member over conversations.info
// (https://api.slack.com/methods/conversations.info): is_member of the channel.
func SlackMember(api *slack.Client) func(ctx context.Context, channel string) (bool, error) {
	return func(ctx context.Context, channel string) (bool, error) {
		ch, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: channel})
		if err != nil {
			return false, ClassifySlackError("conversations.info", err)
		}
		return ch.IsMember, nil
	}
}

// refuse answers a user who may not change settings: TASKBOT_ADMINS is set and does not name
// them. ok is true when they may.
func (a *Answerer) refuse(user string, v Verb) (Message, bool) {
	if len(a.cfg.Admins) == 0 || slices.Contains(a.cfg.Admins, user) {
		return Message{}, true
	}
	var names []string
	for _, id := range a.cfg.Admins {
		names = append(names, "<@"+id+">")
	}
	return textMessage(fmt.Sprintf(":no_entry: Only %s may %s (TASKBOT_ADMINS).", strings.Join(names, ", "), verbName(Command{Verb: v}))), false
}

// list runs cmd's queries, keeps the tasks of its tenants within the channel's scope sc, and
// renders page page of them (46 to 90 for page 1) with Refresh, Next page and Share buttons for
// channel; tenant: words beyond the scope are refused, an API error is rendered in words.
// listed is false for a refusal or an error.
func (a *Answerer) list(ctx context.Context, channel string, sc announce.Scope, cmd Command, page int) (m Message, listed bool) {
	if m, ok := scopeList(sc, cmd); !ok {
		return m, false
	}
	want := (page + 1) * MaxListedTasks
	l, err := a.listing(ctx, cmd, want, sc)
	if err != nil {
		a.cfg.Logger.Warn("answer /tasks", "command", cmd.String(), "err", err, "fix", tasks.Fix(err))
		return RenderAPIError(cmd, err), false
	}
	start := min(page*MaxListedTasks, len(l.Tasks))
	end := min(start+MaxListedTasks, len(l.Tasks))
	p := ListPage{Tasks: l.Tasks[start:end], Offset: start, Total: len(l.Tasks), More: l.More}
	// A tenant listing filters a fixed window of tasks: a next page beyond what it found would
	// search the same window again.
	nextPage := end < len(l.Tasks) || l.More
	if len(cmd.Tenants) > 0 || len(sc.Tenants) > 0 {
		p.Searched = max(want, tenantMaxTasks)
		nextPage = end < len(l.Tasks)
	}
	text := cmd.String() // the command as typed: a button runs it within the scope of its time
	if channel != "" {
		p.Buttons.Refresh = a.buttons.sign(channel, buttonList, listValue(page, text))
		p.Buttons.Share = a.buttons.sign(channel, buttonList, listValue(page, text))
		if nextPage {
			p.Buttons.Next = a.buttons.sign(channel, buttonList, listValue(page+1, text))
		}
	}
	if p.Buttons.Refresh == "" {
		p.Buttons.Refresh = text // without a channel (the demo, taskbot tasks): the plain command
	}
	shown := cmd
	if len(sc.Tenants) > 0 && len(cmd.Tenants) == 0 {
		shown.Tenants = sc.Display() // "Tasks paused for Acme Corp"
	}
	release, err := a.renderSlot(ctx)
	if err != nil {
		return RenderAPIError(cmd, err), false
	}
	defer release()
	m = RenderListPage(shown, p, a.cfg.Now())
	if l.Incomplete {
		m = WithIncompleteNotice(m)
	}
	return m, true
}

// renderSlot waits for one of as many slots as the process has cores (GOMAXPROCS) to render a
// listing in, and returns the function that gives it back; err is ctx's when ctx ends first.
// When a shared listing answers hundreds of commands at once (see listing), their renderings
// queue here rather than in the Go scheduler's run queues, where the acknowledgements of the
// commands that came meanwhile would wait behind all of them: an acknowledgement is due when
// the answer budget ends (Server.Respond), whatever else is going on.
func (a *Answerer) renderSlot(ctx context.Context) (release func(), err error) {
	select {
	case a.renders <- struct{}{}:
		return func() { <-a.renders }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Listing is what Fetch found.
type Listing struct {
	// Tasks are the tasks of every query that match the command's tenants, merged by key,
	// newest update first.
	Tasks []tasks.Task
	// More: the API had more tasks than were fetched (Query.MaxTasks).
	More bool
	// Incomplete: the API stopped a listing short (empty pages naming a next page); tasks may
	// be missing, and the answer must say so rather than claim there are none.
	Incomplete bool
}

// tenantMaxTasks is how many tasks a listing with tenant: words fetches at most: the Task
// Manager API cannot filter by tenant, so taskbot filters what it fetched.
const tenantMaxTasks = 4 * CommandMaxTasks

// Fetch runs cmd's queries (one per alternative: "paused failed" needs two) and returns the
// tasks merged by key, newest update first, kept to cmd's tenants.
func (a *Answerer) Fetch(ctx context.Context, cmd Command) (Listing, error) {
	return a.fetch(ctx, cmd, 0, announce.Scope{})
}

// listing is fetch for the slash commands and their buttons, coalesced: callers that ask for
// the same listing — the same queries (cmd's states and want), the same tenant: words and the
// same channel scope — while one is in flight share its answer, instead of each asking the
// Task Manager API and decoding its pages again. So 200 identical `/tasks paused` a second
// cost one listing per API latency rather than 200, and a slow API is not asked the same
// question hundreds of times over. Nothing is kept once the listing is answered: an answer is
// as fresh as the request in flight when the command came, at most one API latency older than
// the command (a command that comes after the answer starts a listing of its own). Different
// tenant: words or scopes are never shared, even where their queries to the API are the same:
// a scoped channel's answer is only ever made from a listing made for that scope.
//
// The listing runs with ctx of the caller that started it (every command's context has the
// same parent and time limit, see Server); a caller whose ctx ends first stops waiting. The
// Listing is shared: its Tasks must not be changed.
func (a *Answerer) listing(ctx context.Context, cmd Command, want int, sc announce.Scope) (Listing, error) {
	ch := a.listings.DoChan(listingKey(cmd, want, sc), func() (any, error) { return a.fetch(ctx, cmd, want, sc) })
	if a.joined != nil {
		a.joined()
	}
	select {
	case r := <-ch:
		if r.Err != nil {
			return Listing{}, r.Err
		}
		return r.Val.(Listing), nil
	case <-ctx.Done():
		return Listing{}, ctx.Err()
	}
}

// listingKey is what a listing's answer depends on: the command's canonical text (its states
// and tenant: words as parsed; the failing result codes are the Answerer's), how many tasks
// are wanted, and the channel's scope (its words and the tenants they resolved to). Parts are
// JSON strings, so no user text can make two different listings' keys equal.
func listingKey(cmd Command, want int, sc announce.Scope) string {
	key := struct {
		Command  string
		Want     int
		Scope    []string
		Resolved []announce.ScopeTenant
	}{cmd.String(), want, sc.Tenants, sc.Resolved}
	b, err := json.Marshal(key)
	if err != nil {
		panic(err) // strings and ints only
	}
	return string(b)
}

// fetch is Fetch that asks for at least want tasks per query (0: the default) and keeps only
// the tasks scope sc allows (no Tenants: all).
func (a *Answerer) fetch(ctx context.Context, cmd Command, want int, sc announce.Scope) (Listing, error) {
	if cmd.Failures == nil {
		cmd.Failures = a.cfg.Failures
	}
	var lists [][]tasks.Task
	var l Listing
	for _, q := range cmd.Queries() {
		q.MaxTasks = max(q.MaxTasks, want)
		if len(cmd.Tenants) > 0 || len(sc.Tenants) > 0 {
			q.MaxTasks = max(q.MaxTasks, tenantMaxTasks)
		}
		res, err := a.cfg.API.List(ctx, q)
		if err != nil {
			return Listing{}, err
		}
		l.More = l.More || res.More
		l.Incomplete = l.Incomplete || res.Incomplete
		kept := keepTenants(res.Tasks, cmd.Tenants)
		if len(sc.Tenants) > 0 {
			kept = slices.DeleteFunc(kept, func(t tasks.Task) bool { return !taskInScope(sc, &t) })
		}
		lists = append(lists, kept)
	}
	l.Tasks = MergeTasks(lists...)
	return l, nil
}

// keepTenants is ts without the tasks of other tenants than names (none: all).
func keepTenants(ts []tasks.Task, names []string) []tasks.Task {
	if len(names) == 0 {
		return ts
	}
	return slices.DeleteFunc(ts, func(t tasks.Task) bool { return !tenantOf(&t, names) })
}

// tenantOf reports whether t belongs to one of the tenants names.
func tenantOf(t *tasks.Task, names []string) bool {
	if t.Tenant == nil {
		return false
	}
	return slices.ContainsFunc(names, func(n string) bool { return tasks.TenantIs(n, t.Tenant.ID, t.Tenant.Name) })
}

// show answers `/tasks show ID`: the task in full. In a scoped channel a task of another
// tenant is answered as a task that does not exist is: not available in this channel.
func (a *Answerer) show(ctx context.Context, sc announce.Scope, id string) Message {
	t, m, err := a.task(ctx, sc, id)
	if err != nil {
		return m
	}
	return RenderTask(*t, a.cfg.Failures, a.cfg.Now())
}

// errNotAvailable: the task is not one a scoped channel may see, or does not exist.
var errNotAvailable = errors.New("no such task in this channel's scope")

// task fetches task id for a channel with scope sc. Without it, err says why (errNotAvailable,
// one for which tasks.IsNotFound holds, the API's) and m is the answer to give instead.
func (a *Answerer) task(ctx context.Context, sc announce.Scope, id string) (t *tasks.Task, m Message, err error) {
	svc, ok := a.cfg.API.(tasks.Service)
	if !ok {
		return nil, textMessage(":no_entry: Showing one task is not available here."), errors.New("the API cannot get one task")
	}
	t, err = svc.Task(ctx, id)
	switch {
	case len(sc.Tenants) > 0 && (tasks.IsNotFound(err) || err == nil && !taskInScope(sc, t)):
		return nil, RenderTaskNotAvailable(id), errNotAvailable
	case tasks.IsNotFound(err):
		return nil, RenderTaskNotFound(id), err
	case err != nil:
		a.cfg.Logger.Warn("answer /tasks show", "id", id, "err", err, "fix", tasks.Fix(err))
		return nil, RenderAPIError(Command{Verb: Show, ID: id}, err), err
	}
	return t, Message{}, nil
}

// subscriptions answers `/tasks subscriptions`: this channel's (in a scoped channel, those within
// the scope: setting a scope narrowed the others away).
func (a *Answerer) subscriptions(channel string, sc announce.Scope) Message {
	if a.cfg.Settings == nil {
		return textMessage("No subscriptions here.")
	}
	all, err := a.cfg.Settings.Subscriptions()
	if err != nil {
		return a.settingsError("read the subscriptions", err)
	}
	mine := slices.DeleteFunc(all, func(s announce.Subscription) bool {
		return s.Channel != channel || len(sc.Tenants) > 0 && !inScope(sc, s.Tenant)
	})
	return RenderSubscriptions(channel, mine, a.cfg.Announce)
}

// mutes answers `/tasks mutes`: the active mutes (in a scoped channel, those made there and
// those of its tenants).
func (a *Answerer) mutes(channel string, sc announce.Scope) Message {
	if a.cfg.Settings == nil {
		return textMessage("No mutes here.")
	}
	all, err := a.cfg.Settings.Mutes()
	if err != nil {
		return a.settingsError("read the mutes", err)
	}
	now := a.cfg.Now()
	active := slices.DeleteFunc(all, func(m announce.Mute) bool { return !m.Active(now) || !visibleMute(sc, m) })
	if len(active) == 0 && len(sc.Tenants) > 0 {
		return textMessage(fmt.Sprintf("No active mutes of %s or of its tasks.", tenantWords(sc.Display())))
	}
	return RenderMutes(active, now)
}

// subscribe answers `/tasks subscribe [EVENT…] [tenant:NAME…]`: one subscription per tenant
// (or for all tenants), confirmed in the channel. In a scoped channel the tenants must be
// within the scope, and none means each of the scope's, so that the subscription stays within
// it even when the scope is removed.
func (a *Answerer) subscribe(req Request, cmd Command, sc announce.Scope) Message {
	events := cmd.Events
	if len(events) == 0 {
		events = a.cfg.Announce
	}
	if _, err := tasks.ParseAnnounceSet(events); err != nil {
		return RenderUsage(err)
	}
	if len(sc.Tenants) > 0 {
		for _, w := range cmd.Tenants {
			if !inScope(sc, w) {
				return outsideScope(sc, "its subscriptions are for %s tasks only")
			}
		}
		if len(cmd.Tenants) == 0 {
			cmd.Tenants = slices.Clone(sc.Tenants)
		}
	}
	tenants := cmd.Tenants
	if len(tenants) == 0 {
		tenants = []string{""}
	}
	now := a.cfg.Now()
	for _, t := range tenants {
		if _, err := a.cfg.Settings.Subscribe(announce.Subscription{Channel: req.Channel, Tenant: t, Events: events, By: req.User, At: now}); err != nil {
			return a.settingsError("store the subscription", err)
		}
	}
	a.cfg.Logger.Info("subscribed", "channel", req.Channel, "user", req.User, "tenants", cmd.Tenants, "events", events)
	return confirm(fmt.Sprintf("%s subscribed this channel to %s of %s.", who(req.User), strings.Join(events, ", "), tenantWords(cmd.Tenants)))
}

// unsubscribe answers `/tasks unsubscribe [tenant:NAME…]`.
func (a *Answerer) unsubscribe(req Request, cmd Command) Message {
	removed, err := a.cfg.Settings.Unsubscribe(req.Channel, cmd.Tenants)
	if err != nil {
		return a.settingsError("remove the subscription", err)
	}
	switch {
	case len(removed) == 0 && len(cmd.Tenants) == 0:
		return textMessage("This channel has no subscriptions.")
	case len(removed) == 0:
		return textMessage("This channel has no subscription for " + tenantWords(cmd.Tenants) + "; `/tasks subscriptions` lists its subscriptions.")
	}
	var names []string
	for _, s := range removed {
		names = append(names, tenantWords([]string{s.Tenant}))
	}
	what := names[0]
	if len(names) > 1 {
		what = strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	}
	a.cfg.Logger.Info("unsubscribed", "channel", req.Channel, "user", req.User, "tenants", cmd.Tenants)
	return confirm(fmt.Sprintf("%s unsubscribed this channel from its subscriptions for %s.", who(req.User), what))
}

// mute answers `/tasks mute TARGET DURATION [REASON…]`, confirmed in the channel. A task is
// looked up first: one that does not exist is not muted (a typo would silence nothing), one
// that does is muted by the id announcements show and named by its title; when the API fails,
// the task is muted by the id as given (an outage is when a mute is wanted most). A target
// already muted at least as long is answered with that mute; a longer mute replaces it. In a
// scoped channel the target must be within the scope: a tenant of it, a task of one, no plan (a
// plan's name is shared by every tenant's plans).
func (a *Answerer) mute(ctx context.Context, req Request, cmd Command, sc announce.Scope) Message {
	scoped := len(sc.Tenants) > 0
	var title, tenantID, tenantName string
	switch announce.MuteKind(cmd.MuteKind) {
	case announce.MuteTenant:
		if scoped && !inScope(sc, cmd.MuteValue) {
			return outsideScope(sc, "it mutes only %s announcements")
		}
	case announce.MuteTask:
		t, m, err := a.task(ctx, sc, cmd.MuteValue)
		switch {
		case err == nil:
			snap := tasks.NewSnapshot(t, a.cfg.Failures)
			cmd.MuteValue, title = snap.ID, snap.Title
			tenantID, tenantName = snap.TenantID, snap.TenantName
		case tasks.IsNotFound(err):
			return idAnswer("No task %s was found, so nothing was muted.", "`/tasks mute task:ID` takes a task's numeric id or its uuid, as `/tasks show` does.", cmd.MuteValue)
		case errors.Is(err, errNotAvailable):
			return idAnswer("No task %s is available in this channel, so nothing was muted.", "`/tasks mute task:ID` takes a task's numeric id or its uuid.", cmd.MuteValue)
		case scoped:
			return m // the API failed: in a scoped channel, nothing is muted unseen
		}
	case announce.MutePlan:
		if scoped {
			return textMessage(":no_entry: A plan mute would silence that plan for every tenant, so it is not made in a scoped channel; mute a task or a tenant here, or the plan in a channel without a scope.")
		}
	}
	now := a.cfg.Now()
	m, replaced, existing, err := a.cfg.Settings.AddMute(announce.Mute{Kind: announce.MuteKind(cmd.MuteKind), Value: cmd.MuteValue,
		Until: now.Add(cmd.Duration), Reason: cmd.Reason, By: req.User, Channel: req.Channel, At: now, TenantID: tenantID, TenantName: tenantName})
	switch {
	case err != nil:
		return a.settingsError("store the mute", err)
	case existing:
		return textMessage(fmt.Sprintf("%s is already muted until %s by mute %d; `/tasks unmute %d` ends it.", Escape(m.Target()), slackDate(m.Until), m.N, m.N))
	}
	a.cfg.Logger.Info("muted", "mute", m.N, "target", m.Target(), "until", m.Until, "user", req.User, "channel", req.Channel, "replaced", replaced)
	return confirm(muteConfirmation(req.User, m, title, replaced))
}

// muteConfirmation is the channel's notice of a new mute: who, what (a task with its title),
// until when, the mutes it replaced, why, and how to end it.
func muteConfirmation(user string, m announce.Mute, title string, replaced []uint64) string {
	target := Escape(m.Target())
	if t := escapeCut(title, 120); !isBlankText(t) {
		target += " (" + t + ")"
	}
	text := fmt.Sprintf("%s muted %s until %s (mute %d", who(user), target, slackDate(m.Until), m.N)
	if len(replaced) > 0 {
		var ns []string
		for _, n := range replaced {
			ns = append(ns, strconv.FormatUint(n, 10))
		}
		text += ", replacing mute " + strings.Join(ns, ", ")
	}
	text += fmt.Sprintf("; `/tasks unmute %d` ends it).", m.N)
	if r := escapeCut(m.Reason, 200); !isBlankText(r) {
		text += " Reason: " + r
	}
	return text
}

// unmute answers `/tasks unmute N`; in a scoped channel, only of a mute `/tasks mutes` lists
// there.
func (a *Answerer) unmute(req Request, n uint64, sc announce.Scope) Message {
	if len(sc.Tenants) > 0 {
		all, err := a.cfg.Settings.Mutes()
		if err != nil {
			return a.settingsError("read the mutes", err)
		}
		if !slices.ContainsFunc(all, func(m announce.Mute) bool { return m.N == n && visibleMute(sc, m) }) {
			return textMessage(fmt.Sprintf("There is no mute %d in this channel; `/tasks mutes` lists its mutes.", n))
		}
	}
	m, found, err := a.cfg.Settings.Unmute(n)
	switch {
	case err != nil:
		return a.settingsError("remove the mute", err)
	case !found:
		return textMessage(fmt.Sprintf("There is no mute %d; `/tasks mutes` lists them.", n))
	}
	a.cfg.Logger.Info("unmuted", "mute", n, "target", m.Target(), "user", req.User)
	return confirm(fmt.Sprintf("%s ended mute %d (%s).", who(req.User), n, Escape(m.Target())))
}

func (a *Answerer) settingsError(what string, err error) Message {
	a.cfg.Logger.Error("could not "+what, "err", err)
	return textMessage(":warning: taskbot could not " + what + " in its state file; try again, and see its log.")
}

// who names a user in a confirmation: a mention (Slack shows their name), or "Someone".
func who(user string) string {
	if validUser(user) == "" {
		return "Someone"
	}
	return "<@" + user + ">"
}

// slackUserID is the shape of a Slack user ID (https://api.slack.com/changelog/2016-08-11-user-id-format-changes).
var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// validUser is user when it has the shape of a Slack user ID, else "": a payload's user_id is
// signed by Slack, but what is not an ID never goes into a mention (<@…>) or a setting.
func validUser(user string) string {
	if !slackUserID.MatchString(user) {
		return ""
	}
	return user
}

// tenantWords names tenants in a sentence: "all tenants", "Acme Corp", "Acme Corp and Beta".
func tenantWords(names []string) string {
	var out []string
	for _, n := range names {
		if n == "" {
			continue
		}
		out = append(out, Escape(n))
	}
	switch len(out) {
	case 0:
		return "all tenants"
	case 1:
		return out[0]
	}
	return strings.Join(out[:len(out)-1], ", ") + " and " + out[len(out)-1]
}

// textMessage is a message of one mrkdwn section with text as its fallback too.
func textMessage(text string) Message {
	return Message{Text: truncate(text, FallbackTextTarget), Blocks: []slack.Block{mrkdwnSection(truncate(text, MaxTextObject))}}
}

// confirm is the notice of a change, for everyone in the channel.
func confirm(text string) Message {
	m := textMessage(text)
	m.InChannel = true
	return m
}

// RenderAPIError explains a failed query in words, with what the user can do about it (from
// the Acronis error table, through tasks.Explain): ":warning: Could not fetch tasks (paused):
// the API client lacks permission to read tasks (GET /tasks: 403 Forbidden); the API client
// lacks the scope …."
func RenderAPIError(cmd Command, err error) Message {
	why := apiWhy(err)
	what := "tasks (" + Escape(cmd.Describe()) + ")"
	if cmd.Verb == Show {
		what = "task " + escapeCut(cmd.ID, 40)
	}
	text := ":warning: Could not fetch " + what + ": " + why
	if !strings.HasSuffix(why, "?") && !strings.HasSuffix(why, ".") {
		text += "."
	}
	return Message{
		Text:   truncate(text, 300),
		Blocks: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate(text, 3000), false, false), nil, nil)},
	}
}

// apiWhy is what went wrong with an API call and what to do about it, in mrkdwn: the problem
// (tasks.Explain), the error, and the fix.
func apiWhy(err error) string {
	p, ok := tasks.Explain(err)
	if !ok {
		p.What = "the Task Manager API failed"
	}
	// What and the error may hold the API's text: escaped in full. The fix is taskbot's own
	// words, which name variables such as ACRONIS_CLIENT_ID: only & < > are escaped.
	why := Escape(p.What)
	if detail := err.Error(); !strings.Contains(p.What, detail) {
		why += " (" + Escape(detail) + ")"
	}
	if p.Fix != "" {
		why += "; " + escapeEntities(p.Fix)
	}
	return why
}

// escapeEntities escapes only &, < and > (https://api.slack.com/reference/surfaces/formatting#escaping),
// for taskbot's own text that may name ACRONIS_CLIENT_ID and must keep its underscores.
func escapeEntities(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// IncompleteNotice is what a list says when the API stopped sending tasks partway.
const IncompleteNotice = ":warning: The Task Manager API stopped sending tasks partway (it kept sending empty pages), so this list may be incomplete; try again in a minute."

// WithIncompleteNotice is m with IncompleteNotice as its second block (after the header) and in
// its fallback text. RenderList keeps a block free for it.
func WithIncompleteNotice(m Message) Message {
	notice := mrkdwnSection(IncompleteNotice)
	if len(m.Blocks) > 0 {
		m.Blocks = append(m.Blocks[:1:1], append([]slack.Block{notice}, m.Blocks[1:]...)...)
	} else {
		m.Blocks = []slack.Block{notice}
	}
	m.Text = truncate(m.Text+" (may be incomplete)", FallbackTextTarget)
	return m
}
