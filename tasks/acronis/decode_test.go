package acronis

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestListPageDecode(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantIDs   []int64
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
		{name: "no items", body: `{"size":0}`, wantErr: `the answer has no "items"`},
		{name: "items null", body: `{"items":null}`, wantErr: `the answer has no "items"`},
		{name: "truncated", body: `{"items":[{"id":1,"sta`, wantErr: "unexpected end of JSON input"},
		{name: "id as float", body: `{"items":[{"id":1.5e18}]}`, wantErr: "cannot unmarshal number 1.5e18"},
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
			for _, it := range p.Items {
				ids = append(ids, it.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.wantIDs) {
				t.Errorf("ids = %v, want %v", ids, tt.wantIDs)
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
		if len(p.Items) != 100 {
			b.Fatalf("decoded %d tasks", len(p.Items))
		}
	}
}
