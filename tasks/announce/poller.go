package announce

import (
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
	DefaultResyncEvery = 10              // every tenth poll also reconciles in-progress tasks
	DefaultOverlap     = 2 * time.Minute // incremental polls look back this far behind the watermark
	maxPollBackoff     = time.Minute     // a failing API is asked again at least once a minute
	lookupBatch        = 50              // UUIDs per lookup of tasks a reconciliation misses
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

// Poller watches the Task Manager API and records what changed through the store.
//
// The strategy is a Kubernetes informer's list-and-watch with resync, over plain polling:
// each poll asks only for tasks updated since the watermark (`updatedAt=gt(W−Overlap)`,
// `order=asc(updatedAt)`, paged), and the watermark follows the API's clock (Poll.Listed), so
// a quiet interval costs one small request, also after a burst once the overlap has passed; every
// ResyncEvery polls (and on the first poll after a start) the full list of in-progress tasks
// is compared with the store, and tasks the store believes in progress but the list lacks are
// looked up by UUID, so nothing an incremental poll missed stays wrong. The overlap covers
// tasks whose update becomes visible late; the policy ignores answers it has already seen.
//
// The first poll on an empty store is a silent baseline. A failed poll changes nothing in the
// store and is retried with exponential backoff (Interval·2^n, at most a minute or Interval).
type Poller struct {
	cfg PollerConfig

	mu       sync.Mutex
	polls    int
	lastErr  error
	lastOK   time.Time
	failures int
	future   map[string]bool // tasks logged for an updatedAt beyond the API's clock
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
	return &Poller{cfg: cfg, future: map[string]bool{}}
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
			p.cfg.Logger.Warn("poll failed; the state file is unchanged", "err", err, "fix", tasks.Fix(err),
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
// the first error; then the store is unchanged.
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
	res, err := p.cfg.API.List(ctx, q)
	if err != nil {
		return fmt.Errorf("poll: list updated tasks: %w", err)
	}
	p.cfg.Metrics.TasksSkipped.Add(float64(res.Skipped))
	poll := Poll{Tasks: res.Tasks, ServerTime: res.ServerTime, Listed: res.StartTime}

	p.mu.Lock()
	resync := p.polls%p.cfg.ResyncEvery == 0
	p.mu.Unlock()
	if resync {
		if err := p.reconcile(ctx, &poll); err != nil {
			return err
		}
	}
	queued, err := p.apply(poll)
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	p.count(queued)
	if len(queued) > 0 && p.cfg.OnQueued != nil {
		p.cfg.OnQueued()
	}
	if resync { // counting walks every record: only as often as reconciliation
		if n, err := st.TaskCount(); err == nil {
			p.cfg.Metrics.TasksTracked.Set(float64(n))
		}
	}
	p.cfg.Logger.Debug("polled", "updated", len(res.Tasks), "queued", len(queued), "resync", resync)
	return nil
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
func (p *Poller) apply(poll Poll) ([]Entry, error) {
	now := p.cfg.Now()
	var future []string
	var reset bool
	var old time.Time
	var muted []Entry
	queued, err := p.cfg.Store.Apply(poll, func(in Input) Decision {
		d := p.cfg.Rules.Decide(in, now)
		future, reset, old, muted = d.Future, d.WatermarkReset, in.Watermark, d.Muted
		return d
	})
	if err != nil {
		return nil, err
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
	return queued, nil
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
// ordering of the API's answers.
func (p *Poller) baseline(ctx context.Context) error {
	api, size := p.cfg.API, p.cfg.PageSize
	res, err := api.List(ctx, tasks.Query{States: inProgress, Limit: size})
	if err != nil {
		return fmt.Errorf("poll: baseline: list tasks in progress: %w", err)
	}
	clock := res.ServerTime
	if clock.IsZero() {
		clock = p.cfg.Now()
	}
	recent, err := api.List(ctx, tasks.Query{UpdatedAfter: clock.Add(-p.cfg.Overlap), Order: tasks.Order{Field: "updatedAt"}, Limit: size})
	if err != nil {
		return fmt.Errorf("poll: baseline: recently updated tasks: %w", err)
	}
	seen := slices.Concat(res.Tasks, recent.Tasks)
	wm := clock
	for _, t := range recent.Tasks {
		if t.UpdatedAt.After(wm) && !t.UpdatedAt.After(clock.Add(MaxClockAhead)) {
			wm = t.UpdatedAt
		}
	}
	if _, err := p.apply(Poll{Baseline: true, Tasks: seen, Watermark: wm, ServerTime: res.ServerTime}); err != nil {
		return fmt.Errorf("poll: baseline: %w", err)
	}
	p.cfg.Logger.Info("recorded a silent baseline", "tasks_in_progress", len(res.Tasks), "watermark", wm)
	return nil
}

// reconcile adds to poll the full list of in-progress tasks and the current state of tasks the
// store believes in progress that the list lacks: they completed, or the API forgot them. Those
// are looked up by UUID in batches, and each one the batch does not return is looked up alone
// (GET /tasks/{id}); only a "not found" there marks it Gone, so an API that ignores the uuid
// filter or answers with nothing for a while does not make taskbot forget tasks.
func (p *Poller) reconcile(ctx context.Context, poll *Poll) error {
	api := p.cfg.API
	res, err := api.List(ctx, tasks.Query{States: inProgress, Limit: p.cfg.PageSize})
	if err != nil {
		return fmt.Errorf("poll: reconcile: list tasks in progress: %w", err)
	}
	p.cfg.Metrics.TasksSkipped.Add(float64(res.Skipped))
	seen := map[string]bool{}
	for _, t := range slices.Concat(poll.Tasks, res.Tasks) {
		seen[t.Key()] = true
	}
	poll.Tasks = append(poll.Tasks, res.Tasks...)
	recs, err := p.cfg.Store.InProgress()
	if err != nil {
		return fmt.Errorf("poll: reconcile: read state: %w", err)
	}
	var missing []string
	for _, r := range recs {
		if !seen[r.Key] && tasks.IsUUID(r.Key) {
			missing = append(missing, r.Key)
		}
	}
	for batch := range slices.Chunk(missing, lookupBatch) {
		got, err := api.List(ctx, tasks.Query{UUIDs: batch, Limit: len(batch)})
		if err != nil {
			return fmt.Errorf("poll: reconcile: look up %d tasks: %w", len(batch), err)
		}
		found := map[string]bool{}
		for _, t := range got.Tasks {
			found[t.Key()] = true
		}
		poll.Tasks = append(poll.Tasks, got.Tasks...)
		for _, k := range batch {
			if found[k] {
				continue
			}
			t, err := api.Task(ctx, k)
			switch {
			case tasks.IsNotFound(err):
				poll.Gone = append(poll.Gone, k)
			case err != nil:
				return fmt.Errorf("poll: reconcile: look up task %s: %w", k, err)
			default:
				poll.Tasks = append(poll.Tasks, *t)
			}
		}
	}
	return nil
}
