package taskstest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

// seedScale adds n tasks to s as a large partner account has them: 80% started, 10% paused,
// 10% completed, all updated within the last hour (distinct updatedAt).
func seedScale(s *taskstest.Server, n int) {
	for i := range n {
		st := tasks.Started
		switch i % 10 {
		case 0:
			st = tasks.Paused
		case 1:
			st = tasks.Completed
		}
		s.Add(tasks.Task{State: st})
	}
}

// page is one list answer, as much of it as paging needs.
type page struct {
	Items  []json.RawMessage `json:"items"`
	Paging struct {
		Cursors struct{ After string } `json:"cursors"`
	} `json:"paging"`
}

// getPage GETs one list page with a fresh token and decodes its items and cursor.
func getPage(b *testing.B, s *taskstest.Server, tok, query string) page {
	req, _ := http.NewRequest(http.MethodGet, s.URL+taskstest.TasksPath+"?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("GET ?%s: %d", query, resp.StatusCode)
	}
	var p page
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		b.Fatal(err)
	}
	return p
}

func benchToken(b *testing.B, s *taskstest.Server) string {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest(http.MethodPost, s.URL+taskstest.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(s.ClientID), url.QueryEscape(s.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		b.Fatalf("token: %v", err)
	}
	return tok.AccessToken
}

// BenchmarkListPage measures one page of 100 tasks through HTTP at 1k, 10k and 100k tasks:
// the reconciliation's query (tasks in progress by id) at a page in the middle of the listing,
// the slash command's (paused tasks, newest update first), and the incremental poll's (updated
// in the last minute, oldest first). Its time should not grow with the number of tasks.
func BenchmarkListPage(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		s := taskstest.NewServer()
		seedScale(s, n)
		tok := benchToken(b, s)
		// A cursor to the middle of the in-progress listing.
		mid := getPage(b, s, tok, "state=started&state=paused&limit="+fmt.Sprint(n*9/20))
		recent := s.Tasks()[n-50].UpdatedAt
		queries := []struct{ name, query string }{
			{"reconcile-middle", "limit=100&after=" + url.QueryEscape(mid.Paging.Cursors.After)},
			{"command-paused", "state=paused&order=desc(updatedAt)&limit=100"},
			{"incremental", "updatedAt=gt(" + url.QueryEscape(recent.Format(time.RFC3339Nano)) + ")&order=asc(updatedAt)&limit=100"},
		}
		for _, q := range queries {
			b.Run(fmt.Sprintf("%s/tasks=%d", q.name, n), func(b *testing.B) {
				for b.Loop() {
					if p := getPage(b, s, tok, q.query); len(p.Items) == 0 {
						b.Fatal("empty page")
					}
				}
			})
		}
		s.Close()
	}
}

// BenchmarkFullListing measures paging through every task in progress, 100 a page, as the
// poller's reconciliation does.
func BenchmarkFullListing(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			s := taskstest.NewServer()
			defer s.Close()
			seedScale(s, n)
			tok := benchToken(b, s)
			for b.Loop() {
				got := 0
				p := getPage(b, s, tok, "state=started&state=paused&limit=100")
				for {
					got += len(p.Items)
					if p.Paging.Cursors.After == "" {
						break
					}
					p = getPage(b, s, tok, "limit=100&after="+url.QueryEscape(p.Paging.Cursors.After))
				}
				if got != n*9/10 {
					b.Fatalf("listed %d tasks, want %d", got, n*9/10)
				}
			}
		})
	}
}
