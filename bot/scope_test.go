package bot

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/state"
	"github.com/taskbot/taskbot/tasks/announce"
)

// TestScopedRequestsAreMetered: in a scoped channel each person has scopedBurst requests at
// once, then one per scopedEvery; the refusal says how long to wait and asks nothing of the API.
func TestScopedRequestsAreMetered(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	api := &queryRecorder{}
	store, err := state.Open(filepath.Join(t.TempDir(), "taskbot.db"), state.Options{Channel: "C0OPS00001"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.SetScope(announce.Scope{Channel: "C0SHARED01", Tenants: []string{"Acme Corp"}}); err != nil {
		t.Fatal(err)
	}
	a := NewAnswerer(AnswererConfig{API: api, Settings: store, Now: func() time.Time { return now }})
	ask := func(user string) string {
		return a.Handle(context.Background(), Request{Text: "paused", Channel: "C0SHARED01", User: user}).Text
	}
	for i := range scopedBurst {
		if got := ask("U0CUSTOMER"); strings.Contains(got, "try again") {
			t.Fatalf("request %d refused: %s", i+1, got)
		}
	}
	if got := ask("U0CUSTOMER"); !strings.Contains(got, "many requests in a short time; try again in 4s") {
		t.Errorf("request %d: %s", scopedBurst+1, got)
	}
	if n := len(api.Queries()); n != scopedBurst {
		t.Errorf("%d API queries, want %d: the refused one made none", n, scopedBurst)
	}
	if got := ask("U0COLLEAGUE"); strings.Contains(got, "try again") {
		t.Errorf("another person was refused: %s", got)
	}
	now = now.Add(scopedEvery)
	if got := ask("U0CUSTOMER"); strings.Contains(got, "try again") {
		t.Errorf("after %s: %s", scopedEvery, got)
	}
	// Outside scoped channels nothing is metered.
	for range 2 * scopedBurst {
		if got := a.Handle(context.Background(), Request{Text: "paused", Channel: "C0OPS00001", User: "U0CUSTOMER"}).Text; strings.Contains(got, "try again") {
			t.Fatalf("metered in an unscoped channel: %s", got)
		}
	}
}
