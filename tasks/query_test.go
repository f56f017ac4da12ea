package tasks_test

import (
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

func TestQueryMatches(t *testing.T) {
	const (
		u1 = "38045860-8901-426e-b51f-fc6d24d1cbe0"
		u2 = "6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69"
	)
	at := func(sec, nsec int) time.Time { return time.Date(2026, 12, 1, 10, 0, sec, nsec, time.UTC) }
	task := tasks.Task{UUID: u1, Type: "MachineBackup", State: tasks.Completed, Result: &tasks.Result{Code: tasks.ResultError},
		UpdatedAt: at(5, 500), CompletedAt: at(5, 0)}
	running := tasks.Task{UUID: u2, State: tasks.Started, UpdatedAt: at(5, 500)}

	tests := []struct {
		name string
		q    tasks.Query
		t    tasks.Task
		want bool
	}{
		{"no filter matches everything", tasks.Query{Order: tasks.Order{Field: "id"}, Limit: 1, MaxTasks: 1}, task, true},
		{"one of the states", tasks.Query{States: []tasks.State{tasks.Started, tasks.Completed}}, task, true},
		{"none of the states", tasks.Query{States: []tasks.State{tasks.Started, tasks.Paused}}, task, false},
		{"one of the result codes", tasks.Query{ResultCodes: []tasks.ResultCode{tasks.ResultOK, tasks.ResultError}}, task, true},
		{"none of the result codes", tasks.Query{ResultCodes: []tasks.ResultCode{tasks.ResultOK}}, task, false},
		{"a result code filter and no result", tasks.Query{ResultCodes: []tasks.ResultCode{tasks.ResultOK}}, running, false},
		{"one of the types", tasks.Query{Types: []string{"ArchiveReplication", "MachineBackup"}}, task, true},
		{"none of the types", tasks.Query{Types: []string{"ArchiveReplication"}}, task, false},
		{"one of the UUIDs, in capitals", tasks.Query{UUIDs: []string{u2, "38045860-8901-426E-B51F-FC6D24D1CBE0"}}, task, true},
		{"none of the UUIDs", tasks.Query{UUIDs: []string{u2}}, task, false},
		{"keys are ANDed: state matches, type does not", tasks.Query{States: []tasks.State{tasks.Completed}, Types: []string{"ArchiveReplication"}}, task, false},
		{"keys are ANDed: all match", tasks.Query{States: []tasks.State{tasks.Completed}, ResultCodes: []tasks.ResultCode{tasks.ResultError}, UUIDs: []string{u1}}, task, true},
		{"updated strictly after", tasks.Query{UpdatedAfter: at(4, 0)}, task, true},
		{"updated within the filter's second: the whole second counts", tasks.Query{UpdatedAfter: at(5, 900)}, task, true},
		{"updated before the filter", tasks.Query{UpdatedAfter: at(6, 0)}, task, false},
		{"completed exactly at the filter's whole second: not after", tasks.Query{CompletedAfter: at(5, 0)}, task, false},
		{"completed at the floored second of the filter: not after", tasks.Query{CompletedAfter: at(5, 999999999)}, task, false},
		{"completed after the filter", tasks.Query{CompletedAfter: at(4, 999999999)}, task, true},
		{"a completion filter and no completion", tasks.Query{CompletedAfter: at(0, 0)}, running, false},
		{"filter in another zone", tasks.Query{UpdatedAfter: at(4, 0).In(time.FixedZone("EST", -5*3600))}, task, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.q.Matches(&tt.t); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterTime(t *testing.T) {
	tests := []struct {
		in, want time.Time
	}{
		{time.Date(2026, 12, 1, 10, 0, 0, 999999999, time.UTC), time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 1, 5, 0, 0, 1, time.FixedZone("EST", -5*3600)), time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)},
		{time.Time{}, time.Time{}},
	}
	for _, tt := range tests {
		got := tasks.FilterTime(tt.in)
		if !got.Equal(tt.want) || got.Location() != time.UTC && !got.IsZero() {
			t.Errorf("FilterTime(%v) = %v, want %v in UTC", tt.in, got, tt.want)
		}
	}
}
