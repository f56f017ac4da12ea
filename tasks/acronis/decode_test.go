package acronis

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestListPageDecode(t *testing.T) {
	type bad struct{ uuid, field string }
	tests := []struct {
		name      string
		body      string
		wantIDs   []int64
		wantBad   []bad
		wantAfter string
		wantTS    time.Time
		wantErr   string
	}{
		{
			name:      "cursor under paging, as the API sends it",
			body:      `{"items":[{"id":944455285181775999,"state":"started"}],"timeStamp":"2020-04-22T12:08:00.5Z","paging":{"cursors":{"after":"abc"}}}`,
			wantIDs:   []int64{944455285181775999},
			wantAfter: "abc",
			wantTS:    time.Date(2020, 4, 22, 12, 8, 0, 5e8, time.UTC),
		},
		{
			name:      "cursor at the top level, as the OpenAPI document says",
			body:      `{"items":[],"cursors":{"after":"def","before":"x"}}`,
			wantIDs:   []int64{},
			wantAfter: "def",
		},
		{
			name:    "last page: empty cursors",
			body:    `{"items":[{"id":9223372036854775807,"state":"completed"}],"paging":{"cursors":{}}}`,
			wantIDs: []int64{9223372036854775807},
		},
		{
			name:    "unparseable timeStamp is ignored",
			body:    `{"items":[],"timeStamp":"yesterday"}`,
			wantIDs: []int64{},
		},
		{
			name:    "a timeStamp that is not a string is ignored",
			body:    `{"items":[],"timeStamp":1587557280}`,
			wantIDs: []int64{},
		},
		{
			name:    "empty and null times are absent, not errors",
			body:    `{"items":[{"id":1,"state":"started","completedAt":"","startedAt":null}]}`,
			wantIDs: []int64{1},
		},
		{
			name: "malformed items are set aside, the rest of the page is kept",
			body: `{"items":[{"id":1,"state":"started"},` +
				`{"id":"abc","uuid":"38045860-8901-426e-b51f-fc6d24d1cbe0"},` +
				`{"id":3,"uuid":"6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69","completedAt":12},` +
				`{"id":4,"state":5},` +
				`{"id":5,"uuid":7,"result":{"code":false}},` +
				`{"id":6,"updatedAt":"yesterday"},` +
				`null,"task",` +
				`{"id":9,"state":"paused"}]}`,
			wantIDs: []int64{1, 9},
			wantBad: []bad{
				{"38045860-8901-426e-b51f-fc6d24d1cbe0", "id"},
				{"6f1c2a0e-3b7d-4c1a-9e55-0d2f3c4b5a69", "completedAt"},
				{"", "state"},
				{"", "uuid"},
				{"", "updatedAt"},
				{"", ""},
				{"", ""},
			},
		},
		{name: "id as float: that item is set aside", body: `{"items":[{"id":1.5e18}]}`, wantIDs: []int64{}, wantBad: []bad{{"", "id"}}},
		{name: "no items", body: `{"size":0}`, wantErr: `the answer has no "items"`},
		{name: "items null", body: `{"items":null}`, wantErr: `the answer has no "items"`},
		{name: "items not an array", body: `{"items":{"id":1}}`, wantErr: "cannot unmarshal object"},
		{name: "truncated", body: `{"items":[{"id":1,"sta`, wantErr: "unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p listPage
			err := p.decode([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ids := []int64{}
			for _, it := range p.Tasks {
				ids = append(ids, it.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.wantIDs) {
				t.Errorf("ids = %v, want %v", ids, tt.wantIDs)
			}
			var gotBad []bad
			for _, b := range p.Bad {
				gotBad = append(gotBad, bad{b.UUID, b.Field})
				if b.Err == nil {
					t.Errorf("bad item %+v has no error", b)
				}
			}
			if fmt.Sprint(gotBad) != fmt.Sprint(tt.wantBad) {
				t.Errorf("bad items = %v, want %v", gotBad, tt.wantBad)
			}
			if p.after() != tt.wantAfter {
				t.Errorf("after = %q, want %q", p.after(), tt.wantAfter)
			}
			if !p.TimeStamp.Equal(tt.wantTS) {
				t.Errorf("TimeStamp = %v, want %v", p.TimeStamp, tt.wantTS)
			}
		})
	}
}

// TestListPageDecodeOnePass: a page whose items are all good tasks is read in one pass, with
// the same tasks, cursor, time stamp and count as decoding it item by item; a page with one bad
// item is not (the item by item decoding names it).
func TestListPageDecodeOnePass(t *testing.T) {
	tests := []struct {
		name    string
		body    []byte
		onePass bool
	}{
		{"the in-progress fixture", fixture(t, "tasks-in-progress.json"), true},
		{"the completed fixture", fixture(t, "tasks-completed-page2.json"), true},
		{"the 100-task benchmark page", benchPage(t), true},
		{"empty and null times", []byte(`{"items":[{"id":1,"state":"started","completedAt":"","startedAt":null}],"cursors":{"after":"x"}}`), true},
		{"no items", []byte(`{"items":[],"timeStamp":"2020-04-22T12:08:00Z"}`), true},
		{"an id as a string", []byte(`{"items":[{"id":1,"state":"started"},{"id":"abc","state":"paused"}]}`), false},
		{"an unknown state", []byte(`{"items":[{"id":1,"state":"started"},{"id":2,"state":"sleeping"}]}`), false},
		{"a null item", []byte(`{"items":[{"id":1,"state":"started"},null]}`), false},
		{"a time that is a number", []byte(`{"items":[{"id":1,"state":"completed","completedAt":12}]}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var whole, items listPage
			if got := whole.decodeWhole(tt.body); got != tt.onePass {
				t.Fatalf("decodeWhole = %v, want %v", got, tt.onePass)
			}
			if !tt.onePass {
				return
			}
			if err := items.decodeItems(tt.body); err != nil {
				t.Fatal(err)
			}
			if len(whole.Tasks) == 0 && len(tt.body) > 100 {
				t.Fatal("no tasks decoded")
			}
			if !reflect.DeepEqual(whole.Tasks, items.Tasks) {
				t.Errorf("one pass decoded\n%+v\nitem by item\n%+v", whole.Tasks, items.Tasks)
			}
			if whole.Count != items.Count || whole.after() != items.after() || string(whole.RawTimeStamp) != string(items.RawTimeStamp) {
				t.Errorf("one pass: count %d, after %q, timeStamp %s; item by item: %d, %q, %s",
					whole.Count, whole.after(), whole.RawTimeStamp, items.Count, items.after(), items.RawTimeStamp)
			}
		})
	}
}

// benchPage is a 100-task list answer built from the tasks of the two fixture pages.
func benchPage(b testing.TB) []byte {
	var items []json.RawMessage
	for _, name := range []string{"tasks-in-progress.json", "tasks-completed-page2.json"} {
		var p struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(fixture(b, name), &p); err != nil {
			b.Fatal(err)
		}
		items = append(items, p.Items...)
	}
	page := struct {
		Items     []json.RawMessage `json:"items"`
		Size      int               `json:"size"`
		TimeStamp string            `json:"timeStamp"`
		Paging    any               `json:"paging"`
	}{Size: 100, TimeStamp: "2020-04-22T12:08:00Z", Paging: map[string]any{"cursors": map[string]string{"after": "0A8AAAAAAAAAAA=="}}}
	for i := range 100 {
		page.Items = append(page.Items, items[i%len(items)])
	}
	out, err := json.Marshal(page)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkListDecode measures decoding one 100-task page of GET /tasks, as List does per page.
func BenchmarkListDecode(b *testing.B) {
	body := benchPage(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var p listPage
		if err := p.decode(body); err != nil {
			b.Fatal(err)
		}
		if len(p.Tasks) != 100 {
			b.Fatalf("decoded %d tasks", len(p.Tasks))
		}
	}
}

// FuzzListPageOnePass: whatever the answer, when the one-pass decoding accepts it, decoding it
// item by item accepts it too, with the same tasks and count.
func FuzzListPageOnePass(f *testing.F) {
	f.Add([]byte(`{"items":[{"id":1,"state":"started","completedAt":"","startedAt":null}]}`))
	f.Add([]byte(`{"items":[{"id":1,"state":"started"},{"id":"abc","state":"paused"}]}`))
	f.Add([]byte(`{"items":[{"id":1,"state":"paused","context":{"title":"x"},"tenant":{"id":"t"}}],"paging":{"cursors":{"after":"a"}}}`))
	f.Add(fixture(f, "tasks-in-progress.json"))
	f.Fuzz(func(t *testing.T, body []byte) {
		var whole, items listPage
		if !whole.decodeWhole(body) {
			return
		}
		if err := items.decodeItems(body); err != nil {
			t.Fatalf("one pass accepted %q; item by item: %v", body, err)
		}
		if len(items.Bad) > 0 || !reflect.DeepEqual(whole.Tasks, items.Tasks) || whole.Count != items.Count {
			t.Fatalf("%q: one pass decoded %+v (%d items), item by item %+v (%d items, bad %+v)", body, whole.Tasks, whole.Count, items.Tasks, items.Count, items.Bad)
		}
	})
}
