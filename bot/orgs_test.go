package bot

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/bot/bottest"
	"github.com/taskbot/taskbot/tasks/announce"
)

// newTestOrgs is an Orgs of a cache of size users for ttl, asking the fake Slack over HTTP.
func newTestOrgs(t *testing.T, size int, ttl time.Duration) (*Orgs, *bottest.Slack) {
	t.Helper()
	fake := bottest.NewSlack()
	t.Cleanup(fake.Close)
	api := slack.New("xoxb-test", slack.OptionAPIURL(fake.URL()), slack.OptionHTTPClient(&http.Client{Timeout: 5 * time.Second}))
	return newOrgs(api, size, ttl), fake
}

// TestOrgsExternal: who is of the bot's organization, from an interaction's team or from
// users.info, with the users.info calls each answer took.
func TestOrgsExternal(t *testing.T) {
	const (
		customer   = "U0CUSTOMER" // of the customer's own workspace, shared with the MSP
		mspOps     = "W0MSPOPS"   // of another workspace of the MSP's Enterprise org
		orgWide    = "W0ORGWIDE"  // of the MSP's Enterprise org as a whole (team_id E…)
		gridClient = "W0GRIDCUST" // of a customer that has an Enterprise org of its own
		nobody     = "U0NEVERSET" // never set: the fake answers them as of the bot's team
	)
	standalone := func(s *bottest.Slack) { s.SetUser(customer, "T0CUSTOMER") }
	enterprise := func(s *bottest.Slack) {
		s.SetHome("T0MSPHQ", "E0MSP")
		s.SetUserEnterprise(mspOps, "T0MSPOPS", "E0MSP")
		s.SetUserEnterprise(orgWide, "E0MSP", "E0MSP")
		s.SetUserEnterprise(gridClient, "T0GRIDCUST", "E0GRIDCUST")
		s.SetUser(customer, "T0CUSTOMER")
	}
	for _, tc := range []struct {
		name     string
		setup    func(*bottest.Slack)
		user     string
		team     string // the hint from the payload
		external bool
		lookups  int // users.info calls
	}{
		{"a user of the bot's team, looked up", standalone, nobody, "", false, 1},
		{"a customer's user, looked up", standalone, customer, "", true, 1},
		{"an interaction's team of a customer decides alone", standalone, customer, "T0CUSTOMER", true, 0},
		{"an interaction's team of the bot's own decides alone", standalone, nobody, bottest.HomeTeam, false, 0},
		{"the bot's own team as hint wins over users.info", standalone, customer, bottest.HomeTeam, false, 0},
		{"a hint of one letter is ignored", standalone, customer, "x", true, 1},
		{"a hint with markup is ignored", standalone, customer, "T123<>", true, 1},
		{"a hint in lower case is ignored", standalone, nobody, "t0customer", false, 1},
		{"the bot's team with a trailing space is no hint", standalone, customer, bottest.HomeTeam + " ", true, 1},

		{"Enterprise: the bot's org as hint", enterprise, orgWide, "E0MSP", false, 0},
		{"Enterprise: the bot's workspace as hint", enterprise, nobody, "T0MSPHQ", false, 0},
		{"Enterprise: another workspace of the org, looked up", enterprise, mspOps, "", false, 1},
		{"Enterprise: another workspace of the org as hint is looked up", enterprise, mspOps, "T0MSPOPS", false, 1},
		{"Enterprise: an org-wide user, looked up", enterprise, orgWide, "", false, 1},
		{"Enterprise: a customer's workspace as hint is looked up", enterprise, customer, "T0CUSTOMER", true, 1},
		{"Enterprise: a customer in an Enterprise org of its own", enterprise, gridClient, "", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orgs, fake := newTestOrgs(t, usersCached, userTTL)
			tc.setup(fake)
			external, err := orgs.External(context.Background(), tc.user, tc.team)
			if err != nil {
				t.Fatal(err)
			}
			if external != tc.external {
				t.Errorf("External(%s, %q) = %v, want %v", tc.user, tc.team, external, tc.external)
			}
			if n := fake.UserLookups(); n != tc.lookups {
				t.Errorf("users.info calls = %d, want %d", n, tc.lookups)
			}
		})
	}
}

// TestOrgsCache: a users.info answer serves the same user again without a call, for userTTL
// and while among the size most recently used; auth.test is asked once for all.
func TestOrgsCache(t *testing.T) {
	ctx := context.Background()
	t.Run("the same user again makes no call", func(t *testing.T) {
		orgs, fake := newTestOrgs(t, usersCached, userTTL)
		fake.SetUser("U0CUSTOMER", "T0CUSTOMER")
		for _, user := range []string{"U0CUSTOMER", "U0CUSTOMER", "U0NEVERSET", "U0CUSTOMER", "U0NEVERSET"} {
			if _, err := orgs.External(ctx, user, ""); err != nil {
				t.Fatal(err)
			}
		}
		if n := fake.UserLookups(); n != 2 {
			t.Errorf("users.info calls for 2 users asked 5 times = %d, want 2", n)
		}
		if n := fake.AuthTests(); n != 1 {
			t.Errorf("auth.test calls = %d, want 1", n)
		}
	})
	t.Run("an answer older than the ttl is asked again", func(t *testing.T) {
		// expirable.LRU reads the real clock (and its cleaner runs for the process, so
		// testing/synctest cannot hold it): a ttl of 100ms and a sleep past it.
		orgs, fake := newTestOrgs(t, usersCached, 100*time.Millisecond)
		fake.SetUser("U0CUSTOMER", "T0CUSTOMER")
		if _, err := orgs.External(ctx, "U0CUSTOMER", ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
		fake.SetUser("U0CUSTOMER", bottest.HomeTeam) // moved in the meantime
		external, err := orgs.External(ctx, "U0CUSTOMER", "")
		if err != nil {
			t.Fatal(err)
		}
		if n := fake.UserLookups(); n != 2 || external {
			t.Errorf("after the ttl: external %v with %d users.info calls, want false with 2", external, n)
		}
	})
	t.Run("past the size the least recently used is asked again", func(t *testing.T) {
		orgs, fake := newTestOrgs(t, 2, userTTL)
		for _, user := range []string{"U0FIRST", "U0SECOND", "U0FIRST", "U0THIRD", "U0FIRST", "U0SECOND"} {
			if _, err := orgs.External(ctx, user, ""); err != nil {
				t.Fatal(err)
			}
		}
		// U0FIRST stays (used again before U0THIRD came); U0SECOND was dropped for U0THIRD.
		if n := fake.UserLookups(); n != 4 {
			t.Errorf("users.info calls = %d, want 4", n)
		}
	})
}

// TestOrgsErrors: a failed users.info or auth.test is an error that says what to fix, with
// External true (refuse), and is not kept: the next call asks again.
func TestOrgsErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		fault bottest.Fault
		code  string   // of the *announce.DeliveryError in the chain
		words []string // in the error's text
	}{
		{"users.info without users:read", bottest.Fault{Method: "users.info", Error: "missing_scope", Times: 1},
			"missing_scope", []string{"users.info U0CUSTOMER: missing_scope", "users:read", "reinstall"}},
		{"users.info: no such user", bottest.Fault{Method: "users.info", Error: "user_not_found", Times: 1},
			"user_not_found", []string{"users.info U0CUSTOMER: user_not_found", "https://api.slack.com/methods/users.info#errors"}},
		{"users.info: Slack down", bottest.Fault{Method: "users.info", Status: 503, Times: 1},
			"http_503", []string{"users.info U0CUSTOMER: http_503", "503 Service Unavailable"}},
		{"users.info: rate limited", bottest.Fault{Method: "users.info", Status: 429, RetryAfter: 30, Times: 1},
			"ratelimited", []string{"users.info U0CUSTOMER: ratelimited", "30s"}},
		{"users.info: connection reset", bottest.Fault{Method: "users.info", Reset: true, Times: 1},
			"network", []string{"users.info U0CUSTOMER: network", "/users.info"}},
		{"auth.test: token refused", bottest.Fault{Method: "auth.test", Error: "invalid_auth", Times: 1},
			"invalid_auth", []string{"auth.test: invalid_auth", "SLACK_BOT_TOKEN"}},
		{"auth.test: Slack down", bottest.Fault{Method: "auth.test", Status: 502, Times: 1},
			"http_502", []string{"auth.test: http_502", "502 Bad Gateway"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orgs, fake := newTestOrgs(t, usersCached, userTTL)
			fake.SetUser("U0CUSTOMER", "T0CUSTOMER")
			fake.Fail(tc.fault)
			external, err := orgs.External(ctx, "U0CUSTOMER", "")
			var de *announce.DeliveryError
			if !errors.As(err, &de) || de.Code != tc.code {
				t.Fatalf("External = %v, %v; want a DeliveryError %s", external, err, tc.code)
			}
			for _, w := range tc.words {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !external {
				t.Error("External with an error reported false: a caller reading only the bool would let the user in")
			}
			lookups, auths := fake.UserLookups(), fake.AuthTests()
			external, err = orgs.External(ctx, "U0CUSTOMER", "")
			if err != nil || !external {
				t.Fatalf("External after the fault = %v, %v; want true (T0CUSTOMER)", external, err)
			}
			if fake.UserLookups() != lookups+1 || fake.AuthTests() != auths+btoi(tc.fault.Method == "auth.test") {
				t.Errorf("after the fault: users.info %d→%d, auth.test %d→%d calls; the failure was kept",
					lookups, fake.UserLookups(), auths, fake.AuthTests())
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestOrgsNoUser: an empty user ID is an error before any call.
func TestOrgsNoUser(t *testing.T) {
	orgs, fake := newTestOrgs(t, usersCached, userTTL)
	external, err := orgs.External(context.Background(), "", bottest.HomeTeam)
	if err == nil || !strings.Contains(err.Error(), "no user ID") || !external {
		t.Errorf("External of no user = %v, %v; want true and a no user ID error", external, err)
	}
	if fake.UserLookups()+fake.AuthTests() != 0 {
		t.Errorf("calls to Slack: users.info %d, auth.test %d; want none", fake.UserLookups(), fake.AuthTests())
	}
}

// TestOrgsAuthTestShared: callers that come while auth.test is out wait for its answer and ask
// no more; one whose context ends while waiting gets its context's error.
func TestOrgsAuthTestShared(t *testing.T) {
	orgs, fake := newTestOrgs(t, usersCached, userTTL)
	fake.Fail(bottest.Fault{Method: "auth.test", Delay: 300 * time.Millisecond, Times: 1})
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() { _, errs[i] = orgs.External(context.Background(), "U0NEVERSET", bottest.HomeTeam) })
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	time.Sleep(10 * time.Millisecond)
	if _, err := orgs.External(short, "U0NEVERSET", bottest.HomeTeam); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a caller whose context ends while auth.test is out: %v, want deadline exceeded", err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := fake.AuthTests(); n != 1 {
		t.Errorf("auth.test calls for 21 callers = %d, want 1", n)
	}
}

// TestOrgsAuthTestWithoutTeam: an auth.test answer that names no team is an error, never
// a home that every user without a team would match.
func TestOrgsAuthTestWithoutTeam(t *testing.T) {
	orgs, fake := newTestOrgs(t, usersCached, userTTL)
	fake.SetHome("", "")
	fake.SetUser("U0NOTEAM", "")
	external, err := orgs.External(context.Background(), "U0NOTEAM", "")
	if err == nil || !strings.Contains(err.Error(), "no team_id") || !external {
		t.Errorf("External with a teamless auth.test = %v, %v; want true and a no team_id error", external, err)
	}
}
