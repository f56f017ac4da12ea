package tasks_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

func TestTaskDecodesEmptyAndNullTimesAsAbsent(t *testing.T) {
	enq := time.Date(2020, 4, 22, 11, 34, 3, 290396913, time.UTC)
	tests := []struct {
		name string
		body string
		want tasks.Task
	}{
		{
			name: `completedAt "" and startedAt null: absent`,
			body: `{"id":944455285181775872,"state":"started","enqueuedAt":"2020-04-22T11:34:03.290396913Z","startedAt":null,"completedAt":"","updatedAt":"2020-04-22T11:34:03.290396913Z"}`,
			want: tasks.Task{ID: 944455285181775872, State: tasks.Started, EnqueuedAt: enq, UpdatedAt: enq},
		},
		{
			name: "every time empty",
			body: `{"id":1,"enqueuedAt":"","assignedAt":"","startedAt":"","updatedAt":"","completedAt":""}`,
			want: tasks.Task{ID: 1},
		},
		{
			name: "a time in another zone keeps its zone, as time.Time decodes it",
			body: `{"id":2,"enqueuedAt":"2020-04-22T13:34:03.290396913+02:00","updatedAt":"2020-04-22T11:34:03.290396913Z"}`,
			want: tasks.Task{ID: 2, EnqueuedAt: enq.In(time.FixedZone("", 2*3600)), UpdatedAt: enq},
		},
		{
			name: "the other fields decode as before",
			body: `{"id":3,"uuid":"38045860-8901-426e-b51f-fc6d24d1cbe0","result":{"code":"error"},"context":{"title":"Backup"},"assignCount":2}`,
			want: tasks.Task{ID: 3, UUID: "38045860-8901-426e-b51f-fc6d24d1cbe0", Result: &tasks.Result{Code: tasks.ResultError}, Context: map[string]any{"title": "Backup"}, AssignCount: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got tasks.Task
			if err := json.Unmarshal([]byte(tt.body), &got); err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tt.want)
			if string(g) != string(w) {
				t.Errorf("decoded\n %s\nwant\n %s", g, w)
			}
			for _, p := range [][2]time.Time{{got.EnqueuedAt, tt.want.EnqueuedAt}, {got.AssignedAt, tt.want.AssignedAt}, {got.StartedAt, tt.want.StartedAt}, {got.CompletedAt, tt.want.CompletedAt}} {
				if !p[0].Equal(p[1]) {
					t.Errorf("time %v, want %v", p[0], p[1])
				}
			}
		})
	}
}

func TestTaskDecodeErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantField string
		wantText  string
	}{
		{"id as a string", `{"id":"abc"}`, "id", "json: cannot unmarshal string into Go struct field Task.id of type int64"},
		{"state as a number", `{"state":5}`, "state", "Go struct field Task.state of type tasks.State"},
		{"completedAt as a number", `{"completedAt":12}`, "completedAt", "cannot unmarshal number into Go struct field Task.completedAt of type time.Time"},
		{"updatedAt that is no time", `{"updatedAt":"yesterday"}`, "updatedAt", `cannot unmarshal string "yesterday" into Go struct field Task.updatedAt`},
		{"enqueuedAt as an object", `{"enqueuedAt":{}}`, "enqueuedAt", "cannot unmarshal object"},
		{"nested: result.code as a number", `{"result":{"code":5}}`, "result.code", "Go struct field Result.result.code"},
		{"not an object at all", `[1]`, "", "into Go value of type tasks.Task"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got tasks.Task
			err := json.Unmarshal([]byte(tt.body), &got)
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v (%T), want a *json.UnmarshalTypeError", err, err)
			}
			if te.Field != tt.wantField {
				t.Errorf("Field = %q, want %q", te.Field, tt.wantField)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("err = %q, want it to contain %q", err, tt.wantText)
			}
		})
	}
}

func TestTaskDecodeIntoAFilledTaskReplacesWhatTheAnswerSends(t *testing.T) {
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	tk := tasks.Task{ID: 7, EnqueuedAt: old, CompletedAt: old, State: tasks.Started}
	if err := json.Unmarshal([]byte(`{"state":"completed","completedAt":""}`), &tk); err != nil {
		t.Fatal(err)
	}
	// Like the default decoding, fields the answer leaves out are kept; "" clears a time.
	if tk.ID != 7 || !tk.EnqueuedAt.Equal(old) || !tk.CompletedAt.IsZero() || tk.State != tasks.Completed {
		t.Errorf("task = %+v, want id 7, enqueuedAt kept, completedAt cleared, state completed", tk)
	}
}
