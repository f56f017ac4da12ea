package bot

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks/announce"
)

// Button values travel to Slack and come back with a click, from anyone who can craft a
// request: they are signed, and tied to the channel they were made for, so a value from
// another channel, edited or made up is refused before anything is asked of the API (issue
// "Built for MSPs"; a scoped channel must not be tricked into showing another tenant's task).
//
// A value reads `v1|CHANNEL|KIND|PAYLOAD|MAC`: KIND is "l" (a list: PAYLOAD is "PAGE|TEXT", the
// command text ParseCommand takes) or "t" (a task: PAYLOAD is its key); MAC is the first 16
// bytes of HMAC-SHA256 over everything before it, under the state file's button key, base64url.

// buttonVersion begins every value; a value of another version is refused.
const buttonVersion = "v1"

// Button kinds.
const (
	buttonList = "l"
	buttonTask = "t"
)

// ErrButton is the error of a button value that is not one taskbot made for the channel it
// was clicked in.
var ErrButton = errors.New("this button was not made for this channel, or it was changed")

// buttonRefusal is the clicker's answer to a button value taskbot refuses.
const buttonRefusal = ":no_entry: This button was not made for this channel, or it was changed; run the command again."

// buttons signs and checks button values.
type buttons struct{ key []byte }

func (b buttons) mac(s string) string {
	h := hmac.New(sha256.New, b.key)
	h.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// sign makes the value of a button of kind in channel; "" when it would not fit a button
// (MaxButtonValue), which leaves the button out.
func (b buttons) sign(channel, kind, payload string) string {
	if len(b.key) == 0 {
		return ""
	}
	body := strings.Join([]string{buttonVersion, channel, kind, payload}, "|")
	v := body + "|" + b.mac(body)
	if len(v) > MaxButtonValue {
		return ""
	}
	return v
}

// check returns the kind and payload of value, clicked in channel, or ErrButton.
func (b buttons) check(channel, value string) (kind, payload string, err error) {
	if len(b.key) == 0 || len(value) > MaxButtonValue {
		return "", "", ErrButton
	}
	body, mac, ok := cutLast(value, "|")
	if !ok || !hmac.Equal([]byte(mac), []byte(b.mac(body))) {
		return "", "", ErrButton
	}
	parts := strings.SplitN(body, "|", 4)
	if len(parts) != 4 || parts[0] != buttonVersion || parts[1] != channel || (parts[2] != buttonList && parts[2] != buttonTask) {
		return "", "", ErrButton
	}
	return parts[2], parts[3], nil
}

// listValue is the payload of a list button: the page and the command text.
func listValue(page int, text string) string { return strconv.Itoa(page) + "|" + text }

// parseListValue reads a list button's payload (already checked: taskbot made it).
func parseListValue(payload string) (page int, text string, err error) {
	p, text, ok := strings.Cut(payload, "|")
	page, err = strconv.Atoi(p)
	if !ok || err != nil || page < 0 || page > maxPage {
		return 0, "", ErrButton
	}
	return page, text, nil
}

// maxPage bounds the page of a Next page button.
const maxPage = 1000

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// ClickReply says how a click is answered through its response_url.
type ClickReply int

const (
	// ReplaceOriginal: the answer replaces the message with the button (Refresh, Next page).
	ReplaceOriginal ClickReply = iota
	// ForClicker: a new message only the clicker sees (Details, refusals).
	ForClicker
	// ForChannel: a new message everyone in the channel sees (Share, a mute's confirmation).
	ForChannel
)

// Click is one button click as Slack sent it.
type Click struct {
	ActionID string
	Value    string
	Channel  string
	User     string
	// Team is the clicker's own team as the payload's user.team_id gives it
	// (https://api.slack.com/reference/interaction-payloads/block-actions); "" when absent.
	Team string
}

// muteButtonFor is how long the Mute task button mutes.
const muteButtonFor = 24 * time.Hour

// HandleClick answers a click of one of taskbot's buttons. A value that taskbot did not make
// for this channel is refused with a short note to the clicker, and nothing is asked of the API.
// A click is admitted as the command it repeats would be: within the channel's scope as it is
// now (a value made before the scope was set shows no more than the scope), and a person of
// another organization only in a scoped channel and never to mute.
func (a *Answerer) HandleClick(ctx context.Context, c Click) (Message, ClickReply) {
	c.User = validUser(c.User)
	kind, payload, err := a.buttons.check(c.Channel, c.Value)
	if c.ActionID == RefreshActionID && err != nil && len(a.buttons.key) == 0 {
		kind, payload, err = buttonList, listValue(0, c.Value), nil // unsigned Refresh of a keyless Answerer (the demo)
	}
	if err != nil {
		a.count("bad_button")
		a.cfg.Logger.Warn("refused a button value taskbot did not make for this channel", "action", c.ActionID, "channel", c.Channel, "user", c.User)
		return textMessage(buttonRefusal), ForClicker
	}
	switch {
	case kind == buttonList && (c.ActionID == RefreshActionID || c.ActionID == NextActionID || c.ActionID == ShareActionID):
		page, text, err := parseListValue(payload)
		if err != nil {
			return textMessage(buttonRefusal), ForClicker
		}
		cmd, err := ParseCommand(text)
		if err != nil {
			return RenderUsage(err), ReplaceOriginal // only an unsigned value (a keyless Answerer) can fail here
		}
		if cmd.Verb != List {
			return textMessage(buttonRefusal), ForClicker
		}
		cmd.Failures = a.cfg.Failures
		a.count(map[string]string{RefreshActionID: "refresh", NextActionID: "next_page", ShareActionID: "share"}[c.ActionID])
		sc, refusal, ok := a.admit(ctx, c.Channel, c.User, c.Team, cmd)
		if !ok {
			return refusal, ForClicker
		}
		m, listed := a.list(ctx, c.Channel, sc, cmd, page)
		if c.ActionID == ShareActionID && !listed {
			return m, ForClicker // a refusal or an error is the sharer's alone
		}
		if c.ActionID == ShareActionID {
			m.Blocks = withoutActions(m.Blocks) // the channel's copy has no buttons of the sharer
			m = withContext(m, who(c.User)+" shared this")
			return m, ForChannel
		}
		return m, ReplaceOriginal
	case kind == buttonTask && c.ActionID == DetailsActionID:
		a.count("details")
		sc, refusal, ok := a.admit(ctx, c.Channel, c.User, c.Team, Command{Verb: Show, ID: payload})
		if !ok {
			return refusal, ForClicker
		}
		return a.show(ctx, sc, payload), ForClicker
	case kind == buttonTask && c.ActionID == MuteActionID:
		a.count("mute_button")
		if a.cfg.Settings == nil {
			return textMessage(":no_entry: Mutes are not available here."), ForClicker
		}
		cmd := Command{Verb: Mute, MuteKind: string(announce.MuteTask), MuteValue: payload, Duration: muteButtonFor, Reason: "muted from an announcement"}
		sc, refusal, ok := a.admit(ctx, c.Channel, c.User, c.Team, cmd)
		if !ok {
			return refusal, ForClicker
		}
		if m, ok := a.refuse(c.User, Mute); !ok {
			return m, ForClicker
		}
		m := a.mute(ctx, Request{Channel: c.Channel, User: c.User}, cmd, sc)
		if !m.InChannel {
			return m, ForClicker // refused: the clicker's alone
		}
		return m, ForChannel
	}
	return textMessage(buttonRefusal), ForClicker
}

// TaskButtons are the signed values of an announcement's Details and Mute task buttons for a
// task in channel; "" when taskbot has no button key.
func (a *Answerer) TaskButtons(channel, taskKey string) (details, mute string) {
	v := a.buttons.sign(channel, buttonTask, taskKey)
	return v, v
}

// withoutActions is blocks without the actions blocks.
func withoutActions(blocks []slack.Block) []slack.Block {
	return slices.DeleteFunc(slices.Clone(blocks), func(b slack.Block) bool { return b.BlockType() == slack.MBTAction })
}

// withContext adds a context line with text (taskbot's own mrkdwn) at the end of m.
func withContext(m Message, text string) Message {
	if len(m.Blocks) < MaxBlocks {
		m.Blocks = append(m.Blocks, slack.NewContextBlock("", mrkdwnText(text)))
	}
	return m
}
