package taskstest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

func TestSetRawItemsAppendsToFirstPagesOnly(t *testing.T) {
	s := newServer(t)
	s.SetPageSizeCap(2)
	added := []tasks.Task{s.Add(tasks.Task{}), s.Add(tasks.Task{}), s.Add(tasks.Task{})}
	s.SetRawItems(`{"id":"abc"}`, `{"id":5,"completedAt":12}`)
	tok := token(t, s)

	a := get(t, s, tok, taskstest.TasksPath+"?limit=2")
	var page struct {
		Items  []json.RawMessage `json:"items"`
		Size   int               `json:"size"`
		Paging struct {
			Cursors struct{ After string } `json:"cursors"`
		} `json:"paging"`
	}
	if err := json.Unmarshal(a.body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 4 || page.Size != 4 || string(page.Items[2]) != `{"id":"abc"}` || string(page.Items[3]) != `{"id":5,"completedAt":12}` {
		t.Fatalf("first page %s, want two tasks then the raw items verbatim, size 4", a.body)
	}
	// Later pages carry only tasks.
	ids, next := listIDs(t, s, tok, "limit=2&after="+url.QueryEscape(page.Paging.Cursors.After))
	if !slices.Equal(ids, []int64{added[2].ID}) || next != "" {
		t.Errorf("second page %v (next %q), want only task %d", ids, next, added[2].ID)
	}
	s.SetRawItems()
	s.SetPageSizeCap(0)
	if ids, _ := listIDs(t, s, tok, "limit=10"); len(ids) != 3 {
		t.Errorf("after SetRawItems(): %v, want the 3 tasks alone", ids)
	}

	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "not valid JSON") {
			t.Errorf("recover() = %v, want a panic about invalid JSON", r)
		}
	}()
	s.SetRawItems(`{"id":`)
}

func TestIgnoreParams(t *testing.T) {
	s := newServer(t)
	s.SetPageSizeCap(2)
	at := func(sec int) time.Time { return time.Date(2026, 12, 1, 10, 0, sec, 0, time.UTC) }
	a := s.Add(tasks.Task{State: tasks.Started, UpdatedAt: at(3)})
	b := s.Add(tasks.Task{State: tasks.Paused, UpdatedAt: at(1)})
	c := s.Add(tasks.Task{State: tasks.Started, UpdatedAt: at(2)})
	tok := token(t, s)
	all := func(query string) []int64 {
		t.Helper()
		var out []int64
		ids, next := listIDs(t, s, tok, query)
		out = append(out, ids...)
		for next != "" {
			ids, next = listIDs(t, s, tok, "limit=2&after="+url.QueryEscape(next))
			out = append(out, ids...)
		}
		return out
	}
	const q = "state=started&order=desc(updatedAt)&limit=2"
	if got, want := all(q), []int64{a.ID, c.ID}; !slices.Equal(got, want) {
		t.Fatalf("honoured: %v, want %v", got, want)
	}
	s.IgnoreParams("state")
	if got, want := all(q), []int64{a.ID, c.ID, b.ID}; !slices.Equal(got, want) {
		t.Errorf("state ignored: %v, want every task newest first %v", got, want)
	}
	s.IgnoreParams("order", "updatedAt")
	if got, want := all(q+"&updatedAt=gt(2026-12-01T10:00:02Z)"), []int64{a.ID, c.ID}; !slices.Equal(got, want) {
		t.Errorf("order and updatedAt ignored: %v, want the started tasks by ascending id %v", got, want)
	}
	// Bad values of an ignored key are still refused.
	if ans := get(t, s, tok, taskstest.TasksPath+"?order=sideways(id)"); ans.status != http.StatusBadRequest {
		t.Errorf("bad order while ignored: %d, want 400", ans.status)
	}
	s.IgnoreParams()
	if got, want := all(q), []int64{a.ID, c.ID}; !slices.Equal(got, want) {
		t.Errorf("restored: %v, want %v", got, want)
	}
	defer func() {
		if r := recover(); r == nil {
			t.Error("IgnoreParams(\"limit\") did not panic")
		}
	}()
	s.IgnoreParams("limit")
}

func TestSetEmptyPagesLeadsOnToEveryTask(t *testing.T) {
	s := newServer(t)
	s.SetPageSizeCap(2)
	var want []int64
	for range 3 {
		want = append(want, s.Add(tasks.Task{}).ID)
	}
	tok := token(t, s)
	s.SetEmptyPages(2)
	var got []int64
	var pages []int
	cursors := map[string]bool{}
	ids, next := listIDs(t, s, tok, "limit=2")
	for {
		got = append(got, ids...)
		pages = append(pages, len(ids))
		if next == "" {
			break
		}
		if cursors[next] {
			t.Fatalf("cursor %q repeated", next)
		}
		cursors[next] = true
		ids, next = listIDs(t, s, tok, "limit=2&after="+url.QueryEscape(next))
	}
	if !slices.Equal(got, want) || !slices.Equal(pages, []int{0, 0, 2, 1}) {
		t.Errorf("ids %v in pages of %v, want %v after two empty pages", got, pages, want)
	}
}

func TestSetClockOffsetAndDateHeader(t *testing.T) {
	s := newServer(t)
	s.SetClockOffset(-3 * time.Hour)
	tokAns := requestToken(t, s, s.ClientID, s.ClientSecret, "client_credentials")
	date, err := http.ParseTime(tokAns.header.Get("Date"))
	if err != nil {
		t.Fatalf("Date header %q: %v", tokAns.header.Get("Date"), err)
	}
	if d := time.Until(date) + 3*time.Hour; d < -2*time.Second || d > 2*time.Second {
		t.Errorf("Date %v is not 3 hours behind the host's clock", date)
	}
	m := tokAns.json(t)
	expiresOn := int64(m["expires_on"].(float64))
	if left := expiresOn - date.Unix(); left < 7200 || left > 7201 {
		t.Errorf("expires_on − Date = %ds, want the 2-hour lifetime", left)
	}
	if _, ok := m["expires_in"]; ok {
		t.Errorf("token answer has expires_in: %v", m)
	}
	// The token is valid by the server's clock, though expired by the host's.
	tok := m["access_token"].(string)
	if ans := get(t, s, tok, taskstest.TasksPath); ans.status != 200 {
		t.Errorf("list with the skewed token: %d %s", ans.status, ans.body)
	}
	if added := s.Add(tasks.Task{}); time.Until(added.UpdatedAt) > -2*time.Hour {
		t.Errorf("UpdatedAt %v is not on the server's clock", added.UpdatedAt)
	}

	s.SetTokenExpiresIn(true)
	if m := requestToken(t, s, s.ClientID, s.ClientSecret, "client_credentials").json(t); m["expires_in"] != float64(7200) {
		t.Errorf("expires_in = %v, want 7200", m["expires_in"])
	}

	s.SetDateHeader(false)
	if ans := get(t, s, tok, taskstest.TasksPath); ans.header.Get("Date") != "" || ans.status != 200 {
		t.Errorf("answer %d with Date %q, want none", ans.status, ans.header.Get("Date"))
	}
	s.SetDateHeader(true)
	s.SetClockOffset(0)
	if date, err := http.ParseTime(get(t, s, tok, taskstest.TasksPath).header.Get("Date")); err != nil || time.Since(date) > 2*time.Second {
		t.Errorf("Date %v (%v), want the host's clock again", date, err)
	}
}
