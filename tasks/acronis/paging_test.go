package acronis

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks"
)

// loopServer answers the token endpoint and serves list pages whose "after" cursor comes from
// next(page number, 1-based), with one task each; it counts list requests.
func loopServer(t *testing.T, next func(page int) string) (*Client, *atomic.Int64) {
	t.Helper()
	return patternServer(t, next, func(int) bool { return true })
}

// patternServer is loopServer with pages that hold one task when full(page), else none.
func patternServer(t *testing.T, next func(page int) string, full func(page int) bool) (*Client, *atomic.Int64) {
	t.Helper()
	var pages atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+TokenPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"t","token_type":"bearer","id_token":"i","expires_on":%d}`, time.Now().Add(time.Hour).Unix())
	})
	mux.HandleFunc("GET "+APIPath+"/tasks", func(w http.ResponseWriter, r *http.Request) {
		n := int(pages.Add(1))
		w.Header().Set("Content-Type", "application/json")
		item := ""
		if full(n) {
			item = fmt.Sprintf(`{"id":%d,"state":"started"}`, n)
		}
		fmt.Fprintf(w, `{"items":[%s],"paging":{"cursors":{"after":%q}}}`, item, next(n))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := NewClient(Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret", RetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c, &pages
}

func TestListPagingLoopGuard(t *testing.T) {
	old := maxPages
	maxPages = 50
	defer func() { maxPages = old }()

	tests := []struct {
		name      string
		next      func(page int) string
		wantPages int64
		wantErr   string
	}{
		{"a cursor repeating", func(page int) string { return fmt.Sprint("c", min(page, 3)) }, 4, `page 4 names cursor "c3" again`},
		{"a cursor alternating between two values", func(page int) string { return fmt.Sprint("c", page%2) }, 3, `page 3 names cursor "c1" again`},
		{"never-ending fresh cursors", func(page int) string { return fmt.Sprint("c", page) }, 50, "more than 50 pages"},
		{"ends on page 7", func(page int) string {
			if page == 7 {
				return ""
			}
			return fmt.Sprint("c", page)
		}, 7, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, pages := loopServer(t, tt.next)
			res, err := c.List(context.Background(), tasks.Query{})
			if pages.Load() != tt.wantPages {
				t.Errorf("server served %d pages, want %d", pages.Load(), tt.wantPages)
			}
			if tt.wantErr == "" {
				if err != nil || res.Pages != int(tt.wantPages) || len(res.Tasks) != int(tt.wantPages) {
					t.Fatalf("List = %+v, %v", res, err)
				}
				return
			}
			if !errors.Is(err, ErrPagingLoop) || !strings.Contains(err.Error(), tt.wantErr) || res != nil {
				t.Errorf("List = %v, %v; want no result and ErrPagingLoop with %q", res, err, tt.wantErr)
			}
		})
	}
}

func TestListStopsAfterThreeEmptyPagesInARow(t *testing.T) {
	tests := []struct {
		name      string
		pattern   string // page n is full ('D') or empty ('E'); the last page names no cursor
		wantPages int64
		wantIDs   string
	}{
		{"empty pages between full ones are followed", "EEDEEDEED", 9, "[3 6 9]"},
		{"the third empty page in a row ends the list", "EEDEEDEEED", 9, "[3 6]"},
		{"three empty pages at once", "EEEDD", 3, "[]"},
		{"an empty last page is no problem", "DE", 2, "[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := func(page int) string {
				if page >= len(tt.pattern) {
					return ""
				}
				return fmt.Sprint("c", page)
			}
			full := func(page int) bool { return page <= len(tt.pattern) && tt.pattern[page-1] == 'D' }
			c, pages := patternServer(t, next, full)
			res, err := c.List(context.Background(), tasks.Query{})
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, tk := range res.Tasks {
				got = append(got, tk.ID)
			}
			if pages.Load() != tt.wantPages || fmt.Sprint(got) != tt.wantIDs {
				t.Errorf("%d pages fetched, ids %v; want %d pages, ids %s", pages.Load(), got, tt.wantPages, tt.wantIDs)
			}
		})
	}
}
