package bot

import (
	"errors"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

func TestCheckLimits(t *testing.T) {
	md := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
	}
	pt := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
	}
	section := func(s string) slack.Block { return slack.NewSectionBlock(md(s), nil, nil) }
	sections := func(n int) []slack.Block {
		bs := make([]slack.Block, n)
		for i := range bs {
			bs[i] = section("task")
		}
		return bs
	}
	fields := func(n, size int) []*slack.TextBlockObject {
		fs := make([]*slack.TextBlockObject, n)
		for i := range fs {
			fs[i] = md(strings.Repeat("f", size))
		}
		return fs
	}
	button := func(actionID, value, text string) slack.BlockElement {
		return slack.NewButtonBlockElement(actionID, value, pt(text))
	}
	buttons := func(n int) []slack.BlockElement {
		bs := make([]slack.BlockElement, n)
		for i := range bs {
			bs[i] = button("a"+strings.Repeat("x", i), "v", "Go")
		}
		return bs
	}
	contextOf := func(n int) slack.Block {
		es := make([]slack.MixedElement, n)
		for i := range es {
			es[i] = md("c")
		}
		return slack.NewContextBlock("", es...)
	}
	withID := func(id string) slack.Block {
		s := slack.NewSectionBlock(md("x"), nil, nil)
		s.BlockID = id
		return s
	}

	for _, tc := range []struct {
		name    string
		msg     Message
		wantErr string // "" for none
	}{
		{"at every limit", Message{Text: strings.Repeat("t", MaxMessageText), Blocks: append([]slack.Block{
			slack.NewHeaderBlock(pt(strings.Repeat("h", MaxHeaderText))),
			section(strings.Repeat("s", MaxTextObject)),
			slack.NewSectionBlock(nil, fields(MaxSectionFields, MaxFieldText), nil),
			contextOf(MaxContextElements),
			slack.NewActionBlock("", buttons(MaxActionElements)...),
			slack.NewActionBlock("", button(strings.Repeat("i", MaxActionID), strings.Repeat("v", MaxButtonValue), strings.Repeat("b", MaxButtonText))),
			withID(strings.Repeat("b", MaxBlockID)),
			slack.NewDividerBlock(),
		}, sections(MaxBlocks-8)...)}, ""},
		{"characters, not bytes", Message{Text: "t", Blocks: []slack.Block{section(strings.Repeat("é", MaxTextObject))}}, ""},

		{"51 blocks", Message{Text: "t", Blocks: sections(51)}, "blocks: 51 blocks, limit 50"},
		{"3001-character section", Message{Text: "t", Blocks: []slack.Block{section("a"), section(strings.Repeat("é", 3001))}},
			"blocks[1].text.text: 3001 characters, limit 3000"},
		{"3120-character section", Message{Text: "t", Blocks: append(sections(3), section(strings.Repeat("x", 3120)))},
			"blocks[3].text.text: 3120 characters, limit 3000"},
		{"11 fields", Message{Text: "t", Blocks: []slack.Block{slack.NewSectionBlock(nil, fields(11, 1), nil)}},
			"blocks[0].fields: 11 fields, limit 10"},
		{"2001-character field", Message{Text: "t", Blocks: []slack.Block{slack.NewSectionBlock(md("x"), fields(2, 2001), nil)}},
			"blocks[0].fields[0].text: 2001 characters, limit 2000"},
		{"151-character header", Message{Text: "t", Blocks: []slack.Block{slack.NewHeaderBlock(pt(strings.Repeat("h", 151)))}},
			"blocks[0].text.text: 151 characters, limit 150"},
		{"mrkdwn header", Message{Text: "t", Blocks: []slack.Block{slack.NewHeaderBlock(md("h"))}},
			`blocks[0].text.type: "mrkdwn", must be plain_text`},
		{"empty section text", Message{Text: "t", Blocks: []slack.Block{section("ok"), section("")}},
			"blocks[1].text.text: empty text"},
		{"blank section text", Message{Text: "t", Blocks: []slack.Block{section(" \n\t\u200b")}},
			"blocks[0].text.text: empty text"},
		{"empty field", Message{Text: "t", Blocks: []slack.Block{slack.NewSectionBlock(md("x"), []*slack.TextBlockObject{md("a"), md("")}, nil)}},
			"blocks[0].fields[1].text: empty text"},
		{"empty context element", Message{Text: "t", Blocks: []slack.Block{slack.NewContextBlock("", md(" "))}},
			"blocks[0].elements[0].text: empty text"},
		{"empty button text", Message{Text: "t", Blocks: []slack.Block{slack.NewActionBlock("", button("a", "v", ""))}},
			"blocks[0].elements[0].text.text: empty text"},
		{"empty header", Message{Text: "t", Blocks: []slack.Block{slack.NewHeaderBlock(pt(""))}},
			"blocks[0].text.text: empty text"},
		{"section without text or fields", Message{Text: "t", Blocks: []slack.Block{slack.NewSectionBlock(nil, nil, nil)}},
			"blocks[0]: section without text or fields"},
		{"11 context elements", Message{Text: "t", Blocks: []slack.Block{contextOf(11)}},
			"blocks[0].elements: 11 elements, limit 10"},
		{"empty context", Message{Text: "t", Blocks: []slack.Block{contextOf(0)}},
			"blocks[0].elements: no elements"},
		{"26 buttons", Message{Text: "t", Blocks: []slack.Block{slack.NewActionBlock("", buttons(26)...)}},
			"blocks[0].elements: 26 elements, limit 25"},
		{"76-character button", Message{Text: "t", Blocks: []slack.Block{slack.NewActionBlock("", button("a", "v", strings.Repeat("b", 76)))}},
			"blocks[0].elements[0].text.text: 76 characters, limit 75"},
		{"2001-character value", Message{Text: "t", Blocks: []slack.Block{slack.NewActionBlock("", button("a", strings.Repeat("v", 2001), "Go"))}},
			"blocks[0].elements[0].value: 2001 characters, limit 2000"},
		{"256-character action_id", Message{Text: "t", Blocks: []slack.Block{slack.NewActionBlock("", button(strings.Repeat("a", 256), "v", "Go"))}},
			"blocks[0].elements[0].action_id: 256 characters, limit 255"},
		{"duplicate action_id", Message{Text: "t", Blocks: []slack.Block{slack.NewActionBlock("", button("a", "1", "Go"), button("a", "2", "Go"))}},
			`blocks[0].elements[1].action_id: duplicate action_id "a"`},
		{"256-character block_id", Message{Text: "t", Blocks: []slack.Block{withID(strings.Repeat("b", 256))}},
			"blocks[0].block_id: 256 characters, limit 255"},
		{"duplicate block_id", Message{Text: "t", Blocks: []slack.Block{withID("x"), withID("x")}},
			`blocks[1].block_id: duplicate block_id "x"`},
		{"empty fallback text", Message{Blocks: []slack.Block{section("x")}}, "text: empty fallback text"},
		{"blank fallback text", Message{Text: " \n", Blocks: []slack.Block{section("x")}}, "text: empty fallback text"},
		{"40,001-character fallback text", Message{Text: strings.Repeat("t", 40001)}, "text: 40001 characters, limit 40000"},
		{"first violation wins", Message{Text: "t", Blocks: []slack.Block{section(""), section(strings.Repeat("x", 3001))}},
			"blocks[0].text.text: empty text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckLimits(tc.msg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("CheckLimits: %v", err)
			case tc.wantErr == "":
				return
			case err == nil:
				t.Fatalf("CheckLimits = nil, want %q", tc.wantErr)
			case err.Error() != tc.wantErr:
				t.Fatalf("CheckLimits = %q, want %q", err, tc.wantErr)
			}
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *LimitError", err)
			}
			if !strings.HasPrefix(tc.wantErr, le.Path+": ") {
				t.Errorf("Path = %q, want the prefix of %q", le.Path, tc.wantErr)
			}
		})
	}
}
