package bot

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// PlainText renders m for a terminal (`taskbot demo`, `taskbot tasks`): one line per header,
// section lines indented by two spaces (fields by four, "*Tenant*\nvalue" as "Tenant: value"),
// context lines indented and led by "— ", buttons as "[Refresh]", dividers as a rule, and a
// blank line between consecutive sections. mrkdwn markers (*bold*, :emoji:) are kept; Slack's
// special tokens become their readable form (a date token its UTC fallback, an {ago} one "5m ago", <url|label>
// "label (url)", <@U123> "@U123", <!here> "@here"); &amp; &lt; &gt; are decoded. No ANSI codes.
// The result ends with a newline; a message without blocks renders as its Text.
func PlainText(m Message) string {
	var blocks []map[string]any
	if raw, err := json.Marshal(m.Blocks); err == nil {
		_ = json.Unmarshal(raw, &blocks)
	}
	if len(blocks) == 0 {
		return terminalText(m.Text) + "\n"
	}
	var out []string
	prev := ""
	for _, b := range blocks {
		typ, _ := b["type"].(string)
		switch typ {
		case "header":
			out = append(out, terminalText(textOf(b["text"])))
		case "section":
			if prev == "section" {
				out = append(out, "")
			}
			if s := textOf(b["text"]); s != "" {
				out = appendIndented(out, "  ", terminalText(s))
			}
			fields, _ := b["fields"].([]any)
			for _, f := range fields {
				out = appendIndented(out, "    ", terminalText(fieldLine(textOf(f))))
			}
			if acc, ok := b["accessory"].(map[string]any); ok {
				if s := textOf(acc["text"]); s != "" {
					out = append(out, "  ["+terminalText(s)+"]")
				}
			}
		case "context":
			elems, _ := b["elements"].([]any)
			var parts []string
			for _, e := range elems {
				if s := textOf(e); s != "" {
					parts = append(parts, terminalText(s))
				}
			}
			if len(parts) > 0 {
				out = append(out, "  — "+strings.Join(parts, " · "))
			}
		case "actions":
			elems, _ := b["elements"].([]any)
			var buttons []string
			for _, e := range elems {
				eo, _ := e.(map[string]any)
				if s := textOf(eo["text"]); s != "" {
					buttons = append(buttons, "["+terminalText(s)+"]")
				}
			}
			if len(buttons) > 0 {
				out = append(out, strings.Join(buttons, " "))
			}
		case "divider":
			out = append(out, "  ────────")
		default:
			if s := textOf(b["text"]); s != "" {
				out = appendIndented(out, "  ", terminalText(s))
			}
		}
		prev = typ
	}
	return strings.Join(out, "\n") + "\n"
}

// textOf is the text of a text object ({"type":…,"text":…}), or "".
func textOf(v any) string {
	o, _ := v.(map[string]any)
	s, _ := o["text"].(string)
	return s
}

// appendIndented appends each line of s with prefix.
func appendIndented(out []string, prefix, s string) []string {
	for line := range strings.SplitSeq(s, "\n") {
		out = append(out, prefix+line)
	}
	return out
}

// fieldLabel matches a field written as "*Label*\nvalue".
var fieldLabel = regexp.MustCompile(`^\*([^*\n]+)\*\n`)

// fieldLine puts a section field on one line: "*Tenant*\nCustomer B" becomes
// "Tenant: Customer B"; other newlines become spaces.
func fieldLine(s string) string {
	if m := fieldLabel.FindStringSubmatchIndex(s); m != nil {
		s = s[m[2]:m[3]] + ": " + s[m[1]:]
	}
	return strings.ReplaceAll(s, "\n", " ")
}

// terminalText turns mrkdwn into terminal text: Slack's <…> tokens become their readable form
// (https://api.slack.com/reference/surfaces/formatting), then &amp; &lt; &gt; are decoded.
// A '<' without its '>' is kept as is.
func terminalText(s string) string {
	var b strings.Builder
	for {
		open := strings.IndexByte(s, '<')
		if open < 0 {
			break
		}
		end := strings.IndexByte(s[open:], '>')
		if end < 0 {
			break
		}
		b.WriteString(unescapeSlack(s[:open]))
		b.WriteString(readableToken(s[open+1 : open+end]))
		s = s[open+end+1:]
	}
	b.WriteString(unescapeSlack(s))
	return b.String()
}

// readableToken is the terminal form of the inside of a Slack <…> token.
func readableToken(tok string) string {
	target, label, hasLabel := strings.Cut(tok, "|")
	target, label = unescapeSlack(target), unescapeSlack(label)
	switch {
	case strings.HasPrefix(target, "!date^"):
		// A {ago} token reads as the time since, as Slack shows it; others as their fallback.
		if parts := strings.Split(target, "^"); len(parts) >= 3 && parts[2] == "{ago}" {
			if sec, err := strconv.ParseInt(parts[1], 10, 64); err == nil {
				return humanDuration(time.Since(time.Unix(sec, 0))) + " ago"
			}
		}
		if hasLabel {
			return label
		}
		return target
	case strings.HasPrefix(target, "@"), strings.HasPrefix(target, "#"):
		if hasLabel {
			return target[:1] + label
		}
		return target
	case strings.HasPrefix(target, "!"):
		if hasLabel {
			return label
		}
		name, _, _ := strings.Cut(target[1:], "^")
		return "@" + name
	case hasLabel:
		return label + " (" + target + ")"
	}
	return target
}
