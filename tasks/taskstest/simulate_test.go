package taskstest_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/taskstest"
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
	if len(tenants) != 2 || !tenants["Customer A Ltd"] || !tenants["Beta Industries"] {
		t.Errorf("tenants %v, want Customer A Ltd and Beta Industries", tenants)
	}
	for _, tk := range seeded {
		checkCatalogue(t, tk)
	}
	if got := len(s.Tasks()); got != 8 {
		t.Errorf("server holds %d tasks, want 8", got)
	}
}

// catalogue is what the simulator documents of its tenants: each tenant's machines and plans.
var catalogue = map[string]struct{ machines, plans []string }{
	"Customer A Ltd":  {[]string{"SQL-01", "FS-02", "EXCH-01", "DC-01"}, []string{"Daily", "Hourly"}},
	"Beta Industries": {[]string{"WEB-03", "ERP-01", "WS-0001"}, []string{"Nightly", "Weekly full"}},
}

// checkCatalogue fails t unless tk is a task of a simulated tenant on one of that tenant's
// machines, for one of its plans, and its title names both.
func checkCatalogue(t *testing.T, tk tasks.Task) {
	t.Helper()
	if tk.Tenant == nil {
		t.Errorf("task %s has no tenant", tk.UUID)
		return
	}
	c, ok := catalogue[tk.Tenant.Name]
	switch {
	case !ok:
		t.Errorf("task %s of tenant %q, not a simulated one", tk.UUID, tk.Tenant.Name)
	case tk.Resource == nil || !slices.Contains(c.machines, tk.Resource.Name):
		t.Errorf("task %q of %s runs on %v, not one of its machines %v", tk.Title(), tk.Tenant.Name, tk.Resource, c.machines)
	case tk.Policy == nil || !slices.Contains(c.plans, tk.Policy.Name):
		t.Errorf("task %q of %s belongs to plan %v, not one of its plans %v", tk.Title(), tk.Tenant.Name, tk.Policy, c.plans)
	case !strings.Contains(tk.Title(), tk.Resource.Name) || !strings.Contains(tk.Title(), tk.Policy.Name):
		t.Errorf("title %q does not name machine %s and plan %s", tk.Title(), tk.Resource.Name, tk.Policy.Name)
	}
}

func TestSimulatedTenants(t *testing.T) {
	var names []string
	for _, tn := range taskstest.SimulatedTenants() {
		names = append(names, tn.Name)
		if tn.ID == "" || tn.Locator == "" {
			t.Errorf("tenant %q lacks an id or locator: %+v", tn.Name, tn)
		}
	}
	if want := []string{"Customer A Ltd", "Beta Industries"}; !slices.Equal(names, want) {
		t.Errorf("SimulatedTenants %q, want %q", names, want)
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
	added := map[string]int{} // by tenant
	for i := range 300 {
		moved := 0
		for _, tk := range s.Step(rnd) {
			prev, existed := current[tk.UUID]
			current[tk.UUID] = tk
			if !existed {
				if tk.State != tasks.Enqueued {
					t.Errorf("step %d: new task in state %s", i, tk.State)
				}
				checkCatalogue(t, tk)
				events["added"]++
				added[tk.Tenant.Name]++
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
	// Both tenants get new tasks, neither only a few: a subscription to one of them in the demo
	// soon sees announcements.
	total := added["Customer A Ltd"] + added["Beta Industries"]
	if total != events["added"] || added["Customer A Ltd"] < total/4 || added["Beta Industries"] < total/4 {
		t.Errorf("new tasks by tenant %v, want both simulated tenants, each at least a quarter of %d", added, events["added"])
	}
}
