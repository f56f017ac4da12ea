package taskstest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// simTenant is a customer of the simulated MSP, with its own machines and protection plans.
type simTenant struct {
	tenant   tasks.Tenant
	machines []string
	plans    []string
}

// simTenants is the simulator's catalogue: the two customers of a small MSP, so that
// announcements, tenant: listings, subscriptions and mutes have two tenants to tell apart. A
// task's machine and plan are always its tenant's.
var simTenants = []simTenant{
	{tenant: tasks.Tenant{ID: "1496265", Name: "Customer A Ltd", Locator: "/1/1496262/1496265/"},
		machines: []string{"SQL-01", "FS-02", "EXCH-01", "DC-01"}, plans: []string{"Daily", "Hourly"}},
	{tenant: tasks.Tenant{ID: "1496330", Name: "Beta Industries", Locator: "/1/1496262/1496330/"},
		machines: []string{"WEB-03", "ERP-01", "WS-0001"}, plans: []string{"Nightly", "Weekly full"}},
}

// SimulatedTenants are the tenants whose tasks Seed and Step create, in a fixed order:
// "Customer A Ltd" (machines SQL-01, FS-02, EXCH-01, DC-01; plans Daily, Hourly) and
// "Beta Industries" (WEB-03, ERP-01, WS-0001; Nightly, Weekly full).
func SimulatedTenants() []tasks.Tenant {
	out := make([]tasks.Tenant, len(simTenants))
	for i, t := range simTenants {
		out[i] = t.tenant
	}
	return out
}

// Seed adds a realistic starting set of eight tasks for the demo: three started, one paused,
// one assigned, one enqueued, and two completed (one ok, one failed), with titles such as
// "Backup plan 'Daily' on SQL-01", taking the SimulatedTenants in turn, so each has four. The
// paused task waits for a blocker (a tape to insert) that nobody resolves: Step never moves
// it, so the demo shows a stuck task. It returns them as stored. The choices (titles,
// machines, plans, UUIDs) are a function of rnd alone.
func (s *Server) Seed(rnd *rand.Rand) []tasks.Task {
	states := []struct {
		st   tasks.State
		code tasks.ResultCode
	}{
		{tasks.Started, ""}, {tasks.Started, ""}, {tasks.Started, ""}, {tasks.Paused, ""},
		{tasks.Assigned, ""}, {tasks.Enqueued, ""},
		{tasks.Completed, tasks.ResultOK}, {tasks.Completed, tasks.ResultError},
	}
	out := make([]tasks.Task, 0, len(states))
	for i, st := range states {
		t := s.Add(newSimTask(rnd, &simTenants[i%len(simTenants)], tasks.Enqueued))
		for _, next := range pathTo(st.st) {
			code := tasks.ResultCode("")
			if next == st.st {
				code = st.code
			}
			t, _ = s.SetState(t.UUID, next, code)
		}
		if st.st == tasks.Paused {
			s.mu.Lock()
			if s.held == nil {
				s.held = map[string]bool{}
			}
			s.held[t.UUID] = true
			if p := s.lookupLocked(t.UUID); p != nil {
				p.Blockers = []tasks.Blocker{{ID: 1, TaskID: p.ID, Tenant: *p.Tenant,
					Issue:             tasks.Message{Key: "Insert the next tape into the library"},
					PossibleSolutions: []tasks.Message{{Key: "Retry"}, {Key: "Cancel"}}}}
				t = *p
			}
			s.mu.Unlock()
		}
		out = append(out, t)
	}
	return out
}

// pathTo lists the states a new task passes through to reach st.
func pathTo(st tasks.State) []tasks.State {
	switch st {
	case tasks.Assigned:
		return []tasks.State{tasks.Assigned}
	case tasks.Started:
		return []tasks.State{tasks.Assigned, tasks.Started}
	case tasks.Paused:
		return []tasks.State{tasks.Assigned, tasks.Started, tasks.Paused}
	case tasks.Completed:
		return []tasks.State{tasks.Assigned, tasks.Started, tasks.Completed}
	}
	return nil
}

// Step is one tick of the simulation: it moves one or two tasks in progress one step along
// enqueued → assigned → started ⇄ paused → completed (ok about four times in five, else error;
// a started task pauses about one time in four), and adds a new enqueued task of one of the
// SimulatedTenants, picked at random, when fewer than five are in progress or, otherwise, one
// tick in four. It returns the tasks it changed or
// added, as stored. Which tasks and what happens to them is a function of rnd and the server's
// tasks alone.
func (s *Server) Step(rnd *rand.Rand) []tasks.Task {
	type entry struct {
		uuid  string
		state tasks.State
	}
	var inProgress []entry
	s.mu.Lock()
	for _, t := range s.sortedLocked() {
		if t.State.InProgress() && !s.held[t.UUID] {
			inProgress = append(inProgress, entry{t.UUID, t.State})
		}
	}
	s.mu.Unlock()

	var changed []tasks.Task
	left := len(inProgress)
	moves := 1 + rnd.IntN(2)
	for i := 0; i < moves && len(inProgress) > 0; i++ {
		j := rnd.IntN(len(inProgress))
		e := inProgress[j]
		inProgress = slices.Delete(inProgress, j, j+1)
		next, code := simNext(rnd, e.state)
		if u, err := s.SetState(e.uuid, next, code); err == nil {
			changed = append(changed, u)
			if !next.InProgress() {
				left--
			}
		}
	}
	if left < 5 || rnd.IntN(4) == 0 {
		changed = append(changed, s.Add(newSimTask(rnd, &simTenants[rnd.IntN(len(simTenants))], tasks.Enqueued)))
	}
	return changed
}

// simNext is the state a task in state st moves to, with its result code.
func simNext(rnd *rand.Rand, st tasks.State) (tasks.State, tasks.ResultCode) {
	switch st {
	case tasks.Enqueued:
		return tasks.Assigned, ""
	case tasks.Assigned, tasks.Paused:
		return tasks.Started, ""
	default: // started
		switch n := rnd.IntN(20); {
		case n < 5:
			return tasks.Paused, ""
		case n < 17:
			return tasks.Completed, tasks.ResultOK
		default:
			return tasks.Completed, tasks.ResultError
		}
	}
}

// Simulate runs the demo's task traffic: Seed, then Step every interval every, until ctx ends.
// every <= 0 means 3 seconds. rnd must not be used by anyone else meanwhile.
func (s *Server) Simulate(ctx context.Context, every time.Duration, rnd *rand.Rand) {
	if every <= 0 {
		every = 3 * time.Second
	}
	s.Seed(rnd)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.Step(rnd)
		}
	}
}

// newSimTask invents a task of tenant on one of its machines, for one of its plans: a machine
// backup (three times in four) or an archive replication.
func newSimTask(rnd *rand.Rand, of *simTenant, st tasks.State) tasks.Task {
	tenant := of.tenant
	machine := of.machines[rnd.IntN(len(of.machines))]
	plan := of.plans[rnd.IntN(len(of.plans))]
	t := tasks.Task{
		UUID:          simUUID(rnd),
		State:         st,
		Tenant:        &tenant,
		StartedByUser: "scheduler",
		Cancellable:   true,
		Issuer:        tasks.Actor{ID: "taskstest"},
		Policy:        &tasks.Reference{ID: simUUID(rnd), Name: plan, Type: "policy.backup.machine"},
		Resource:      &tasks.Reference{ID: simUUID(rnd), Name: machine, Type: "resource.machine"},
	}
	if rnd.IntN(4) == 0 {
		t.Type, t.Queue, t.Priority = "ArchiveReplication", "replication", "low"
		t.Context = map[string]any{"IsProcessRoot": true, "title": fmt.Sprintf("Replicating archive '%s %s' to cloud storage", machine, plan)}
	} else {
		t.Type, t.Queue, t.Priority = "MachineBackup", "backup", "normal"
		t.Context = map[string]any{"IsProcessRoot": true, "title": fmt.Sprintf("Backup plan '%s' on %s", plan, machine)}
	}
	return t
}

// simUUID is a version 4 UUID drawn from rnd, so a seeded simulation is repeatable.
func simUUID(rnd *rand.Rand) string {
	var b [16]byte
	for i := range 2 {
		v := rnd.Uint64()
		for j := range 8 {
			b[i*8+j] = byte(v >> (8 * j))
		}
	}
	return formatUUID(b)
}
