package announce

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// Poller defaults.
const (
	DefaultInterval    = 30 * time.Second
	DefaultResyncEvery = 10 // every tenth poll also reconciles in-progress tasks
	// pagesPerInterval is how many requests reconciliations may average per poll interval
	// (PagePaceFor): at the default 30 s, one a second, so at 100,000 tasks in progress (1,000
	// pages of 100) one runs about every 17 minutes, not every 5.
	pagesPerInterval = 30
	DefaultOverlap   = 2 * time.Minute // incremental polls look back this far behind the watermark
	maxPollBackoff   = time.Minute     // a failing API is asked again at least once a minute
	lookupBatch      = 50              // UUIDs per lookup of tasks a reconciliation misses
)

// inProgress are the states a reconciliation lists in full.
var inProgress = []tasks.State{tasks.Enqueued, tasks.Assigned, tasks.Started, tasks.Paused}

// PollerConfig configures a Poller. API, Store and Rules are required; zero values of the
// other fields mean their defaults.
type PollerConfig struct {
	API   tasks.Service
	Store PollStore
	Rules Rules
	// Interval is the time between polls (TASKBOT_POLL_INTERVAL); default 30s.
	Interval time.Duration
	// ResyncEvery: every how many polls to reconcile; default DefaultResyncEvery.
	ResyncEvery int
	// PagePace spaces reconciliations for a big account's request budget: after one that
	// listed P pages, the next waits until P·PagePace has passed since it started (as well as
	// ResyncEvery polls), so reconciliations average at most one request per PagePace. 0: no
	// spacing. taskbot serve uses PagePaceFor(Interval).
	PagePace time.Duration
	// Overlap: how far behind the watermark incremental polls start; default DefaultOverlap.
	Overlap time.Duration
	// PageSize is the `limit` of each request; default tasks.DefaultPageSize.
	PageSize int
	// OnQueued is called after a poll queued announcements (the Announcer's Wake).
	OnQueued func()
	Logger   *slog.Logger // default slog.Default()
	Metrics  *Metrics     // default: unregistered metrics
	Now      func() time.Time
}

// PagePaceFor is the PagePace taskbot serve uses for a poll interval: reconciliations average
// at most 30 requests per interval (one a second at the default 30 s), so a team that polls
// more often also accepts more requests.
func PagePaceFor(interval time.Duration) time.Duration { return interval / pagesPerInterval }

// Poller watches the Task Manager API and records what changed through the store.
//
// The strategy is a Kubernetes informer's list-and-watch with resync, over plain polling:
// each poll asks only for tasks updated since the watermark (`updatedAt=gt(W−Overlap)`,
// `order=asc(updatedAt)`, paged), and the watermark follows the API's clock (Poll.Listed), so
// a quiet interval costs one small request, also after a burst once the overlap has passed; every
// ResyncEvery polls (and on the first poll after a start; spaced by PagePace for big accounts)
// the full list of in-progress tasks
// is compared with the store, and tasks the store believes in progress but the list lacks are
// looked up by UUID, so nothing an incremental poll missed stays wrong. The overlap covers
// tasks whose update becomes visible late; the policy ignores answers it has already seen.
//
// Listings stream: pages are diffed and committed as they arrive, a thousand tasks at a time
// in incremental polls and a page at a time in baselines and reconciliations (applyBatch,
// listBatch), so
// memory holds that many tasks (and the keys a reconciliation has seen, 16 bytes each)
// whatever the account's size; a burst is summarised per thousand transitions.
//
// The first poll on an empty store is a silent baseline. A failed incremental list changes
// nothing in the store; a baseline or reconciliation that fails part way keeps the pages it
// recorded (each page is a consistent commit, and a baseline is marked done only at its end).
// A failed poll is retried with exponential backoff (Interval·2^n, at most a minute or
// Interval).
type Poller struct {
	cfg PollerConfig
	tag uint64 // cfg.Rules.Tag(), stamped on every Poll

	mu    sync.Mutex
	polls int
	// the last reconciliation: when it started, how many pages it listed, and the polls since
	resyncAt    time.Time
	resyncPages int
	sinceResync int
	resynced    bool
	lastErr     error
	lastOK      time.Time
	failures    int
	future      map[string]bool // tasks logged for an updatedAt beyond the API's clock
}

// NewPoller returns a Poller for cfg with its defaults filled in. It makes no request.
func NewPoller(cfg PollerConfig) *Poller {
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	cfg.ResyncEvery = cmp.Or(cfg.ResyncEvery, DefaultResyncEvery)
	cfg.Overlap = cmp.Or(cfg.Overlap, DefaultOverlap)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Poller{cfg: cfg, tag: cfg.Rules.Tag(), future: map[string]bool{}}
}

// Run polls at once and then every Interval until ctx ends; a failed poll is logged with its
// fix and retried with backoff.
func (p *Poller) Run(ctx context.Context) {
	for {
		err := p.Poll(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := p.cfg.Interval
		if err != nil {
			p.mu.Lock()
			n := p.failures
			p.mu.Unlock()
			wait = backoff(n, p.cfg.Interval, max(maxPollBackoff, p.cfg.Interval))
			p.cfg.Logger.Warn("poll failed; will retry", "err", err, "fix", tasks.Fix(err),
				"retry_in", wait.Round(time.Millisecond))
		}
		if sleep(ctx, nil, wait) != nil {
			return
		}
	}
}

// Ready reports whether the last poll succeeded recently, and if not, why and what to do (for
// /readyz). A poll that hangs (the API holds the connection) makes the bot unready once the
// last success is older than three intervals (at least a minute), without waiting for the
// poll's timeouts and retries to run out.
func (p *Poller) Ready() (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.lastErr != nil:
		why := "last poll failed: " + p.lastErr.Error()
		if fix := tasks.Fix(p.lastErr); fix != "" {
			why += " (" + fix + ")"
		}
		return false, why
	case p.lastOK.IsZero():
		return false, "no poll has completed yet"
	}
	if age := p.cfg.Now().Sub(p.lastOK); age > p.staleAfter() {
		return false, fmt.Sprintf("no successful poll for %s (poll interval %s): the Task Manager API is slow or hanging",
			age.Round(time.Second), p.cfg.Interval)
	}
	return true, "last poll succeeded at " + p.lastOK.UTC().Format(time.RFC3339)
}

// staleAfter is how old the last successful poll may be: three intervals, at least a minute.
func (p *Poller) staleAfter() time.Duration { return max(3*p.cfg.Interval, time.Minute) }

// Poll runs one poll: baseline, incremental, or incremental plus reconciliation. It returns
// the first error; the pages recorded before it stay recorded.
func (p *Poller) Poll(ctx context.Context) error {
	start := time.Now()
	err := p.poll(ctx)
	m := p.cfg.Metrics
	m.PollDuration.Observe(time.Since(start).Seconds())
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		p.lastErr = err
		p.failures++
		m.Polls.WithLabelValues("error").Inc()
		status := "other"
		var sc interface{ HTTPStatus() int }
		if errors.As(err, &sc) {
			status = strconv.Itoa(sc.HTTPStatus())
		}
		m.APIErrors.WithLabelValues(status).Inc()
		return err
	}
	p.polls++
	if p.failures > 0 {
		p.cfg.Logger.Info("polls succeed again", "failed_polls", p.failures)
	}
	p.lastErr, p.failures, p.lastOK = nil, 0, p.cfg.Now()
	m.Polls.WithLabelValues("ok").Inc()
	m.LastPoll.Set(float64(p.lastOK.Unix()))
	return nil
}

func (p *Poller) poll(ctx context.Context) error {
	st := p.cfg.Store
	baselined, err := st.Baselined()
	if err != nil {
		return fmt.Errorf("poll: read state: %w", err)
	}
	if !baselined {
		return p.baseline(ctx)
	}
	wm, err := st.Watermark()
	if err != nil {
		return fmt.Errorf("poll: read state: %w", err)
	}
	q := tasks.Query{Order: tasks.Order{Field: "updatedAt"}, Limit: p.cfg.PageSize}
	if !wm.IsZero() {
		q.UpdatedAfter = wm.Add(-p.cfg.Overlap)
	}
	now := p.cfg.Now()
	p.mu.Lock()
	resync := !p.resynced || p.sinceResync+1 >= p.cfg.ResyncEvery &&
		!now.Before(p.resyncAt.Add(time.Duration(p.resyncPages)*p.cfg.PagePace))
	lastPages := p.resyncPages
	p.mu.Unlock()
	// Each page is recorded as it arrives; the watermark moves with the last Apply, once
	// every page is recorded: to the pages' newest updatedAt, or to the API's clock when the
	// listing began (an empty window stays empty).
	var queued []Entry
	var newest time.Time
	var seen keySet // keys listed, for the reconciliation
	if resync {
		// as many as the last full listing had: 16 bytes a task, allocated once
		seen = make(keySet, 0, lastPages*max(p.cfg.PageSize, 1))
	}
	res, err := p.stream(ctx, q, applyBatch, func(ts []tasks.Task, clock time.Time) error {
		if resync {
			seen.add(ts)
		}
		qd, w, err := p.apply(Poll{Tasks: ts, ServerTime: clock, Partial: true})
		queued = append(queued, qd...)
		if w.After(newest) {
			newest = w
		}
		return err
	})
	if err != nil {
		p.announced(queued)
		return fmt.Errorf("poll: list updated tasks: %w", err)
	}
	p.cfg.Metrics.TasksSkipped.Add(float64(res.Skipped))
	qd, _, err := p.apply(Poll{Watermark: newest, ServerTime: res.ServerTime, Listed: res.StartTime})
	queued = append(queued, qd...)
	if err != nil {
		p.announced(queued)
		return fmt.Errorf("poll: %w", err)
	}
	if resync {
		more, pages, err := p.reconcile(ctx, seen)
		queued = append(queued, more...)
		if err != nil {
			p.announced(queued)
			return err
		}
		p.mu.Lock()
		p.resynced, p.resyncAt, p.resyncPages, p.sinceResync = true, now, pages, 0
		p.mu.Unlock()
	} else {
		p.mu.Lock()
		p.sinceResync++
		p.mu.Unlock()
	}
	p.announced(queued)
	if resync { // counting walks every record: only as often as reconciliation
		if n, err := st.TaskCount(); err == nil {
			p.cfg.Metrics.TasksTracked.Set(float64(n))
		}
	}
	p.cfg.Logger.Debug("polled", "pages", res.Pages, "queued", len(queued), "resync", resync)
	return nil
}

// How many tasks a streamed listing gathers before it records them in one Apply (one
// transaction). Most of a transaction's memory is bbolt's copies of the pages it changes: task
// keys are random, so each new task dirties a page of each bucket it is in (about 12 KB a
// task); at 100,000 tasks a baseline in batches of 1,000 peaked at 41 MiB of the process's own
// memory, in batches of 250 at 23–25 MiB (TestScale).
//
//   - applyBatch, for incremental polls: a burst is one summary per thousand transitions.
//   - listBatch, for the baseline and reconciliations, which list every task in progress and
//     find few transitions (a missed change; none at a baseline): a page per transaction. An
//     unchanged page of a reconciliation costs no commit at all (the store answers it from a
//     read transaction).
const (
	applyBatch = 1000
	listBatch  = 100
)

// stream lists q page by page and hands the tasks to record in batches of about size tasks,
// each with the API's clock of its last page; an error of the listing or of record stops it.
func (p *Poller) stream(ctx context.Context, q tasks.Query, size int, record func(ts []tasks.Task, clock time.Time) error) (*tasks.ListResult, error) {
	var batch []tasks.Task
	var clock time.Time
	res, err := p.cfg.API.Each(ctx, q, func(pg tasks.Page) error {
		batch, clock = append(batch, pg.Tasks...), pg.ServerTime
		if len(batch) < size {
			return nil
		}
		err := record(batch, clock)
		batch = batch[:0]
		return err
	})
	if err == nil && len(batch) > 0 {
		err = record(batch, clock)
	}
	return res, err
}

// announced counts the queued entries and wakes the Announcer when there are any.
func (p *Poller) announced(queued []Entry) {
	p.count(queued)
	if len(queued) > 0 && p.cfg.OnQueued != nil {
		p.cfg.OnQueued()
	}
}

// countsText is "paused=2 started=16": counts by event, sorted, for a log line.
func countsText(c map[tasks.Event]int) string {
	var parts []string
	for _, ev := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%s=%d", ev, c[ev]))
	}
	return strings.Join(parts, " ")
}

// apply records poll with the policy, and logs once each task stamped beyond the API's clock.
// It returns the entries queued and the watermark the policy decided (for a Partial poll, the
// store keeps it not).
func (p *Poller) apply(poll Poll) ([]Entry, time.Time, error) {
	now := p.cfg.Now()
	poll.Tag = p.tag
	var future []string
	var reset bool
	var old, wm time.Time
	var muted []Entry
	queued, err := p.cfg.Store.Apply(poll, func(in Input) Decision {
		d := p.cfg.Rules.Decide(in, now)
		future, reset, old, muted, wm = d.Future, d.WatermarkReset && !poll.Partial, in.Watermark, d.Muted, d.Watermark
		return d
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	for _, e := range muted {
		p.cfg.Metrics.Announcements.WithLabelValues("muted").Inc()
		p.cfg.Logger.Info("muted an announcement", "task", e.Task.Key, "id", e.Task.ID, "title", e.Task.Title,
			"event", e.Event, "channel", e.Channel)
	}
	if reset {
		p.cfg.Logger.Warn("the watermark was ahead of the API's clock (its clock ran ahead and was put right); moved it back",
			"from", old, "to", poll.ServerTime)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range future {
		if !p.future[k] {
			p.future[k] = true
			p.cfg.Logger.Warn("the API stamped a task in the future; it does not move the watermark past the API's clock",
				"task", k, "api_clock", poll.ServerTime)
		}
	}
	return queued, wm, nil
}

// count records the queued entries in the metrics and the log.
func (p *Poller) count(queued []Entry) {
	for _, e := range queued {
		if e.Refresh {
			continue
		}
		if e.Summary != nil {
			for ev, n := range e.Summary.Counts {
				p.cfg.Metrics.Transitions.WithLabelValues(string(ev)).Add(float64(n))
			}
			p.cfg.Logger.Info("a flood of transitions in one poll; queued one summary", "channel", e.Channel, "counts", countsText(e.Summary.Counts))
			continue
		}
		p.cfg.Metrics.Transitions.WithLabelValues(string(e.Event)).Inc()
		p.cfg.Logger.Info("transition", "task", e.Task.Key, "title", e.Task.Title, "from", e.From, "event", e.Event, "channel", e.Channel)
	}
}

// baseline records, silently, the tasks in progress and the tasks updated in the Overlap before
// the API's clock (completed ones included: the first incremental poll sees them again, and a
// task that completed just before the start is no news), and sets the watermark to the newest
// updatedAt among them, or to the API's clock when nothing was updated lately. It relies on no
// ordering of the API's answers. Pages are recorded as they arrive (API.Each), so memory holds
// one page whatever the account's size; the store is marked baselined by the last Apply, so a
// baseline cut short by a crash is made again.
func (p *Poller) baseline(ctx context.Context) error {
	size := p.cfg.PageSize
	n := 0
	res, err := p.stream(ctx, tasks.Query{States: inProgress, Limit: size}, listBatch, func(ts []tasks.Task, clock time.Time) error {
		n += len(ts)
		_, _, err := p.apply(Poll{Baseline: true, Partial: true, Tasks: ts, ServerTime: clock})
		return err
	})
	if err != nil {
		return fmt.Errorf("poll: baseline: list tasks in progress: %w", err)
	}
	p.cfg.Metrics.TasksSkipped.Add(float64(res.Skipped))
	clock := cmp.Or(res.StartTime, res.ServerTime)
	if clock.IsZero() {
		clock = p.cfg.Now()
	}
	wm := clock
	recent, err := p.stream(ctx, tasks.Query{UpdatedAfter: clock.Add(-p.cfg.Overlap), Order: tasks.Order{Field: "updatedAt"}, Limit: size}, listBatch,
		func(ts []tasks.Task, at time.Time) error {
			for _, t := range ts {
				if t.UpdatedAt.After(wm) && !t.UpdatedAt.After(clock.Add(MaxClockAhead)) {
					wm = t.UpdatedAt
				}
			}
			_, _, err := p.apply(Poll{Baseline: true, Partial: true, Tasks: ts, ServerTime: at})
			return err
		})
	if err != nil {
		return fmt.Errorf("poll: baseline: recently updated tasks: %w", err)
	}
	if _, _, err := p.apply(Poll{Baseline: true, Watermark: wm, ServerTime: recent.ServerTime}); err != nil {
		return fmt.Errorf("poll: baseline: %w", err)
	}
	p.mu.Lock() // the baseline listed every task in progress: the next reconciliation waits
	p.resynced, p.resyncAt, p.resyncPages, p.sinceResync = true, p.cfg.Now(), res.Pages, 0
	p.mu.Unlock()
	p.cfg.Logger.Info("recorded a silent baseline", "tasks_in_progress", n, "watermark", wm)
	return nil
}

// reconcile lists every task in progress and records it page by page (so memory holds one
// page), then looks up the tasks the store believes in progress that the list lacked: they
// completed, or the API forgot them. Those are looked up by UUID in batches, and each one the
// batch does not return is looked up alone (GET /tasks/{id}); only a "not found" there marks
// it Gone, so an API that ignores the uuid filter or answers with nothing for a while does not
// make taskbot forget tasks. seen holds the keys the incremental poll returned. It returns the
// entries queued.
func (p *Poller) reconcile(ctx context.Context, seen keySet) (_ []Entry, pages int, _ error) {
	api := p.cfg.API
	var queued []Entry
	res, err := p.stream(ctx, tasks.Query{States: inProgress, Limit: p.cfg.PageSize}, listBatch, func(ts []tasks.Task, clock time.Time) error {
		seen.add(ts)
		q, _, err := p.apply(Poll{Tasks: ts, ServerTime: clock, Partial: true})
		queued = append(queued, q...)
		return err
	})
	if err != nil {
		return queued, 0, fmt.Errorf("poll: reconcile: list tasks in progress: %w", err)
	}
	p.cfg.Metrics.TasksSkipped.Add(float64(res.Skipped))
	seen.sort()
	var missing []string
	err = p.cfg.Store.EachInProgress(func(k string) {
		if tasks.IsUUID(k) && !seen.has(k) {
			missing = append(missing, k)
		}
	})
	if err != nil {
		return queued, 0, fmt.Errorf("poll: reconcile: read state: %w", err)
	}
	for batch := range slices.Chunk(missing, lookupBatch) {
		got, err := api.List(ctx, tasks.Query{UUIDs: batch, Limit: len(batch)})
		if err != nil {
			return queued, 0, fmt.Errorf("poll: reconcile: look up %d tasks: %w", len(batch), err)
		}
		found := map[string]bool{}
		for _, t := range got.Tasks {
			found[t.Key()] = true
		}
		poll := Poll{Tasks: got.Tasks, ServerTime: got.ServerTime, Partial: true}
		for _, k := range batch {
			if found[k] {
				continue
			}
			t, err := api.Task(ctx, k)
			switch {
			case tasks.IsNotFound(err):
				poll.Gone = append(poll.Gone, k)
			case err != nil:
				return queued, 0, fmt.Errorf("poll: reconcile: look up task %s: %w", k, err)
			default:
				poll.Tasks = append(poll.Tasks, *t)
			}
		}
		q, _, err := p.apply(poll)
		queued = append(queued, q...)
		if err != nil {
			return queued, 0, fmt.Errorf("poll: reconcile: %w", err)
		}
	}
	return queued, res.Pages, nil
}

// keySet holds the UUIDs of the tasks a reconciliation listed, 16 bytes each: at 100,000 tasks
// 1.6 MB, where a map of the key strings took about ten times that. Only UUID keys are held
// (a task without one cannot be looked up, so it is never reported missing). add keys, sort
// once the listing is done, then ask has.
type keySet [][16]byte

func (s *keySet) add(ts []tasks.Task) {
	for i := range ts {
		if u, ok := tasks.UUIDBytes(ts[i].Key()); ok {
			*s = append(*s, u)
		}
	}
}

func (s keySet) sort() {
	slices.SortFunc(s, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
}

func (s keySet) has(key string) bool {
	u, ok := tasks.UUIDBytes(key)
	if !ok {
		return false
	}
	_, found := slices.BinarySearchFunc(s, u, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	return found
}
