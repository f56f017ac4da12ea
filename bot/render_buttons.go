package bot

import (
	"slices"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// The action_ids of taskbot's buttons besides RefreshActionID. Slack sends the action_id and
// the button's value back when it is clicked
// (https://api.slack.com/reference/interaction-payloads/block-actions); the values are made
// (and signed) by the caller of the renderer.
const (
	// NextActionID is the action_id of a task list's Next page button.
	NextActionID = "tasks_next"
	// ShareActionID is the action_id of a task list's Share button, which posts the answer
	// to the channel for everyone.
	ShareActionID = "tasks_share"
	// DetailsActionID is the action_id of an announcement's Details button: the `/tasks show`
	// answer, only for the user who clicked.
	DetailsActionID = "task_details"
	// MuteActionID is the action_id of an announcement's Mute task 24h button.
	MuteActionID = "task_mute"
)

// WithAnnouncementButtons is announcement m with an actions block appended: Details
// (DetailsActionID, value details) and Mute task 24h (MuteActionID, value mute). A button
// whose value is "" is left out, and so is one whose value is longer than MaxButtonValue
// (Slack would refuse the message, and a signed value cannot be cut); with neither button, or
// when m already has MaxBlocks blocks, m is returned as it is. m's blocks are not modified.
func WithAnnouncementButtons(m Message, details, mute string) Message {
	if len(m.Blocks) >= MaxBlocks {
		return m
	}
	m.Blocks = appendActions(slices.Clip(m.Blocks),
		button(DetailsActionID, "Details", details),
		button(MuteActionID, "Mute task 24h", mute))
	return m
}

// button is a button with plain text label, or nil when value is "" or longer than
// MaxButtonValue.
func button(actionID, label, value string) *slack.ButtonBlockElement {
	if value == "" || len(value) > MaxButtonValue && utf8.RuneCountInString(value) > MaxButtonValue {
		return nil
	}
	return slack.NewButtonBlockElement(actionID, value, slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
}

// appendActions appends an actions block of the buttons that are not nil; nothing when all
// are nil.
func appendActions(blocks []slack.Block, buttons ...*slack.ButtonBlockElement) []slack.Block {
	var elems []slack.BlockElement
	for _, b := range buttons {
		if b != nil {
			elems = append(elems, b)
		}
	}
	if len(elems) == 0 {
		return blocks
	}
	return append(blocks, slack.NewActionBlock("", elems...))
}
