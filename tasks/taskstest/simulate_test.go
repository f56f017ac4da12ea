package taskstest_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/taskbot/taskbot/tasks"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// trace runs Seed and n Steps and describes every task they returned, in order.
func trace(t *testing.T, seed uint64, n int) []string {
	t.Helper()
	s := newServer(t)
	rnd := newRand(seed)
	var out []string
	describe := func(tk tasks.Task) string {
		return fmt.Sprintf("%s|%s|%s|%s|%s|%s", tk.UUID, tk.Title(), tk.Tenant.Name, tk.Type, tk.State, tk.ResultCode())
	}
	for _, tk := range s.Seed(rnd) {
		out = append(out, describe(tk))
	}
	for i := range n {
		for _, tk := range s.Step(rnd) {
			out = append(out, fmt.Sprintf("%d:%s", i, describe(tk)))
		}
	}
	return out
}

func TestSimulationIsDeterministicGivenTheRandomSource(t *testing.T) {
	a, b := trace(t, 42, 40), trace(t, 42, 40)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different runs:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	if c := trace(t, 43, 40); slices.Equal(a, c) {
		t.Error("a different seed gave the same run")
	}
}

func TestSeed(t *testing.T) {
	s := newServer(t)
	seeded := s.Seed(newRand(1))
	count := map[string]int{}
	tenants := map[string]bool{}
	for _, tk := range seeded {
		key := string(tk.State)
		if tk.State == tasks.Completed {
			key += "/" + string(tk.ResultCode())
		}
		count[key]++
		tenants[tk.Tenant.Name] = true
		title := tk.Title()
		if !strings.HasPrefix(title, "Backup plan '") && !strings.HasPrefix(title, "Replicating archive '") {
			t.Errorf("unrealistic title %q", title)
		}
		if tk.Type != "MachineBackup" && tk.Type != "ArchiveReplication" {
			t.Errorf("type %q", tk.Type)
		}
	}
	want := map[string]int{"started": 3, "paused": 1, "assigned": 1, "enqueued": 1, "completed/ok": 1, "completed/error": 1}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("states %v, want %v", count, want)
	}
	if len(tenants) < 2 {
		t.Errorf("tenants %v, want several", tenants)
	}
	if got := len(s.Tasks()); got != 8 {
		t.Errorf("server holds %d tasks, want 8", got)
	}
}

// legal lists the transitions Step may make.
var legal = map[tasks.State][]tasks.State{
	tasks.Enqueued: {tasks.Assigned},
	tasks.Assigned: {tasks.Started},
	tasks.Started:  {tasks.Paused, tasks.Completed},
	tasks.Paused:   {tasks.Started},
}

func TestStepMovesTasksAlongTheLifecycle(t *testing.T) {
	s := newServer(t)
	rnd := newRand(7)
	// Only Step changes tasks here, so tracking what it returns mirrors the server.
	current := map[string]tasks.Task{}
	for _, tk := range s.Seed(rnd) {
		current[tk.UUID] = tk
	}
	results := map[tasks.ResultCode]int{}
	events := map[string]int{}
	for i := range 300 {
		moved := 0
		for _, tk := range s.Step(rnd) {
			prev, existed := current[tk.UUID]
			current[tk.UUID] = tk
			if !existed {
				if tk.State != tasks.Enqueued {
					t.Errorf("step %d: new task in state %s", i, tk.State)
				}
				events["added"]++
				continue
			}
			moved++
			if !slices.Contains(legal[prev.State], tk.State) {
				t.Errorf("step %d: illegal transition %s → %s", i, prev.State, tk.State)
			}
			if !tk.UpdatedAt.After(prev.UpdatedAt) {
				t.Errorf("step %d: UpdatedAt did not advance", i)
			}
			events[string(prev.State)+"→"+string(tk.State)]++
			if tk.State == tasks.Completed {
				results[tk.ResultCode()]++
			}
		}
		if moved < 1 || moved > 2 {
			t.Errorf("step %d moved %d tasks, want 1 or 2", i, moved)
		}
		inProgress := 0
		for _, tk := range current {
			if tk.State.InProgress() {
				inProgress++
			}
		}
		if inProgress == 0 {
			t.Fatalf("step %d: nothing left in progress", i)
		}
	}
	if got := len(s.Tasks()); got != len(current) {
		t.Errorf("server holds %d tasks, the steps returned %d", got, len(current))
	}
	for _, e := range []string{"enqueued→assigned", "assigned→started", "started→paused", "paused→started", "started→completed", "added"} {
		if events[e] == 0 {
			t.Errorf("no %s in 300 steps: %v", e, events)
		}
	}
	if results[tasks.ResultOK] <= results[tasks.ResultError] || results[tasks.ResultError] == 0 {
		t.Errorf("results %v, want mostly ok and some errors", results)
	}
}
