package bot

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks/announce"
)

// slackError is one row of the Slack error table: what an error code means for an
// announcement, and the fix in the user's words ("" when there is nothing to fix).
type slackError struct {
	outcome announce.Outcome
	hint    string
}

// slackErrors is the one table from a Slack Web API error code to what it means and what the
// user can do, after the error lists of https://api.slack.com/methods/chat.postMessage#errors,
// https://api.slack.com/methods/chat.update#errors, https://api.slack.com/methods/conversations.info#errors
// and https://api.slack.com/methods/auth.test#errors. The announce pipeline (through
// ClassifySlackError), `taskbot check`, Socket Mode and the logs all read it. missing_scope is
// not here: its fix depends on the method (see scopeFor).
var slackErrors = map[string]slackError{
	"channel_not_found":       {announce.Blocked, "SLACK_CHANNEL must be a channel ID such as C0123456789 (not a name), and the bot must be able to see the channel"},
	"not_in_channel":          {announce.Blocked, "invite the bot to the channel with /invite @taskbot"},
	"is_archived":             {announce.Blocked, "the channel in SLACK_CHANNEL is archived; unarchive it or choose another"},
	"invalid_auth":            {announce.Blocked, "SLACK_BOT_TOKEN is not valid; copy the Bot User OAuth Token (xoxb-…) again"},
	"not_authed":              {announce.Blocked, "SLACK_BOT_TOKEN is empty or was not sent"},
	"account_inactive":        {announce.Blocked, "the bot's token was revoked or the app uninstalled; reinstall the app and update SLACK_BOT_TOKEN"},
	"token_revoked":           {announce.Blocked, "the bot's token was revoked; reinstall the app and update SLACK_BOT_TOKEN"},
	"restricted_action":       {announce.Blocked, "a workspace setting prevents the bot from posting in this channel"},
	"ekm_access_denied":       {announce.Blocked, "the workspace's encryption keys deny access"},
	"team_access_not_granted": {announce.Blocked, "the token has no access to the workspace of SLACK_CHANNEL"},

	"thread_not_found":        {announce.ThreadGone, ""},
	"cannot_reply_to_message": {announce.ThreadGone, ""},
	"message_not_found":       {announce.ThreadGone, ""},

	"invalid_blocks":        {announce.Refused, ""},
	"msg_blocks_too_long":   {announce.Refused, ""},
	"invalid_attachments":   {announce.Refused, ""},
	"cant_update_message":   {announce.Refused, ""},
	"edit_window_closed":    {announce.Refused, ""},
	"invalid_blocks_format": {announce.Refused, ""},
	"msg_too_long":          {announce.Refused, ""},
	"too_many_attachments":  {announce.Refused, ""},
	"no_text":               {announce.Refused, ""},
	"invalid_arguments":     {announce.Refused, ""},

	"ratelimited":         {announce.Retry, ""},
	"rate_limited":        {announce.Retry, ""},
	"internal_error":      {announce.Retry, ""},
	"fatal_error":         {announce.Retry, ""},
	"service_unavailable": {announce.Retry, ""},
	"request_timeout":     {announce.Retry, ""},
}

// appTokenRefused are the codes with which apps.connections.open refuses SLACK_APP_TOKEN; the
// table's rows for them speak of the bot token.
var appTokenRefused = map[string]bool{"invalid_auth": true, "not_authed": true, "not_allowed_token_type": true, "token_revoked": true, "account_inactive": true}

const fixAPIURL = "the server at SLACK_API_URL does not answer like the Slack Web API; is SLACK_API_URL right (e.g. https://slack.com/api/), and is no proxy answering instead?"

const fixAppToken = "SLACK_APP_TOKEN was refused: create an app-level token, xapp-…, with the connections:write scope under Basic Information → App-Level Tokens"

// countedCodes are the error codes taskbot_slack_errors_total starts with at 0, so that alert
// rules on them work before the first error: transport failures, rate limits and every code
// that blocks a channel.
func countedCodes() []string {
	codes := []string{"network", "ratelimited", "missing_scope"}
	for code, row := range slackErrors {
		if row.outcome == announce.Blocked {
			codes = append(codes, code)
		}
	}
	return codes
}

// scopeFor names the OAuth scopes a Web API method needs, for the fix of missing_scope.
func scopeFor(method string) string {
	switch method {
	case "chat.postMessage", "chat.update":
		return "chat:write"
	case "conversations.info":
		return "channels:read and groups:read"
	case "apps.connections.open":
		return "connections:write (on the app-level token, SLACK_APP_TOKEN)"
	case "users.info":
		return "users:read"
	}
	return "the scopes of deploy/slack-app-manifest.yaml"
}

// ClassifySlackError turns an error of the Web API method (e.g. "chat.postMessage") from
// slack-go into a *announce.DeliveryError (nil for nil): 429s and 5xx are Retry with the
// Retry-After Slack sent; a known error code takes its row of the table; an unknown code is
// Unknown (the announcer tries it a few times, then sends the plainest form, then drops it:
// an error nobody foresaw must not stop the outbox); anything else is a transport failure
// (timeout, reset, refused, a proxy's garbage), code "network", Retry.
func ClassifySlackError(method string, err error) *announce.DeliveryError {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &announce.DeliveryError{Code: "ratelimited", Outcome: announce.Retry, RetryAfter: rl.RetryAfter, Err: err}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && sc.Code == 429 {
		return &announce.DeliveryError{Code: "ratelimited", Outcome: announce.Retry, Err: err} // 429 without Retry-After
	}
	if errors.As(err, &sc) {
		de := &announce.DeliveryError{Code: fmt.Sprintf("http_%d", sc.Code), Outcome: announce.Retry, Err: err}
		if sc.Code == 404 || sc.Code == 405 || sc.Code == 501 {
			de.Hint = fixAPIURL // no Slack answers these for its methods: another server does
		}
		return de
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) {
		// A 200 answer that is not Slack's JSON: a proxy's page, a login portal.
		return &announce.DeliveryError{Code: "bad_answer", Outcome: announce.Retry, Hint: fixAPIURL, Err: err}
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		if se.Err == "missing_scope" {
			return &announce.DeliveryError{Code: se.Err, Outcome: announce.Blocked, Err: err,
				Hint: "the app lacks the " + scopeFor(method) + " scope; add it under OAuth & Permissions and reinstall the app"}
		}
		if method == "apps.connections.open" && appTokenRefused[se.Err] {
			return &announce.DeliveryError{Code: se.Err, Outcome: announce.Blocked, Err: err, Hint: fixAppToken}
		}
		if row, ok := slackErrors[se.Err]; ok {
			return &announce.DeliveryError{Code: se.Err, Outcome: row.outcome, Hint: row.hint, Err: err}
		}
		return &announce.DeliveryError{Code: se.Err, Outcome: announce.Unknown, Err: err,
			Hint: "an error taskbot does not know; see https://api.slack.com/methods/" + method + "#errors"}
	}
	return &announce.DeliveryError{Code: "network", Outcome: announce.Retry, Err: err}
}

// ExplainSlack words a failed call of the Web API method for a person: "code — fix" for an
// error in the table, "cannot reach Slack at SLACK_API_URL (cause)" for a transport failure,
// else the code. `taskbot check` prints it.
func ExplainSlack(method string, err error) string {
	de := ClassifySlackError(method, err)
	switch {
	case de == nil:
		return ""
	case de.Hint != "":
		return de.Code + " — " + de.Hint
	case de.Code == "network":
		return "cannot reach Slack at SLACK_API_URL (" + rootCause(err) + ")"
	}
	return de.Code
}

// rootCause is the innermost error's text, e.g. "connection refused".
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return strings.TrimSpace(err.Error())
		}
		err = next
	}
}
