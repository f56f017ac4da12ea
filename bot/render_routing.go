package bot

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks/announce"
)

// Budgets of the subscription and mute lists, in characters of escaped text. An entry is at
// most about 600 characters, the entries of one message at most entriesMax: far below
// maxBlocksChars, however many there are.
const (
	entriesMax   = 8000 // every entry of one message
	entryNameMax = 150  // a tenant or a mute's target
	entryListMax = 300  // a subscription's events
	entryWhyMax  = 300  // a mute's reason
	userIDMax    = 40   // a Slack user ID
)

// RenderSubscriptions renders the answer to `/tasks subscriptions`: the subscriptions of
// channel (a channel ID; subscriptions of other channels in subs are ignored), the all-tenants
// one first, then by tenant name. Each shows its tenant ("All tenants" when it has none), its
// events (defaults, marked as the default, when it names none), and who subscribed and when.
// As many as fit are shown, then "and N more". Without subscriptions the answer says how to
// subscribe. User IDs are shown as text, not as mentions: listing them notifies nobody.
func RenderSubscriptions(channel string, subs []announce.Subscription, defaults []string) Message {
	var mine []announce.Subscription
	for _, s := range subs {
		if s.Channel == channel {
			mine = append(mine, s)
		}
	}
	slices.SortStableFunc(mine, func(a, b announce.Subscription) int {
		if (a.Tenant == "") != (b.Tenant == "") { // all tenants first
			if a.Tenant == "" {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(strings.ToLower(a.Tenant), strings.ToLower(b.Tenant)); c != 0 {
			return c
		}
		return a.At.Compare(b.At)
	})
	def := eventList(defaults)
	if def == "" {
		def = "the default events"
	}

	if len(mine) == 0 {
		text := "This channel has no subscriptions."
		return Message{Text: text, Blocks: []slack.Block{mrkdwnSection(text + " `/tasks subscribe` sends it announcements of " + def +
			" for all tenants; `/tasks subscribe failed tenant:\"Acme Corp\"` only failures of one tenant.")}}
	}

	m := Message{Text: fmt.Sprintf("This channel has %d %s.", len(mine), plural(len(mine), "subscription", "subscriptions"))}
	m.Blocks = append(m.Blocks, slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType,
		"Subscriptions of this channel — "+strconv.Itoa(len(mine)), false, false)))
	var shown int
	m.Blocks, shown = packEntries(m.Blocks, len(mine), func(i int) string {
		s := mine[i]
		tenant := "All tenants"
		if e := escapeCut(s.Tenant, entryNameMax); !isBlankText(e) {
			tenant = e
		} else if s.Tenant != "" {
			tenant = "(a tenant without a name)"
		}
		events := eventList(s.Events)
		if events == "" {
			events = def + " (the default)"
		}
		line := "• " + mrkdwnBold(tenant) + ": " + events
		var who []string
		if by := escapeCut(s.By, userIDMax); !isBlankText(by) {
			who = append(who, "by "+by)
		}
		if !s.At.IsZero() {
			who = append(who, slackDate(s.At))
		}
		if len(who) > 0 {
			line += " · " + strings.Join(who, ", ")
		}
		return line
	})
	footer := "`/tasks unsubscribe` removes them all, `/tasks unsubscribe tenant:NAME` one tenant's"
	if rest := len(mine) - shown; rest > 0 {
		footer = fmt.Sprintf("and %d more · %s", rest, footer)
	}
	m.Blocks = append(m.Blocks, slack.NewContextBlock("", mrkdwnText(footer)))
	return m
}

// eventList is events, escaped and comma-separated, cut to entryListMax; "" for none.
func eventList(events []string) string {
	var out []string
	for _, e := range events {
		out = appendName(out, e)
		if len(out) > 20 { // more than any valid list; the rest would be cut anyway
			break
		}
	}
	return truncate(strings.Join(out, ", "), entryListMax)
}

// RenderMutes renders the answer to `/tasks mutes`: the mutes active at now (any zone), by
// number, each with its number N for `/tasks unmute N`, its target (Mute.Target), the time
// left and when it ends (a date token), who muted it and the reason. As many as fit are shown,
// then "and N more". Without active mutes the answer says how to mute. User IDs are shown as
// text, not as mentions.
func RenderMutes(mutes []announce.Mute, now time.Time) Message {
	var active []announce.Mute
	for _, mu := range mutes {
		if mu.Active(now) {
			active = append(active, mu)
		}
	}
	slices.SortStableFunc(active, func(a, b announce.Mute) int { return cmp.Compare(a.N, b.N) })

	if len(active) == 0 {
		text := "No active mutes: every announcement is posted."
		return Message{Text: text, Blocks: []slack.Block{mrkdwnSection(text + " `/tasks mute task:ID 2h [reason]` silences one task's " +
			"announcements in every channel (also `tenant:NAME` and `plan:NAME`; at most 30 days).")}}
	}

	m := Message{Text: fmt.Sprintf("%d active %s.", len(active), plural(len(active), "mute", "mutes"))}
	m.Blocks = append(m.Blocks, slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType,
		"Active mutes — "+strconv.Itoa(len(active)), false, false)))
	var shown int
	m.Blocks, shown = packEntries(m.Blocks, len(active), func(i int) string {
		mu := active[i]
		mu.Value = cutBytes(mu.Value, 4*entryNameMax) // Target quotes it whole
		target := escapeCut(mu.Target(), entryNameMax)
		line := "• " + mrkdwnBold("#"+strconv.FormatUint(mu.N, 10)) + " " + target + " — " +
			humanDuration(mu.Until.Sub(now)) + " left, until " + slackDate(mu.Until)
		if by := escapeCut(mu.By, userIDMax); !isBlankText(by) {
			line += ", by " + by
		}
		if why := escapeCut(mu.Reason, entryWhyMax); !isBlankText(why) {
			line += ": " + why
		}
		return line
	})
	footer := "`/tasks unmute N` ends mute N · as of " + slackDate(now)
	if rest := len(active) - shown; rest > 0 {
		footer = fmt.Sprintf("and %d more · %s", rest, footer)
	}
	m.Blocks = append(m.Blocks, slack.NewContextBlock("", mrkdwnText(footer)))
	return m
}

// packEntries appends sections holding line(0), line(1), …, one a line, each section at most
// MaxTextObject characters, until n lines or entriesMax characters in all. It returns the
// blocks and how many lines they show. A line must be at most a few hundred characters.
func packEntries(blocks []slack.Block, n int, line func(i int) string) ([]slack.Block, int) {
	var b strings.Builder
	size, total, shown := 0, 0, 0
	flush := func() {
		if b.Len() > 0 {
			blocks = append(blocks, mrkdwnSection(b.String()))
			b.Reset()
			size = 0
		}
	}
	for i := range n {
		l := line(i)
		k := utf8.RuneCountInString(l)
		if total+k > entriesMax {
			break
		}
		if size > 0 && size+1+k > MaxTextObject {
			flush()
		}
		if size > 0 {
			b.WriteByte('\n')
			size++
		}
		b.WriteString(l)
		size += k
		total += k + 1
		shown++
	}
	flush()
	return blocks, shown
}

// plural is one when n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// cutBytes is s cut to at most n bytes, without a partial rune at the end.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}
