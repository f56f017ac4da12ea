package bot

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks/announce"
)

// Digest layout bounds: a tenant's line names at most digestTitles tasks per kind; lines are
// packed into sections of at most digestSectionChars; tenants are listed while the message
// stays under digestChars of block text (maxBlocksChars less room for the head and the foot)
// and digestSections sections, the rest summed up in one line.
const (
	digestTitles       = 3
	digestTitleMax     = 60
	digestSectionChars = 2_800
	digestChars        = maxBlocksChars - 1_500
	digestSections     = MaxBlocks - 5
)

// RenderDigest renders a channel's daily digest: a headline with the totals (failures since the
// previous digest, tasks stuck and paused now, muted announcements), one line per tenant (most failures
// first) with the first failed and stuck titles, and "…and N more tenants" with their totals
// when 500 tenants do not fit Block Kit's limits (CheckLimits and maxBlocksChars hold for any
// number). A quiet day says so in one line.
func RenderDigest(d *announce.Digest, now time.Time) Message {
	day := d.Date
	if t, err := time.Parse(time.DateOnly, d.Date); err == nil {
		day = t.Format("Mon 2 Jan 2006")
	}
	title := ":sunrise: *Daily digest* · " + escapeCut(day, nameMax)
	tally := digestTally(d.Failed, len(d.Tenants), d.Paused, d.Stuck, d.Muted)
	m := Message{Text: truncate("Daily digest "+escapeCut(d.Date, nameMax)+": "+digestPlain(d), FallbackTextTarget)}
	m.Blocks = append(m.Blocks, mrkdwnSection(title+"\n"+tally))

	var sections []string
	var cur strings.Builder
	used := len(title) + len(tally)
	shown := 0
	for _, t := range d.Tenants {
		line := digestLine(t, now)
		if used+len(line) > digestChars || len(sections) >= digestSections {
			break
		}
		if cur.Len()+len(line)+1 > digestSectionChars {
			sections = append(sections, cur.String())
			cur.Reset()
			if len(sections) >= digestSections {
				break
			}
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(line)
		used += len(line) + 1
		shown++
	}
	if cur.Len() > 0 {
		sections = append(sections, cur.String())
	}
	for _, s := range sections {
		m.Blocks = append(m.Blocks, mrkdwnSection(s))
	}
	if rest := d.Tenants[shown:]; len(rest) > 0 {
		var f, p, s int
		for _, t := range rest {
			f, p, s = f+t.Failed, p+t.Paused, s+t.Stuck
		}
		m.Blocks = append(m.Blocks, mrkdwnSection(fmt.Sprintf("…and %d more %s: %s. `/tasks failed tenant:NAME` lists one tenant's failures.",
			len(rest), plural(len(rest), "tenant", "tenants"), digestCounts(f, p, s))))
	}
	foot := fmt.Sprintf("Failures and muted announcements from %s to %s · paused and stuck as of %s",
		slackDate(d.From), slackDate(d.To), slackDate(now))
	m.Blocks = append(m.Blocks, slack.NewContextBlock("", mrkdwnText(foot)))
	return m
}

// digestTally is the digest's headline: "*12 failed* since the last digest · now *2 stuck*,
// *7 paused* · 4 tenants · 5 announcements muted" (counts of zero left out), or the quiet
// day's line. A stuck paused task counts once, as stuck.
func digestTally(failed, tenants, paused, stuck, muted int) string {
	var parts []string
	if failed == 0 && paused == 0 && stuck == 0 {
		parts = append(parts, ":white_check_mark: No failures since the last digest; nothing paused or stuck now")
	} else {
		if failed > 0 {
			parts = append(parts, fmt.Sprintf("*%d failed* since the last digest", failed))
		}
		var now []string
		if stuck > 0 {
			now = append(now, fmt.Sprintf("*%d stuck*", stuck))
		}
		if paused > 0 {
			now = append(now, fmt.Sprintf("*%d paused*", paused))
		}
		if len(now) > 0 {
			parts = append(parts, "now "+strings.Join(now, ", "))
		}
		parts = append(parts, fmt.Sprintf("%d %s", tenants, plural(tenants, "tenant", "tenants")))
	}
	if muted > 0 {
		parts = append(parts, fmt.Sprintf("%d %s muted", muted, plural(muted, "announcement", "announcements")))
	}
	return strings.Join(parts, " · ")
}

// digestPlain is the headline as plain text for notifications: "3 failed, 2 stuck, 1 paused"
// or "all quiet".
func digestPlain(d *announce.Digest) string {
	var parts []string
	for _, c := range []struct {
		n    int
		word string
	}{{d.Failed, "failed"}, {d.Stuck, "stuck"}, {d.Paused, "paused"}, {d.Muted, "muted"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.word))
		}
	}
	if len(parts) == 0 {
		return "all quiet"
	}
	return strings.Join(parts, ", ")
}

func digestCounts(failed, paused, stuck int) string {
	return fmt.Sprintf("%d failed, %d paused, %d stuck", failed, paused, stuck)
}

// digestLine is one tenant's line: "• *Acme* — :x: 3 failed: A, B, C · 2 paused · :rotating_light:
// 1 stuck: D (paused for 5h)".
func digestLine(t announce.DigestTenant, now time.Time) string {
	var parts []string
	if t.Failed > 0 {
		p := fmt.Sprintf(":x: %d failed", t.Failed)
		var titles []string
		for _, x := range t.FailedFirst[:min(len(t.FailedFirst), digestTitles)] {
			titles = append(titles, escapeCut(x.Title, digestTitleMax))
		}
		if len(titles) > 0 {
			p += ": " + strings.Join(titles, ", ")
			if more := t.Failed - len(titles); more > 0 {
				p += fmt.Sprintf(" and %d more", more)
			}
		}
		parts = append(parts, p)
	}
	if t.Paused > 0 {
		parts = append(parts, fmt.Sprintf(":double_vertical_bar: %d paused", t.Paused))
	}
	if t.Stuck > 0 {
		p := fmt.Sprintf(":rotating_light: %d stuck", t.Stuck)
		var titles []string
		for _, x := range t.StuckFirst[:min(len(t.StuckFirst), digestTitles)] {
			s := escapeCut(x.Title, digestTitleMax)
			if !x.Since.IsZero() {
				s += " (" + escapeCut(string(x.State), nameMax) + " for " + humanDuration(now.Sub(x.Since)) + ")"
			}
			titles = append(titles, s)
		}
		if len(titles) > 0 {
			p += ": " + strings.Join(titles, ", ")
		}
		parts = append(parts, p)
	}
	return "• " + mrkdwnBold(escapeCut(t.Label(), nameMax)) + " — " + strings.Join(parts, " · ")
}
