package bot

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// Slack's documented limits on a message, in characters (Unicode code points of the text as
// sent, entities such as &amp; counted in full) or in items. Sources:
//   - blocks, header, section, context, actions: https://api.slack.com/reference/block-kit/blocks
//   - text objects (1–3000 characters): https://api.slack.com/reference/block-kit/composition-objects#text
//   - button: https://api.slack.com/reference/block-kit/block-elements#button
//   - message text (40 000 characters, longer is truncated): https://api.slack.com/methods/chat.postMessage#truncating
const (
	MaxBlocks          = 50     // blocks in one message
	MaxTextObject      = 3000   // any text object, section text included
	MaxSectionFields   = 10     // fields of one section
	MaxFieldText       = 2000   // text of one section field
	MaxHeaderText      = 150    // header block plain_text
	MaxContextElements = 10     // elements of one context block
	MaxActionElements  = 25     // elements of one actions block
	MaxButtonText      = 75     // button text
	MaxButtonValue     = 2000   // button value
	MaxActionID        = 255    // action_id of an element
	MaxBlockID         = 255    // block_id of a block
	MaxButtonURL       = 3000   // button url
	MaxMessageText     = 40_000 // top-level text of a message

	// FallbackTextTarget is the length taskbot aims for in Message.Text: the fallback shows in
	// notifications and is read by screen readers, where a sentence is enough.
	FallbackTextTarget = 300
)

// LimitError is a violation of one of Slack's limits found by CheckLimits.
type LimitError struct {
	// Path locates the offending value in the message payload {"text":…,"blocks":[…]},
	// e.g. "blocks[3].text.text".
	Path string
	// Problem says what is wrong, e.g. "3120 characters, limit 3000".
	Problem string
}

func (e *LimitError) Error() string { return e.Path + ": " + e.Problem }

// CheckLimits verifies that m keeps Slack's documented limits (the Max… constants above) and
// that no text object is empty or blank (Slack rejects the whole message with invalid_blocks:
// "text must have a minimum length of 1").
//
// It marshals m.Blocks to JSON and walks the result generically, so it checks what Slack would
// receive, whatever Go types built the blocks. Checks: the fallback text is non-blank and at
// most MaxMessageText characters; at most MaxBlocks blocks; block_id at most MaxBlockID and
// unique; header text is plain_text of at most MaxHeaderText; section text at most
// MaxTextObject, at most MaxSectionFields fields of at most MaxFieldText each, and a section
// has text or fields; context at most MaxContextElements elements; actions at most
// MaxActionElements elements with unique action_id; buttons' text, value, action_id and url
// within their limits; every text object anywhere is plain_text or mrkdwn, non-blank and at most
// MaxTextObject characters.
//
// The error is a *LimitError naming the first violation in document order, e.g.
// "blocks[3].text.text: 3120 characters, limit 3000"; nil when m is within every limit.
func CheckLimits(m Message) error {
	if isBlankText(m.Text) {
		return &LimitError{Path: "text", Problem: "empty fallback text"}
	}
	if err := checkRuneLen("text", m.Text, MaxMessageText); err != nil {
		return err
	}
	if len(m.Blocks) > MaxBlocks {
		return &LimitError{Path: "blocks", Problem: fmt.Sprintf("%d blocks, limit %d", len(m.Blocks), MaxBlocks)}
	}
	raw, err := json.Marshal(m.Blocks)
	if err != nil {
		return &LimitError{Path: "blocks", Problem: "cannot marshal: " + err.Error()}
	}
	var blocks []any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return &LimitError{Path: "blocks", Problem: "cannot unmarshal: " + err.Error()}
	}
	blockIDs := map[string]bool{}
	for i, b := range blocks {
		path := "blocks[" + strconv.Itoa(i) + "]"
		obj, ok := b.(map[string]any)
		if !ok {
			return &LimitError{Path: path, Problem: "not an object"}
		}
		if id, _ := obj["block_id"].(string); id != "" {
			if err := checkRuneLen(path+".block_id", id, MaxBlockID); err != nil {
				return err
			}
			if blockIDs[id] {
				return &LimitError{Path: path + ".block_id", Problem: fmt.Sprintf("duplicate block_id %q", id)}
			}
			blockIDs[id] = true
		}
		if err := checkBlock(path, obj); err != nil {
			return err
		}
		// Whatever the block type, no text object inside it may be blank or too long.
		if err := walkTextObjects(path, obj); err != nil {
			return err
		}
	}
	return nil
}

// checkBlock applies the limits specific to a block's type.
func checkBlock(path string, b map[string]any) error {
	switch typ, _ := b["type"].(string); typ {
	case "header":
		text, ok := b["text"].(map[string]any)
		if !ok {
			return &LimitError{Path: path + ".text", Problem: "missing"}
		}
		if t, _ := text["type"].(string); t != "plain_text" {
			return &LimitError{Path: path + ".text.type", Problem: fmt.Sprintf("%q, must be plain_text", t)}
		}
		s, _ := text["text"].(string)
		return checkRuneLen(path+".text.text", s, MaxHeaderText)
	case "section":
		fields, _ := b["fields"].([]any)
		text, hasText := b["text"].(map[string]any)
		if !hasText && len(fields) == 0 {
			return &LimitError{Path: path, Problem: "section without text or fields"}
		}
		if hasText {
			s, _ := text["text"].(string)
			if err := checkRuneLen(path+".text.text", s, MaxTextObject); err != nil {
				return err
			}
		}
		if len(fields) > MaxSectionFields {
			return &LimitError{Path: path + ".fields", Problem: fmt.Sprintf("%d fields, limit %d", len(fields), MaxSectionFields)}
		}
		for j, f := range fields {
			fo, _ := f.(map[string]any)
			s, _ := fo["text"].(string)
			if err := checkRuneLen(fmt.Sprintf("%s.fields[%d].text", path, j), s, MaxFieldText); err != nil {
				return err
			}
		}
		if acc, ok := b["accessory"].(map[string]any); ok {
			return checkElement(path+".accessory", acc)
		}
	case "context":
		elems, _ := b["elements"].([]any)
		if len(elems) == 0 {
			return &LimitError{Path: path + ".elements", Problem: "no elements"}
		}
		if len(elems) > MaxContextElements {
			return &LimitError{Path: path + ".elements", Problem: fmt.Sprintf("%d elements, limit %d", len(elems), MaxContextElements)}
		}
	case "actions":
		elems, _ := b["elements"].([]any)
		if len(elems) == 0 {
			return &LimitError{Path: path + ".elements", Problem: "no elements"}
		}
		if len(elems) > MaxActionElements {
			return &LimitError{Path: path + ".elements", Problem: fmt.Sprintf("%d elements, limit %d", len(elems), MaxActionElements)}
		}
		ids := map[string]bool{}
		for j, e := range elems {
			ep := fmt.Sprintf("%s.elements[%d]", path, j)
			eo, _ := e.(map[string]any)
			if err := checkElement(ep, eo); err != nil {
				return err
			}
			if id, _ := eo["action_id"].(string); id != "" {
				if ids[id] {
					return &LimitError{Path: ep + ".action_id", Problem: fmt.Sprintf("duplicate action_id %q", id)}
				}
				ids[id] = true
			}
		}
	case "":
		return &LimitError{Path: path + ".type", Problem: "missing"}
	}
	return nil
}

// checkElement applies the limits of an interactive element (a button, as taskbot uses).
func checkElement(path string, e map[string]any) error {
	if id, _ := e["action_id"].(string); id != "" {
		if err := checkRuneLen(path+".action_id", id, MaxActionID); err != nil {
			return err
		}
	}
	if typ, _ := e["type"].(string); typ != "button" {
		return nil
	}
	text, ok := e["text"].(map[string]any)
	if !ok {
		return &LimitError{Path: path + ".text", Problem: "missing"}
	}
	if t, _ := text["type"].(string); t != "plain_text" {
		return &LimitError{Path: path + ".text.type", Problem: fmt.Sprintf("%q, must be plain_text", t)}
	}
	s, _ := text["text"].(string)
	if err := checkRuneLen(path+".text.text", s, MaxButtonText); err != nil {
		return err
	}
	v, _ := e["value"].(string)
	if err := checkRuneLen(path+".value", v, MaxButtonValue); err != nil {
		return err
	}
	u, _ := e["url"].(string)
	return checkRuneLen(path+".url", u, MaxButtonURL)
}

// walkTextObjects finds every text object (an object whose type is "plain_text" or "mrkdwn")
// under v, in document order (object keys sorted), and checks that its text is non-blank and at
// most MaxTextObject characters.
func walkTextObjects(path string, v any) error {
	switch v := v.(type) {
	case map[string]any:
		if typ, _ := v["type"].(string); typ == "plain_text" || typ == "mrkdwn" {
			s, _ := v["text"].(string)
			if isBlankText(s) {
				return &LimitError{Path: path + ".text", Problem: "empty text"}
			}
			return checkRuneLen(path+".text", s, MaxTextObject)
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if err := walkTextObjects(path+"."+k, v[k]); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := walkTextObjects(path+"["+strconv.Itoa(i)+"]", e); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkRuneLen reports s longer than limit characters (runes, as Slack counts).
func checkRuneLen(path, s string, limit int) error {
	if n := utf8.RuneCountInString(s); n > limit {
		return &LimitError{Path: path, Problem: fmt.Sprintf("%d characters, limit %d", n, limit)}
	}
	return nil
}

// isBlankText reports whether s shows nothing: no rune that is graphic and not a space. Empty,
// whitespace-only and zero-width-only strings are blank.
func isBlankText(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsGraphic(r) && !unicode.IsSpace(r) })
}

// maxBlocksChars is the most characters of text taskbot puts into one message's blocks: Slack
// answers msg_blocks_too_long beyond about 13,000 in total, a limit it does not document.
const maxBlocksChars = 12_000

// blocksChars counts the characters of every text in m's blocks.
func blocksChars(m Message) int {
	raw, err := json.Marshal(m.Blocks)
	if err != nil {
		return 0
	}
	var blocks []any
	if json.Unmarshal(raw, &blocks) != nil {
		return 0
	}
	n := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if t, ok := v["text"].(string); ok {
				n += utf8.RuneCountInString(t)
			}
			for k, c := range v {
				if k != "text" {
					walk(c)
				} else if _, isString := c.(string); !isString {
					walk(c)
				}
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(blocks)
	return n
}

// Shorten is m cut down for a second try after Slack refused it as built: its first section
// (text cut to 1,000 characters, at most four fields) and its last context block, and the same
// fallback text. It always passes CheckLimits.
func Shorten(m Message) Message {
	out := Message{Text: truncate(m.Text, FallbackTextTarget)}
	if isBlankText(out.Text) {
		out.Text = "Task update"
	}
	var ctx slack.Block
	for _, b := range m.Blocks {
		switch b := b.(type) {
		case *slack.SectionBlock:
			if len(out.Blocks) > 0 {
				continue
			}
			sec := &slack.SectionBlock{Type: slack.MBTSection}
			if b.Text != nil && !isBlankText(b.Text.Text) {
				sec.Text = mrkdwnText(truncate(b.Text.Text, 1000))
			}
			for _, f := range b.Fields[:min(len(b.Fields), 4)] {
				if f != nil && !isBlankText(f.Text) {
					sec.Fields = append(sec.Fields, mrkdwnText(truncate(f.Text, 300)))
				}
			}
			if sec.Text == nil && len(sec.Fields) == 0 {
				continue
			}
			out.Blocks = append(out.Blocks, sec)
		case *slack.ContextBlock:
			ctx = b
		}
	}
	if ctx != nil {
		out.Blocks = append(out.Blocks, ctx)
	}
	if CheckLimits(out) != nil {
		out.Blocks = nil
	}
	return out
}
