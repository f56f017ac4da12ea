package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/taskbot/taskbot/state"
	"github.com/taskbot/taskbot/tasks"
)

// Lister is what taskbot needs of the Task Manager API; *tasks.Client implements it.
type Lister interface {
	List(ctx context.Context, q tasks.Query) (*tasks.ListResult, error)
}

// Poller defaults.
const (
	DefaultResyncEvery = 10              // every tenth poll also reconciles in-progress tasks
	DefaultOverlap     = 2 * time.Minute // incremental polls look back this far behind the watermark
	DefaultBurst       = 10              // more transitions than this in one poll become one summary
	maxPollBackoff     = time.Minute     // a failing API is asked again at least once a minute
)

// inProgress are the states a reconciliation lists in full.
var inProgress = []tasks.State{tasks.Enqueued, tasks.Assigned, tasks.Started, tasks.Paused}

// Poller watches the Task Manager API and records what changed in the store.
//
// The strategy is a Kubernetes informer's list-and-watch with resync, over plain polling:
// each poll asks only for tasks updated since the watermark (`updatedAt=gt(W−Overlap)`,
// `order=asc(updatedAt)`, paged), so a quiet interval costs one small request; every
// ResyncEvery polls (and on the first poll after a start) the full list of in-progress tasks
// is compared with the store, and tasks the store believes in progress but the list lacks are
// looked up by UUID, so nothing an incremental poll missed stays wrong. The overlap covers
// tasks whose update becomes visible late; the store ignores answers it has already seen.
//
// The first poll on an empty store is a silent baseline. A failed poll changes nothing in the
// store and is retried with exponential backoff (Interval·2^n, at most a minute or Interval).
type Poller struct {
	API      Lister
	Store    *state.Store
	Announce tasks.AnnounceSet
	Interval time.Duration
	// ResyncEvery: every how many polls to reconcile; default DefaultResyncEvery.
	ResyncEvery int
	// Overlap: how far behind the watermark incremental polls start; default DefaultOverlap.
	Overlap time.Duration
	// PageSize is the `limit` of each request; default tasks.DefaultPageSize.
	PageSize int
	// Burst: a poll that finds more transitions than this queues one summary instead;
	// default DefaultBurst, < 0 means no limit.
	Burst int
	// OnQueued is called after a poll queued announcements (the announcer's Notify).
	OnQueued func()
	Logger   *slog.Logger
	Metrics  *Metrics
	Now      func() time.Time

	once     sync.Once
	mu       sync.Mutex
	polls    int
	lastErr  error
	lastOK   time.Time
	failures int
}

// init fills in defaults once (Ready is called from HTTP handlers while Run runs).
func (p *Poller) init() { p.once.Do(p.defaults) }

func (p *Poller) defaults() {
	if p.ResyncEvery <= 0 {
		p.ResyncEvery = DefaultResyncEvery
	}
	if p.Overlap <= 0 {
		p.Overlap = DefaultOverlap
	}
	if p.Burst == 0 {
		p.Burst = DefaultBurst
	}
	if p.Logger == nil {
		p.Logger = slog.Default()
	}
	if p.Metrics == nil {
		p.Metrics = NewMetrics()
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Interval <= 0 {
		p.Interval = 30 * time.Second
	}
}

// Run polls at once and then every Interval until ctx ends.
func (p *Poller) Run(ctx context.Context) error {
	p.init()
	for {
		err := p.Poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := p.Interval
		if err != nil {
			p.mu.Lock()
			n := p.failures
			p.mu.Unlock()
			wait = backoff(n, p.Interval, max(maxPollBackoff, p.Interval))
			p.Logger.Warn("poll failed; the state file is unchanged", "err", err, "retry_in", wait.Round(time.Millisecond))
		}
		if sleep(ctx, nil, wait) != nil {
			return nil
		}
	}
}

// Ready reports whether the last poll succeeded recently, and if not, why (for /readyz).
// A poll that hangs (the API holds the connection) makes the bot unready once the last success
// is older than StaleAfter, without waiting for the poll's timeouts and retries to run out.
func (p *Poller) Ready() (bool, string) {
	p.init()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.lastErr != nil:
		return false, "last poll failed: " + p.lastErr.Error()
	case p.lastOK.IsZero():
		return false, "no poll has completed yet"
	}
	if age := p.Now().Sub(p.lastOK); age > p.staleAfter() {
		return false, fmt.Sprintf("no successful poll for %s (poll interval %s): the Task Manager API is slow or hanging",
			age.Round(time.Second), p.Interval)
	}
	return true, "last poll succeeded at " + p.lastOK.UTC().Format(time.RFC3339)
}

// staleAfter is how old the last successful poll may be: three intervals, at least a minute.
func (p *Poller) staleAfter() time.Duration { return max(3*p.Interval, time.Minute) }

// Poll runs one poll: baseline, incremental, or incremental plus reconciliation. It returns
// the first error; then the store is unchanged.
func (p *Poller) Poll(ctx context.Context) error {
	p.init()
	start := time.Now()
	err := p.poll(ctx)
	p.Metrics.PollDuration.Observe(time.Since(start).Seconds())
	err = explainPollError(err)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		p.lastErr = err
		p.failures++
		p.Metrics.Polls.WithLabelValues("error").Inc()
		var ae *tasks.APIError
		if errors.As(err, &ae) {
			p.Metrics.APIErrors.WithLabelValues(fmt.Sprint(ae.StatusCode)).Inc()
		} else {
			p.Metrics.APIErrors.WithLabelValues("other").Inc()
		}
		return err
	}
	p.polls++
	p.lastErr, p.failures, p.lastOK = nil, 0, p.Now()
	p.Metrics.Polls.WithLabelValues("ok").Inc()
	p.Metrics.LastPoll.Set(float64(p.lastOK.Unix()))
	return nil
}

func (p *Poller) poll(ctx context.Context) error {
	baselined, err := p.Store.Baselined()
	if err != nil {
		return fmt.Errorf("poll: read state: %w", err)
	}
	if !baselined {
		return p.baseline(ctx)
	}
	wm, err := p.Store.Watermark()
	if err != nil {
		return fmt.Errorf("poll: read state: %w", err)
	}
	q := tasks.Query{Order: tasks.Order{Field: "updatedAt"}, Limit: p.PageSize}
	if !wm.IsZero() {
		q.UpdatedAfter = wm.Add(-p.Overlap)
	}
	res, err := p.API.List(ctx, q)
	if err != nil {
		return fmt.Errorf("poll: list updated tasks: %w", err)
	}
	poll := state.Poll{Tasks: res.Tasks, Announce: p.Announce.Announces, Burst: max(p.Burst, 0)}

	p.mu.Lock()
	resync := p.polls%p.ResyncEvery == 0
	p.mu.Unlock()
	if resync {
		if err := p.reconcile(ctx, &poll); err != nil {
			return err
		}
	}
	queued, err := p.Store.Apply(poll)
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	for _, e := range queued {
		if e.Summary != nil {
			for ev, n := range e.Summary.Counts {
				p.Metrics.Transitions.WithLabelValues(string(ev)).Add(float64(n))
			}
			p.Logger.Info("a flood of transitions in one poll; queued one summary", "counts", e.Summary.Counts)
			continue
		}
		p.Metrics.Transitions.WithLabelValues(string(e.Event)).Inc()
		p.Logger.Info("transition", "task", e.Task.Key(), "title", e.Task.Title(), "from", e.From, "event", e.Event)
	}
	if len(queued) > 0 && p.OnQueued != nil {
		p.OnQueued()
	}
	if resync { // counting walks every record: only as often as reconciliation
		if st, err := p.Store.Stats(); err == nil {
			p.Metrics.TasksTracked.Set(float64(st.Tasks))
		}
	}
	p.Logger.Debug("polled", "updated", len(res.Tasks), "queued", len(queued), "resync", resync)
	return nil
}

// baseline records, silently, the tasks in progress, the newest updatedAt of any task (the
// watermark), and the tasks the first incremental poll will see again because of the overlap
// (those updated in the Overlap before the watermark, completed ones included): without them a
// task that completed just before the start would be announced as news.
func (p *Poller) baseline(ctx context.Context) error {
	res, err := p.API.List(ctx, tasks.Query{States: inProgress, Limit: p.PageSize})
	if err != nil {
		return fmt.Errorf("poll: baseline: list tasks in progress: %w", err)
	}
	latest, err := p.API.List(ctx, tasks.Query{Order: tasks.Order{Field: "updatedAt", Desc: true}, Limit: 1, MaxTasks: 1})
	if err != nil {
		return fmt.Errorf("poll: baseline: newest task: %w", err)
	}
	var wm time.Time
	seen := res.Tasks
	for _, t := range latest.Tasks {
		wm = t.UpdatedAt
	}
	if !wm.IsZero() {
		recent, err := p.API.List(ctx, tasks.Query{UpdatedAfter: wm.Add(-p.Overlap), Order: tasks.Order{Field: "updatedAt"}, Limit: p.PageSize})
		if err != nil {
			return fmt.Errorf("poll: baseline: recently updated tasks: %w", err)
		}
		seen = append(seen, recent.Tasks...)
	}
	if _, err := p.Store.Apply(state.Poll{Baseline: true, Tasks: seen, Watermark: wm}); err != nil {
		return fmt.Errorf("poll: baseline: %w", err)
	}
	p.Logger.Info("recorded a silent baseline", "tasks_in_progress", len(res.Tasks), "watermark", wm)
	return nil
}

// reconcile adds to poll the full list of in-progress tasks and the current state of tasks the
// store believes in progress that the list lacks (they completed, or were deleted: Gone).
func (p *Poller) reconcile(ctx context.Context, poll *state.Poll) error {
	res, err := p.API.List(ctx, tasks.Query{States: inProgress, Limit: p.PageSize})
	if err != nil {
		return fmt.Errorf("poll: reconcile: list tasks in progress: %w", err)
	}
	seen := map[string]bool{}
	for _, t := range slices.Concat(poll.Tasks, res.Tasks) {
		seen[t.Key()] = true
	}
	poll.Tasks = append(poll.Tasks, res.Tasks...)
	recs, err := p.Store.InProgress()
	if err != nil {
		return fmt.Errorf("poll: reconcile: read state: %w", err)
	}
	var missing []string
	for _, r := range recs {
		if !seen[r.Key] && isUUID(r.Key) {
			missing = append(missing, r.Key)
		}
	}
	for batch := range slices.Chunk(missing, 50) {
		got, err := p.API.List(ctx, tasks.Query{UUIDs: batch, Limit: len(batch)})
		if err != nil {
			return fmt.Errorf("poll: reconcile: look up %d tasks: %w", len(batch), err)
		}
		found := map[string]bool{}
		for _, t := range got.Tasks {
			found[t.Key()] = true
		}
		poll.Tasks = append(poll.Tasks, got.Tasks...)
		for _, k := range batch {
			if !found[k] {
				poll.Gone = append(poll.Gone, k)
			}
		}
	}
	return nil
}

// PollError is a failed poll with what the user can do about it.
type PollError struct {
	Err  error
	Hint string
}

func (e *PollError) Error() string { return e.Err.Error() + " (" + e.Hint + ")" }
func (e *PollError) Unwrap() error { return e.Err }

// explainPollError adds the fix to errors only the user can fix: a refused sign-in or a
// missing role. The scopes are those of the published OpenAPI document (x-AllowedTo of GET /tasks).
func explainPollError(err error) error {
	var te *tasks.TokenError
	var ae *tasks.APIError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te) && (te.StatusCode == 400 || te.StatusCode == 401 || te.StatusCode == 403):
		return &PollError{err, "check ACRONIS_CLIENT_ID and ACRONIS_CLIENT_SECRET, and that the API client is enabled"}
	case errors.As(err, &ae) && ae.StatusCode == 403:
		return &PollError{err, "the API client lacks the scope urn:acronis.com::task_manager::viewer (or ::admin); give it a role that may read tasks"}
	case errors.As(err, &ae) && ae.StatusCode == 404:
		return &PollError{err, "is ACRONIS_URL your data center's URL, e.g. https://eu2-cloud.acronis.com?"}
	}
	return err
}

// isUUID reports whether s has the shape the API's uuid filter accepts
// (^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
