package bot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/slack-go/slack"
)

// Orgs tells people of the bot's own Slack organization from people of other organizations
// (Slack Connect: an MSP shares a channel with a customer, whose people must not see every
// tenant's tasks). The bot's organization is what auth.test answers, asked once; a user's is
// what the payload says (an interaction's user.team_id) or else what users.info answers,
// cached per user. Safe for concurrent use.
//
// NewOrgs starts a goroutine that lives as long as the process (the expirable LRU of
// golang-lru v2 has no Close): make one Orgs per process, not one per request.
type Orgs struct {
	api *slack.Client
	// users are users.info answers by user ID: at most usersCached, each for userTTL. Errors
	// are never kept, so the next call asks again.
	users *expirable.LRU[string, membership]

	// asking is a lock of one, held while auth.test is asked; a channel so that waiting for
	// it ends with the caller's context.
	asking chan struct{}
	mu     sync.Mutex
	home   *membership // the bot's own organization; nil until auth.test succeeded
	tries  int         // auth.test calls that came back (a caller's own cancellation not counted)
	failed error       // the error of the last of them, when it failed
}

// membership is an organization as Slack names it: a team ID ("T…"; "E…" for a user of a
// whole Enterprise org) and the Enterprise org's ID ("E…", "" outside an Enterprise org).
type membership struct {
	team       string
	enterprise string
}

const (
	usersCached = 10_000    // users.info answers kept, least recently used dropped first
	userTTL     = time.Hour // how long a users.info answer is trusted: people rarely move
)

// NewOrgs makes an Orgs that asks Slack through api, whose token is the bot's (xoxb-…) and
// needs the users:read scope for users.info.
func NewOrgs(api *slack.Client) *Orgs { return newOrgs(api, usersCached, userTTL) }

// newOrgs is NewOrgs with the cache's size (users) and ttl, for tests of its expiry.
func newOrgs(api *slack.Client, size int, ttl time.Duration) *Orgs {
	return &Orgs{api: api, users: expirable.NewLRU[string, membership](size, nil, ttl), asking: make(chan struct{}, 1)}
}

// teamID is the shape of a Slack team ID ("T024BE7LD") or Enterprise org ID ("E0123ABCD"):
// a T or E, then uppercase letters and digits. Anything else in a team hint is not trusted.
var teamID = regexp.MustCompile(`^[TE][A-Z0-9]{2,20}$`)

// External reports whether user (a user ID, "U…" or "W…") belongs to another Slack organization
// than the bot's. A user is of the bot's organization iff their team is the bot's team_id, or
// the bot is in an Enterprise org (auth.test's enterprise_id) and that is their team or their
// users.info enterprise_user.enterprise_id (https://api.slack.com/methods/users.info); anyone
// else is external.
//
// team is the user's own team as the payload gave it: an interaction's (block_actions)
// user.team_id, which Slack documents as the user's team ("T…", or the Enterprise org ID "E…"
// in an Enterprise org; https://api.slack.com/reference/interaction-payloads/block-actions);
// "" when the payload gives none (a slash command: its team_id is the workspace where the
// command was typed, not the user's organization); then users.info is asked. A team that does
// not look like a team ID is ignored, as is, for a bot in an Enterprise org, a workspace other
// than the bot's (it may be another workspace of the same org): users.info decides.
//
// Errors: "no user ID" for an empty user; an auth.test or users.info failure as
// "auth.test: …" or "users.info U…: …" wrapping ClassifySlackError's *announce.DeliveryError
// (missing_scope names users:read). With an error External also reports true, so that a
// caller that only looks at the bool still refuses; the caller must refuse on any error.
func (o *Orgs) External(ctx context.Context, user, team string) (bool, error) {
	if user == "" {
		return true, errors.New("no user ID")
	}
	home, err := o.ownOrg(ctx)
	if err != nil {
		return true, err
	}
	if teamID.MatchString(team) {
		if home.owns(team) {
			return false, nil
		}
		if home.enterprise == "" {
			return true, nil
		}
	}
	m, err := o.lookup(ctx, user)
	if err != nil {
		return true, err
	}
	internal := home.owns(m.team) || home.enterprise != "" && m.enterprise == home.enterprise
	return !internal, nil
}

// owns reports whether team ("T…" or "E…") is the bot's organization h: its team, or its
// Enterprise org.
func (h membership) owns(team string) bool {
	return team == h.team || h.enterprise != "" && team == h.enterprise
}

// lookup is user's organization, from the cache or users.info.
func (o *Orgs) lookup(ctx context.Context, user string) (membership, error) {
	if m, ok := o.users.Get(user); ok {
		return m, nil
	}
	u, err := o.api.GetUserInfoContext(ctx, user)
	if err != nil {
		return membership{}, slackCallError("users.info "+user, "users.info", err)
	}
	m := membership{team: u.TeamID, enterprise: u.Enterprise.EnterpriseID}
	o.users.Add(user, m)
	return m, nil
}

// ownOrg is the bot's own organization: auth.test's team_id and enterprise_id, asked once and
// kept after the first success (https://api.slack.com/methods/auth.test). Callers that wait
// while a call is out share its answer, a failure too; the next caller after a failure asks
// again.
func (o *Orgs) ownOrg(ctx context.Context) (membership, error) {
	o.mu.Lock()
	home, before := o.home, o.tries
	o.mu.Unlock()
	if home != nil {
		return *home, nil
	}
	select {
	case o.asking <- struct{}{}:
	case <-ctx.Done():
		return membership{}, fmt.Errorf("auth.test: %w", ctx.Err())
	}
	defer func() { <-o.asking }()
	o.mu.Lock()
	home, tries, failed := o.home, o.tries, o.failed
	o.mu.Unlock()
	switch {
	case home != nil:
		return *home, nil
	case tries != before:
		return membership{}, failed // asked while this caller waited
	}
	auth, err := o.api.AuthTestContext(ctx)
	switch {
	case err != nil:
		err = slackCallError("auth.test", "auth.test", err)
	case auth.TeamID == "":
		err = errors.New("auth.test: the answer names no team_id; is SLACK_API_URL the Slack Web API (e.g. https://slack.com/api/)?")
	}
	if err != nil && ctx.Err() != nil {
		return membership{}, err // this caller's own end, not Slack's answer: not shared
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tries++
	if o.failed = err; err != nil {
		return membership{}, err
	}
	o.home = &membership{team: auth.TeamID, enterprise: auth.EnterpriseID}
	return *o.home, nil
}

// slackCallError wraps err of the Web API method as ClassifySlackError classifies it, after
// what: "users.info U0123: missing_scope (the app lacks the users:read scope; …)". When the
// class has no hint, the cause follows, so a 503 or a refused connection reads as such.
func slackCallError(what, method string, err error) error {
	de := ClassifySlackError(method, err)
	if de.Hint == "" && de.Code != err.Error() {
		return fmt.Errorf("%s: %w: %v", what, de, err)
	}
	return fmt.Errorf("%s: %w", what, de)
}
