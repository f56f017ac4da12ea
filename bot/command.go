package bot

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/announce"
)

// Verb is what a slash command asks taskbot to do.
type Verb int

// The verbs of `/tasks` (README, "Slash command /tasks").
const (
	// List lists tasks: `/tasks [STATE…] [failed] [tenant:NAME…]`. The zero Command.
	List Verb = iota
	// Help: `/tasks help` (also -h, --help, ?).
	Help
	// Show: `/tasks show ID`, one task in full.
	Show
	// Subscribe: `/tasks subscribe [EVENT…] [tenant:NAME…]`.
	Subscribe
	// Unsubscribe: `/tasks unsubscribe [tenant:NAME…]`.
	Unsubscribe
	// Subscriptions: `/tasks subscriptions`, this channel's.
	Subscriptions
	// Mute: `/tasks mute task:ID|tenant:NAME|plan:NAME DURATION [REASON…]`.
	Mute
	// Mutes: `/tasks mutes`, the active mutes with their numbers.
	Mutes
	// Unmute: `/tasks unmute N`.
	Unmute
	// Scope: `/tasks scope tenant:NAME…` (Tenants), `/tasks scope` (no Tenants, not All) or
	// `/tasks scope all` (All).
	Scope
)

// Command is a parsed `/tasks` slash command (README, "Slash command /tasks";
// https://api.slack.com/interactivity/slash-commands). The zero Command is the default
// `/tasks`: tasks in progress (started and paused).
type Command struct {
	// Verb is what the command asks for; the fields below that do not belong to it are empty.
	Verb Verb
	// Help is set for `/tasks help` (Verb Help); the other fields are then empty.
	Help bool
	// States are the execution states asked for (List), deduplicated, in lifecycle order
	// (tasks.States); nil together with !Failed means the default (started, paused).
	States []tasks.State
	// Failed asks for tasks that completed with a failing result code (List). It is never set
	// together with tasks.Completed in States, which already covers failed tasks.
	Failed bool
	// Tenants are the tenant:NAME words (List, Subscribe, Unsubscribe, Scope): tenant names
	// or IDs, to be matched with tasks.TenantIs; unquoted, trimmed, with Slack's entities
	// decoded (plain text: Escape it for mrkdwn), deduplicated ignoring case, in the order
	// given, at most 8. Several mean any of them; nil means every tenant.
	//
	// A listing's Queries do not filter by tenant — the Task Manager API has no tenant
	// filter — so whoever runs them keeps only the tasks of these tenants (after fetching, so
	// a listing for one tenant may show fewer tasks than CommandMaxTasks allows).
	Tenants []string
	// ID is the task of Show, in the API's form: a decimal id (idString, no leading zeros,
	// fits an int64) or a UUID in lower case. Never unchecked user text.
	ID string
	// Events are the events of Subscribe, as TASKBOT_ANNOUNCE_STATES names them: enqueued,
	// assigned, started, paused, completed, failed; deduplicated, in that order ("failed"
	// is kept next to "completed"); nil means the default (TASKBOT_ANNOUNCE_STATES).
	Events []string
	// MuteKind and MuteValue are the target of Mute: MuteKind is "task", "tenant" or "plan"
	// (announce.MuteTask, MuteTenant, MutePlan); MuteValue a task ID as in ID, or a tenant or
	// plan name as in Tenants.
	MuteKind  string
	MuteValue string
	// Duration is how long a Mute lasts: whole minutes, at least one, at most announce.MaxMute.
	Duration time.Duration
	// Reason is the rest of a Mute's text, the user's words: plain text (Escape it for mrkdwn),
	// white space collapsed, at most maxReason characters; "" when none.
	Reason string
	// N is the mute number of Unmute, 1 to 1e9.
	N uint64
	// All is `/tasks scope all`.
	All bool
	// Failures are the result codes that count as failing (TASKBOT_FAILED_RESULTS), set by the
	// Answerer, not parsed; nil is tasks.DefaultFailures.
	Failures tasks.Failures
}

// Paging of the slash command's queries.
const (
	// commandPageSize is the page size (`limit`) of the slash command's queries.
	commandPageSize = 100
	// CommandMaxTasks bounds the tasks one query of a slash command collects (Query.MaxTasks),
	// so a huge result cannot exhaust memory; the reply shows the newest and counts the rest.
	CommandMaxTasks = 500
)

// Bounds of the words of a slash command. They keep the work linear in the text and every
// Refresh button's value (Command.String) under Slack's MaxButtonValue.
const (
	// longestKeyword is the byte length of the longest keyword ("subscriptions"); a longer
	// word that is not key:value is unknown without further work.
	longestKeyword = len("subscriptions")
	// maxName is how many characters a tenant: or plan: value may have (after &amp; &lt; &gt;
	// are decoded and surrounding white space trimmed).
	maxName = 100
	// maxTenants is how many different tenants one command may name: with maxName each, the
	// canonical text of a listing stays under 1,800 characters (TestCommandStringFitsAButton),
	// leaving room in a button's value.
	maxTenants = 8
)

// ParseCommand parses the text of a `/tasks` slash command as Slack sends it: the form field
// `text`, already form-decoded, with &, < and > possibly sent as &amp; &lt; &gt;
// (https://api.slack.com/interactivity/slash-commands#app_command_handling). The grammar is
// DESIGN.md's "Slash command /tasks":
//
//	[STATE…] [failed] [tenant:NAME…]         a listing (List; no words: tasks in progress)
//	help | -h | --help | ?                   Help (anywhere in a listing, or alone after a verb)
//	show ID                                  Show
//	subscribe [EVENT…] [tenant:NAME…]        Subscribe
//	unsubscribe [tenant:NAME…]               Unsubscribe
//	subscriptions | mutes                    Subscriptions, Mutes
//	mute TARGET DURATION [REASON…]           Mute
//	unmute N                                 Unmute
//	scope [tenant:NAME… | all]               Scope
//
// Invisible characters (Unicode Cf, control characters) are dropped first. Words are
// separated by any Unicode white space (unicode.IsSpace: also NBSP U+00A0, U+0085, ideographic
// space U+3000) or commas; keywords are compared case-insensitively. STATE is one of enqueued,
// assigned, started, paused, completed; "completed" together with "failed" is just
// "completed". tenant:NAME (and plan:NAME) take a bare value or one in straight or curly
// double quotes (“…”, either kind closing either), which may hold spaces and commas; values
// are trimmed, Slack's entities decoded, at most maxName characters, and cannot hold a double
// quote.
//
// Any other text gives a *UsageError saying what is wrong, naming the first word it did not
// understand. Work is linear in len(text) and stops at the first error; text of any length is
// safe.
func ParseCommand(text string) (Command, error) {
	// Invisible characters (zero-width spaces from copy and paste, control bytes) are dropped
	// first, so "\u200bpaused" is "paused" — the same word the reply would show.
	l := &lexer{s: strings.Map(dropInvisible, text)}
	c, err := parseCommand(l)
	if err != nil {
		return Command{}, withQuoteHint(err, l)
	}
	return c, nil
}

// looksLikeName reports whether w, where a mute duration was due, is rather the rest of a name:
// more than a unit letter, and letters only (with - . ' inside words).
func looksLikeName(w string) bool {
	return utf8.RuneCountInString(w) > 1 && strings.IndexFunc(w, func(r rune) bool {
		return !unicode.IsLetter(r) && r != '-' && r != '.' && r != '\''
	}) < 0
}

// withQuoteHint adds to a word not understood right after an unquoted tenant: or plan: word
// the likely fix: `tenant:Beta Industries` meant `tenant:"Beta Industries"`.
func withQuoteHint(err *UsageError, l *lexer) *UsageError {
	k := wordKey(l.prev)
	if k != keyTenant && k != keyPlan || wordKey(l.last) != "" || err.Word != escapeCut(unescapeSlack(l.last), maxUsageWord) ||
		!strings.HasPrefix(err.Problem, "I don't understand") && !(strings.Contains(err.Problem, "is not a mute duration") && looksLikeName(l.last)) {
		return err
	}
	v, quoted := keyValue(l.prev, k)
	if quoted || v == "" {
		return err
	}
	fixed := *err
	if !strings.HasSuffix(fixed.Problem, ".") {
		fixed.Problem += "."
	}
	// 'Beta Industries' in single quotes: the quotes that work are double ones.
	name := strings.Trim(v+" "+l.last, "'‘’")
	fixed.Problem += " A name with spaces goes in quotes: " + escapeCut(unescapeSlack(k+`:"`+name+`"`), 2*maxUsageWord) + "."
	return &fixed
}

// parseCommand reads the verb and hands the rest to the verb's parser.
func parseCommand(l *lexer) (Command, *UsageError) {
	w, err := l.next()
	if err != nil || w == "" {
		return Command{}, err
	}
	verb := verbOf(w)
	if verb == List {
		return parseList(l, w)
	}
	// `/tasks mute help` and the like: help alone after a verb is help.
	start := l.pos
	if a, err := l.next(); err == nil && isHelpWord(a) {
		if b, err := l.next(); err == nil && b == "" {
			return Command{Verb: Help, Help: true}, nil
		}
	}
	l.pos = start
	switch verb {
	case Show:
		return parseShow(l)
	case Subscribe:
		return parseSubscribe(l)
	case Unsubscribe:
		return parseUnsubscribe(l)
	case Unmute:
		return parseUnmute(l)
	case Scope:
		return parseScope(l)
	case Mute:
		return parseMute(l)
	}
	// Subscriptions, Mutes: the verb alone.
	if err := l.end(verbWords[verb], "takes no more words"); err != nil {
		return Command{}, err
	}
	return Command{Verb: verb}, nil
}

// verbWords are the first words that name a verb other than List and Help, as String writes
// them.
var verbWords = [...]string{
	Show:          "show",
	Subscribe:     "subscribe",
	Unsubscribe:   "unsubscribe",
	Subscriptions: "subscriptions",
	Mute:          "mute",
	Mutes:         "mutes",
	Unmute:        "unmute",
	Scope:         "scope",
}

// verbOf is the verb the first word w names (any case); List when it names none.
func verbOf(w string) Verb {
	if len(w) <= longestKeyword {
		for v, vw := range verbWords {
			if vw != "" && strings.EqualFold(w, vw) {
				return Verb(v)
			}
		}
	}
	return List
}

// parseShow parses the words after show: one task ID.
func parseShow(l *lexer) (Command, *UsageError) {
	w, err := l.next()
	switch {
	case err != nil:
		return Command{}, err
	case w == "":
		return Command{}, usageProblem("", "/tasks show needs a task ID: "+idShape)
	case isKey(w, keyTenant):
		return Command{}, tenantNotHere(w, "show")
	}
	id, ok := taskID(w)
	if !ok {
		return Command{}, usageProblem(w, `"{word}" is not a task ID: `+idShape)
	}
	if err := l.end("show", "takes one task ID"); err != nil {
		return Command{}, err
	}
	return Command{Verb: Show, ID: id}, nil
}

// idShape says what a task ID looks like, for usage messages.
const idShape = "its number (e.g. 944455285181775872) or its UUID (e.g. 6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69)"

// taskID is w as a task ID in the API's form, and whether it is one: a decimal id of 1 to 20
// digits that fits in an int64 (idString; written without leading zeros), or a UUID
// (8-4-4-4-12 hex digits; written in lower case).
func taskID(w string) (string, bool) {
	if len(w) >= 1 && len(w) <= 20 && strings.Trim(w, "0123456789") == "" {
		n, err := strconv.ParseInt(w, 10, 64)
		return strconv.FormatInt(n, 10), err == nil
	}
	if len(w) != 36 {
		return "", false
	}
	for i := range len(w) {
		switch c := w[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return "", false
		}
	}
	return strings.ToLower(w), true
}

// eventNames are the events of TASKBOT_ANNOUNCE_STATES in lifecycle order: the states,
// "failed" (completed with a failing result code) and "stuck" (in a state too long).
var eventNames = [...]string{"enqueued", "assigned", "started", "paused", "completed", "failed", "stuck"}

// parseSubscribe parses the words after subscribe: events and tenant: words.
func parseSubscribe(l *lexer) (Command, *UsageError) {
	c := Command{Verb: Subscribe}
	var seen [len(eventNames)]bool
	for {
		w, err := l.next()
		switch {
		case err != nil:
			return Command{}, err
		case w == "":
			for i, e := range eventNames {
				if seen[i] {
					c.Events = append(c.Events, e)
				}
			}
			return c, nil
		case isKey(w, keyTenant):
			if c.Tenants, err = addTenant(c.Tenants, w); err != nil {
				return Command{}, err
			}
			continue
		}
		i := -1
		if len(w) <= longestKeyword {
			i = slices.IndexFunc(eventNames[:], func(e string) bool { return strings.EqualFold(w, e) })
		}
		if i < 0 {
			return Command{}, unknownWord(w, "/tasks subscribe takes events ("+strings.Join(eventNames[:], ", ")+") and tenant:NAME words")
		}
		seen[i] = true
	}
}

// parseUnsubscribe parses the words after unsubscribe: tenant: words.
func parseUnsubscribe(l *lexer) (Command, *UsageError) {
	c := Command{Verb: Unsubscribe}
	for {
		w, err := l.next()
		switch {
		case err != nil:
			return Command{}, err
		case w == "":
			return c, nil
		case !isKey(w, keyTenant):
			return Command{}, unknownWord(w, "/tasks unsubscribe takes only tenant:NAME words")
		}
		if c.Tenants, err = addTenant(c.Tenants, w); err != nil {
			return Command{}, err
		}
	}
}

// parseScope parses the words after scope: tenant: words, or all.
func parseScope(l *lexer) (Command, *UsageError) {
	c := Command{Verb: Scope}
	for {
		w, err := l.next()
		switch {
		case err != nil:
			return Command{}, err
		case w == "":
			return c, nil
		case strings.EqualFold(w, "all"):
			c.All = true
		case isKey(w, keyTenant):
			if c.Tenants, err = addTenant(c.Tenants, w); err != nil {
				return Command{}, err
			}
		default:
			return Command{}, unknownWord(w, "/tasks scope takes tenant:NAME words, or all")
		}
		if c.All && len(c.Tenants) > 0 {
			return Command{}, usageProblem(w, `"{word}": /tasks scope takes tenant:NAME words or all, not both`)
		}
	}
}

// muteExample is an example mute, for usage messages.
const muteExample = `e.g. /tasks mute tenant:"Acme Corp" 2h maintenance`

// parseMute parses the words after mute: TARGET DURATION [REASON…]. TARGET is task:ID (a task
// ID as for show), tenant:NAME or plan:NAME (names as for listings); DURATION is muteDuration's;
// REASON is the rest of the text, muteReason's.
func parseMute(l *lexer) (Command, *UsageError) {
	w, err := l.next()
	switch {
	case err != nil:
		return Command{}, err
	case w == "":
		return Command{}, usageProblem("", "/tasks mute needs a target and a duration, "+muteExample)
	}
	c := Command{Verb: Mute, MuteKind: wordKey(w)}
	switch c.MuteKind {
	case keyTask:
		v, _ := keyValue(w, keyTask)
		if v = strings.TrimFunc(v, unicode.IsSpace); v == "" {
			return Command{}, usageProblem("", "task: needs a task ID right after the colon, e.g. "+example(keyTask))
		}
		id, ok := taskID(v)
		if !ok {
			return Command{}, usageProblem(w, `"{word}" is not a task ID: `+idShape)
		}
		c.MuteValue = id
	case keyTenant, keyPlan:
		if c.MuteValue, err = nameValue(w, c.MuteKind); err != nil {
			return Command{}, err
		}
	default:
		return Command{}, usageProblem(w, `"{word}" is not a mute target: use task:ID, tenant:NAME or plan:NAME, `+muteExample)
	}
	d, err := l.next()
	switch {
	case err != nil:
		return Command{}, err
	case d == "":
		return Command{}, usageProblem("", "/tasks mute needs a duration after the target, "+muteDurations)
	}
	if c.Duration, err = muteDuration(d); err != nil {
		return Command{}, err
	}
	c.Reason = muteReason(l.rest())
	return c, nil
}

// muteDurations says what a mute duration looks like (whole minutes, from a minute to
// announce.MaxMute), for usage messages.
const muteDurations = "from 1m to 30d (30 days), e.g. 30m, 2h, 1d or 1h30m"

// muteDuration is the duration a word like 30m, 2h, 1d or 1h30m stands for (tasks.ParseDays).
// Less than a minute, more than announce.MaxMute, or another shape is a *UsageError naming the
// limits.
func muteDuration(w string) (time.Duration, *UsageError) {
	d, err := tasks.ParseDays(w)
	switch {
	case err != nil:
		return 0, usageProblem(w, `"{word}" is not a mute duration: use minutes, hours or days `+muteDurations)
	case d < time.Minute:
		return 0, usageProblem(w, `"{word}" is too short: a mute lasts at least 1 minute (1m)`)
	case d > announce.MaxMute:
		return 0, usageProblem(w, `"{word}" is too long: a mute lasts at most 30 days (30d)`)
	}
	return d, nil
}

// formatMuteDuration writes d as muteDuration reads it (tasks.FormatDays).
func formatMuteDuration(d time.Duration) string { return tasks.FormatDays(d) }

// maxReason is how many characters of a mute's reason are kept.
const maxReason = 200

// muteReason is the reason of a mute from the text after its duration: the user's words with
// the separators before them dropped, white space runs collapsed to one space, trimmed,
// Slack's &amp; &lt; &gt; decoded, and cut to maxReason characters (ending with "…" when
// cut). Work is bounded by maxReason, whatever len(s).
func muteReason(s string) string {
	const budget = (maxReason + 1) * len("&amp;") // characters enough for maxReason+1 decoded
	var b strings.Builder
	space, n := false, 0
	for _, r := range s {
		if b.Len() == 0 && isCommandSeparator(r) {
			continue
		}
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if n > budget {
			break
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
	}
	reason := b.String()
	if strings.IndexByte(reason, '&') >= 0 {
		reason = unescapeSlack(reason)
	}
	if utf8.RuneCountInString(reason) <= maxReason {
		return reason
	}
	cut, i := 0, 0
	for cut = range reason {
		if i == maxReason-1 {
			break
		}
		i++
	}
	return strings.TrimRightFunc(reason[:cut], unicode.IsSpace) + "…"
}

// maxMuteNumber is the largest mute number `/tasks unmute` accepts.
const maxMuteNumber = 1_000_000_000

// parseUnmute parses the words after unmute: one mute number, 1 to maxMuteNumber, with an
// optional # before it ("#3", as a list may number mutes).
func parseUnmute(l *lexer) (Command, *UsageError) {
	const example = "e.g. /tasks unmute 3 (/tasks mutes lists them with their numbers)"
	w, err := l.next()
	switch {
	case err != nil:
		return Command{}, err
	case w == "":
		return Command{}, usageProblem("", "/tasks unmute needs the number of a mute, "+example)
	case isKey(w, keyTenant):
		return Command{}, tenantNotHere(w, "unmute")
	}
	digits := strings.TrimPrefix(w, "#")
	var n uint64
	if len(digits) >= 1 && len(digits) <= 10 && strings.Trim(digits, "0123456789") == "" {
		n, _ = strconv.ParseUint(digits, 10, 64)
	}
	if n < 1 || n > maxMuteNumber {
		return Command{}, usageProblem(w, `"{word}" is not the number of a mute, `+example)
	}
	if err := l.end("unmute", "takes one mute number"); err != nil {
		return Command{}, err
	}
	return Command{Verb: Unmute, N: n}, nil
}

// tenantNotHere is the *UsageError for a tenant: word w after a verb that takes none.
func tenantNotHere(w, verb string) *UsageError {
	return usageProblem(w, `"{word}": tenant:NAME goes with a listing, subscribe, unsubscribe or scope, not with /tasks `+verb)
}

// parseList parses a listing, from its first word w: states, failed, tenant: words and help.
func parseList(l *lexer, w string) (Command, *UsageError) {
	var (
		c            Command
		seen         [5]bool // indexed like tasks.States
		failed, help bool
		err          *UsageError
	)
	for ; w != ""; w, err = l.next() {
		if err != nil {
			return Command{}, err
		}
		switch {
		case isHelpWord(w):
			help = true
		case strings.EqualFold(w, "failed"):
			failed = true
		case isKey(w, keyTenant):
			if c.Tenants, err = addTenant(c.Tenants, w); err != nil {
				return Command{}, err
			}
		default:
			i := stateIndex(w)
			if i < 0 {
				return Command{}, unknownWord(w, "")
			}
			seen[i] = true
		}
	}
	if err != nil {
		return Command{}, err
	}
	if help {
		return Command{Verb: Help, Help: true}, nil
	}
	for i, s := range tasks.States {
		if seen[i] {
			c.States = append(c.States, s)
		}
	}
	c.Failed = failed && !slices.Contains(c.States, tasks.Completed)
	return c, nil
}

// isHelpWord reports whether w asks for help.
func isHelpWord(w string) bool {
	return strings.EqualFold(w, "help") || w == "-h" || w == "--help" || w == "?"
}

// stateIndex is the index in tasks.States of the state w names (any case), or -1.
func stateIndex(w string) int {
	if len(w) > longestKeyword {
		return -1
	}
	return slices.IndexFunc(tasks.States, func(s tasks.State) bool { return strings.EqualFold(w, string(s)) })
}

// isCommandSeparator reports whether r separates words of a slash command: white space or a
// comma.
func isCommandSeparator(r rune) bool { return r == ',' || unicode.IsSpace(r) }

// isQuote reports whether r opens or closes a quoted value: the straight double quote or
// Slack's curly ones (macOS and iOS turn " into “ and ” as people type).
func isQuote(r rune) bool { return r == '"' || r == '\u201c' || r == '\u201d' }

// quotes are the runes isQuote accepts, for strings.IndexAny.
const quotes = "\"\u201c\u201d"

// The keys of key:value words. Values of every key may be quoted.
const (
	keyTenant = "tenant"
	keyPlan   = "plan"
	keyTask   = "task"
)

// wordKey is the key of a key:value word (tenant, plan or task, in lower case), or "".
func wordKey(w string) string {
	for _, k := range []string{keyTenant, keyPlan, keyTask} {
		if isKey(w, k) {
			return k
		}
	}
	return ""
}

// isKey reports whether w is key:value for key k, the key in any case.
func isKey(w, k string) bool {
	return len(w) > len(k) && w[len(k)] == ':' && strings.EqualFold(w[:len(k)], k)
}

// A lexer splits a slash command's text (invisible characters already dropped) into words.
type lexer struct {
	s          string
	pos        int    // byte offset of the first unread byte
	prev, last string // the last two words next returned, the last one last
}

// next returns the next word, "" at the end of the text. A word runs to the next separator,
// except that after a key (tenant:, plan:, task:) an opening quote makes the word run to the
// closing quote, separators included. A quote that is never closed, or a closing quote
// followed by anything but a separator, is a *UsageError.
func (l *lexer) next() (string, *UsageError) {
	w, err := l.word()
	l.prev, l.last = l.last, w
	return w, err
}

// word is next without keeping the words.
func (l *lexer) word() (string, *UsageError) {
	l.skipSeparators()
	start := l.pos
	for l.pos < len(l.s) {
		r, n := utf8.DecodeRuneInString(l.s[l.pos:])
		if isCommandSeparator(r) {
			break
		}
		if isQuote(r) {
			if k := wordKey(l.s[start:l.pos]); k != "" && l.pos-start == len(k)+1 {
				return l.quoted(start, k, l.pos+n)
			}
		}
		l.pos += n
	}
	return l.s[start:l.pos], nil
}

// quoted finishes a word key:"…" that starts at start and whose quoted part starts at open.
func (l *lexer) quoted(start int, key string, open int) (string, *UsageError) {
	i := strings.IndexAny(l.s[open:], quotes)
	if i < 0 {
		l.pos = len(l.s)
		return "", usageProblem(l.s[start:], `"{word}": the quote after `+key+`: is never closed, e.g. `+example(key))
	}
	_, n := utf8.DecodeRuneInString(l.s[open+i:])
	l.pos = open + i + n
	if r, _ := utf8.DecodeRuneInString(l.s[l.pos:]); l.pos < len(l.s) && !isCommandSeparator(r) {
		end := l.pos
		l.skipWord()
		return "", usageProblem(l.s[start:max(end, l.pos)],
			`"{word}": put a space after the closing quote (a name cannot contain double quotes)`)
	}
	return l.s[start:l.pos], nil
}

// skipSeparators moves past white space and commas.
func (l *lexer) skipSeparators() {
	for l.pos < len(l.s) {
		r, n := utf8.DecodeRuneInString(l.s[l.pos:])
		if !isCommandSeparator(r) {
			return
		}
		l.pos += n
	}
}

// skipWord moves to the next separator.
func (l *lexer) skipWord() {
	for l.pos < len(l.s) {
		r, n := utf8.DecodeRuneInString(l.s[l.pos:])
		if isCommandSeparator(r) {
			return
		}
		l.pos += n
	}
}

// end reads the word after the last word of verb's command: nil at the end of the text, else
// a *UsageError saying that verb what (e.g. "takes one task ID").
func (l *lexer) end(verb, what string) *UsageError {
	w, err := l.next()
	switch {
	case err != nil:
		return err
	case w == "":
		return nil
	case isKey(w, keyTenant):
		return tenantNotHere(w, verb)
	}
	return usageProblem(w, `"{word}": /tasks `+verb+" "+what)
}

// rest is the text after the last word read.
func (l *lexer) rest() string { return l.s[l.pos:] }

// example is an example word for a key, for usage messages.
func example(key string) string {
	switch key {
	case keyPlan:
		return `plan:"Daily backup"`
	case keyTask:
		return "task:944455285181775872"
	}
	return `tenant:"Acme Corp"`
}

// keyValue is the value of a word key:value (isKey(w, key)), unquoted but otherwise as typed.
func keyValue(w, key string) (value string, quoted bool) {
	v := w[len(key)+1:]
	open, n := utf8.DecodeRuneInString(v)
	if v == "" || !isQuote(open) {
		return v, false
	}
	// The lexer only returns a quoted word with its closing quote.
	_, m := utf8.DecodeLastRuneInString(v[n:])
	return v[n : len(v)-m], true
}

// nameValue is the name of a tenant: or plan: word w (isKey(w, key)): unquoted, trimmed, with
// Slack's &amp; &lt; &gt; decoded. It is a *UsageError when the name is missing, blank, longer
// than maxName characters or holds a double quote.
func nameValue(w, key string) (string, *UsageError) {
	v, quoted := keyValue(w, key)
	if v == "" && !quoted {
		return "", usageProblem("", key+": needs a name right after the colon, e.g. "+example(key))
	}
	v = strings.TrimFunc(v, unicode.IsSpace)
	// A no-break or full-width space typed inside quotes is the space the name has.
	v = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, v)
	switch {
	case v == "":
		return "", usageProblem(w, `"{word}": the name is blank, e.g. `+example(key))
	case len(v) > maxName*len("&amp;"): // decoding cannot shorten it enough: no need to try
		return "", usageProblem(w, `"{word}": a `+key+" name has at most "+strconv.Itoa(maxName)+" characters")
	}
	if strings.IndexByte(v, '&') >= 0 {
		v = unescapeSlack(v)
	}
	switch {
	case utf8.RuneCountInString(v) > maxName:
		return "", usageProblem(w, `"{word}": a `+key+" name has at most "+strconv.Itoa(maxName)+" characters")
	case strings.ContainsAny(v, quotes):
		return "", usageProblem(w, `"{word}": a `+key+" name cannot contain double quotes; quote a name with spaces like "+example(key))
	}
	return v, nil
}

// addTenant adds the name of the tenant: word w to list unless list already has it (ignoring
// case). More than maxTenants names is a *UsageError.
func addTenant(list []string, w string) ([]string, *UsageError) {
	v, err := nameValue(w, keyTenant)
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(list, func(t string) bool { return strings.EqualFold(t, v) }) {
		return list, nil
	}
	if len(list) == maxTenants {
		return nil, usageProblem(w, `"{word}": at most `+strconv.Itoa(maxTenants)+" tenants in one command")
	}
	return append(list, v), nil
}

// IsDefault reports whether c is the plain `/tasks`: tasks in progress (started and paused),
// of every tenant.
func (c Command) IsDefault() bool {
	return c.Verb == List && !c.Help && len(c.States) == 0 && !c.Failed && len(c.Tenants) == 0
}

// defaultStates are the states of a listing that names none: tasks in progress.
var defaultStates = []tasks.State{tasks.Started, tasks.Paused}

// Queries returns the Task Manager queries that together select the tasks of a listing (List),
// one per disjunct; nil for every other verb. The API ANDs different keys, so "paused or
// failed" — state in (paused) OR (state completed AND resultCode error) — takes two queries:
// the caller runs each and merges the results with MergeTasks. Each query orders newest first
// (desc(updatedAt)), pages by 100 and stops at CommandMaxTasks tasks.
//
// The queries ignore Tenants: the Task Manager API has no tenant filter, so the caller keeps
// the tasks of c.Tenants from what the queries return (tasks.TenantIs).
func (c Command) Queries() []tasks.Query {
	if c.Verb != List || c.Help {
		return nil
	}
	if len(c.States) == 0 && !c.Failed {
		return []tasks.Query{commandQuery(slices.Clone(defaultStates), nil)}
	}
	var qs []tasks.Query
	if len(c.States) > 0 {
		qs = append(qs, commandQuery(slices.Clone(c.States), nil))
	}
	if c.Failed {
		qs = append(qs, commandQuery([]tasks.State{tasks.Completed}, c.Failures.Codes()))
	}
	return qs
}

func commandQuery(states []tasks.State, codes []tasks.ResultCode) tasks.Query {
	return tasks.Query{
		States:      states,
		ResultCodes: codes,
		Order:       tasks.Order{Field: "updatedAt", Desc: true},
		Limit:       commandPageSize,
		MaxTasks:    CommandMaxTasks,
	}
}

// MergeTasks merges the results of a command's Queries: tasks are deduplicated by Key (the
// most recently updated copy wins) and sorted newest first by UpdatedAt, ties by Key. The
// input slices are not modified.
func MergeTasks(lists ...[]tasks.Task) []tasks.Task {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	out := make([]tasks.Task, 0, n)
	at := make(map[string]int, n)
	for _, l := range lists {
		for _, t := range l {
			k := t.Key()
			if i, ok := at[k]; ok {
				if t.UpdatedAt.After(out[i].UpdatedAt) {
					out[i] = t
				}
				continue
			}
			at[k] = len(out)
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out, func(a, b tasks.Task) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Key(), b.Key())
	})
	return out
}

// String is c's canonical slash command text, which ParseCommand turns back into c (Failures
// aside, which is not parsed). For a listing: the states in lifecycle order, "failed", then
// one tenant: word per tenant, e.g. `paused failed tenant:"Acme Corp" tenant:Beta`; "" for the
// default. It is the value of the Refresh button: at most about 1,800 characters (see
// maxTenants), under Slack's 2,000. Other verbs: "help", "show 944455285181775872",
// "subscribe paused failed tenant:Acme", "unsubscribe", "subscriptions", "mutes",
// `mute tenant:"Acme Corp" 1h30m maintenance window`, "unmute 3", "scope all",
// `scope tenant:"Acme Corp"`.
//
// Values are quoted with straight quotes when they hold white space or a comma, and an & that
// Slack's decoding would otherwise take for an entity is written as &amp;. A value that holds
// a double quote (which ParseCommand never returns) is written quoted all the same, so that
// parsing the text fails instead of naming another tenant.
func (c Command) String() string {
	if c.Help || c.Verb == Help {
		return "help"
	}
	switch c.Verb {
	case List:
	case Show:
		return "show " + c.ID
	case Subscribe:
		return strings.Join(appendTenantWords(append([]string{"subscribe"}, c.Events...), c.Tenants), " ")
	case Unmute:
		return "unmute " + strconv.FormatUint(c.N, 10)
	case Mute:
		target := c.MuteValue
		if c.MuteKind != keyTask {
			target = quoteName(target)
		}
		s := "mute " + c.MuteKind + ":" + target + " " + formatMuteDuration(c.Duration)
		if c.Reason != "" {
			s += " " + escapeEntityAmps(c.Reason)
		}
		return s
	case Scope:
		words := []string{"scope"}
		if c.All {
			words = append(words, "all")
		}
		return strings.Join(appendTenantWords(words, c.Tenants), " ")
	default:
		if int(c.Verb) < len(verbWords) {
			return strings.Join(appendTenantWords([]string{verbWords[c.Verb]}, c.Tenants), " ")
		}
		return ""
	}
	words := make([]string, 0, len(c.States)+1+len(c.Tenants))
	for _, s := range c.States {
		words = append(words, string(s))
	}
	if c.Failed {
		words = append(words, "failed")
	}
	return strings.Join(appendTenantWords(words, c.Tenants), " ")
}

// appendTenantWords appends a tenant: word for each of names.
func appendTenantWords(words, names []string) []string {
	for _, n := range names {
		words = append(words, keyTenant+":"+quoteName(n))
	}
	return words
}

// quoteName is a tenant: or plan: value as ParseCommand reads it back: in straight double
// quotes when it is empty or holds a separator or a quote, with each & that starts one of
// Slack's entities written as &amp;.
func quoteName(v string) string {
	v = escapeEntityAmps(v)
	if v == "" || strings.ContainsFunc(v, func(r rune) bool { return isCommandSeparator(r) || isQuote(r) }) {
		return `"` + v + `"`
	}
	return v
}

// escapeEntityAmps writes as &amp; each & of s that unescapeSlack would take for the start of
// &amp; &lt; or &gt;, so that unescapeSlack(escapeEntityAmps(s)) == s.
func escapeEntityAmps(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '&' {
			if r := s[i+1:]; strings.HasPrefix(r, "amp;") || strings.HasPrefix(r, "lt;") || strings.HasPrefix(r, "gt;") {
				b.WriteString("amp;")
			}
		}
	}
	return b.String()
}

// Describe is a phrase naming c's tasks for headers and empty replies, plain text (escape it
// for mrkdwn: tenant names are the user's): "in progress (started, paused)" for the default,
// "paused", "paused or failed", "started, paused or failed", and for tenants "paused for Acme
// Corp", "in progress (started, paused) for Acme or Beta Ltd". Other verbs: "help" for Help,
// "task 944455285181775872" for Show, else the command ("/tasks unmute 3").
func (c Command) Describe() string {
	switch {
	case c.Help || c.Verb == Help:
		return "help"
	case c.Verb == Show:
		return "task " + c.ID
	case c.Verb != List:
		return "/tasks " + c.String()
	}
	words := make([]string, 0, len(c.States)+1)
	for _, s := range c.States {
		words = append(words, string(s))
	}
	if c.Failed {
		words = append(words, "failed")
	}
	d := "in progress (started, paused)"
	if len(words) > 0 {
		d = orList(words)
	}
	if len(c.Tenants) > 0 {
		d += " for " + orList(c.Tenants)
	}
	return d
}

// orList joins words as "a", "a or b", "a, b or c".
func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// UsageError is the answer to a slash command ParseCommand does not understand: an unknown
// word, a bad or missing value. Its fields are mrkdwn, safe to paste: the user's text in them
// is escaped.
type UsageError struct {
	// Word is the word the problem is about (the first unknown word, a bad value…), as the
	// user typed it (Slack's &amp; &lt; &gt; decoded), cut to maxUsageWord characters and then
	// escaped with Escape. "" when the problem is a missing word.
	Word string
	// Problem says what is wrong in one line: taskbot's words, and Word (escaped) where it
	// names it, e.g. `I don't understand "xyz".` or `tenant: needs a name right after the
	// colon, e.g. tenant:"Acme Corp"`.
	Problem string
}

// maxUsageWord is how many characters of a word a UsageError repeats.
const maxUsageWord = 40

// unknownWord is the *UsageError for a word ParseCommand does not know, with an optional
// hint (taskbot's words) after it.
func unknownWord(w, hint string) *UsageError {
	if hint != "" {
		hint = ": " + hint
	}
	return usageProblem(w, `I don't understand "{word}"`+hint+".")
}

// usageProblem is a *UsageError about word (raw, as in the text), with problem saying what is
// wrong: taskbot's own words, no user text, in which {word} stands for the escaped word.
func usageProblem(word, problem string) *UsageError {
	w := escapeCut(unescapeSlack(word), maxUsageWord)
	return &UsageError{Word: w, Problem: strings.ReplaceAll(problem, "{word}", w)}
}

// Error is the reply to the user, in mrkdwn: the problem (`I don't understand "xyz".`) and
// the usage.
func (e *UsageError) Error() string {
	p := e.Problem
	if p == "" {
		p = `I don't understand "` + e.Word + `".`
	}
	return p + "\n" + Usage()
}

// Usage is the short mrkdwn help of `/tasks` (README, "Slash command /tasks"), every verb in
// a line; under 900 characters, as it ends every usage error.
func Usage() string {
	return "*Usage*\n" +
		"`/tasks` — tasks in progress (started, paused)\n" +
		"`/tasks STATE…` — tasks in any of the states `enqueued` `assigned` `started` `paused` `completed`\n" +
		"`/tasks failed` — completed with a failing result code (by default error, abandoned or timedout); combine: `/tasks paused failed`\n" +
		"… `tenant:NAME` — only that tenant's tasks, e.g. `/tasks failed tenant:\"Acme Corp\"`\n" +
		"`/tasks show ID` — one task in full\n" +
		"`/tasks subscribe [EVENT…] [tenant:NAME…]` — announce these events (states, `failed`, `stuck`) here too; `unsubscribe [tenant:NAME…]`, `subscriptions`\n" +
		"`/tasks mute task:ID|tenant:NAME|plan:NAME DURATION [REASON]` — no announcements for `30m`, `2h`, `1d`… (at most 30d); `mutes`, `unmute N`\n" +
		"`/tasks scope tenant:NAME…` — this channel shows only those tenants; `scope` shows it, `scope all` ends it\n" +
		"`/tasks help` — this help"
}

// slackUnescaper decodes the three entities Slack encodes in user text
// (https://api.slack.com/reference/surfaces/formatting#escaping), in one pass, so "&amp;lt;"
// becomes "&lt;".
var slackUnescaper = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

// unescapeSlack decodes &amp; &lt; &gt; in s.
func unescapeSlack(s string) string { return slackUnescaper.Replace(s) }

// dropInvisible maps format characters (Unicode Cf: zero-width space, joiners, BOM…) and
// non-space control characters to nothing, for strings.Map.
func dropInvisible(r rune) rune {
	if unicode.Is(unicode.Cf, r) || (unicode.IsControl(r) && !unicode.IsSpace(r)) {
		return -1
	}
	return r
}
