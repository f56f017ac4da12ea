package bottest_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"

	"github.com/taskbot/taskbot/bot/bottest"
)

// TestAuthTestAsSlacktest: the fake's auth.test answers what slacktest's own does, field by
// field, and HomeTeam is its team_id; so replacing slacktest's handler changed nothing for the
// tests that read it (taskbot check prints the user and the team).
func TestAuthTestAsSlacktest(t *testing.T) {
	plain := slacktest.NewTestServer()
	plain.Start()
	defer plain.Stop()
	want, err := slack.New("xoxb-test", slack.OptionAPIURL(plain.GetAPIURL())).AuthTestContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want.TeamID != bottest.HomeTeam {
		t.Fatalf("slacktest's auth.test team_id = %q, bottest.HomeTeam = %q", want.TeamID, bottest.HomeTeam)
	}
	fake := bottest.NewSlack()
	defer fake.Close()
	got, err := slack.New("xoxb-test", slack.OptionAPIURL(fake.URL())).AuthTestContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got.Header, want.Header = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fake auth.test = %+v, slacktest's = %+v", *got, *want)
	}
}

// TestSlackUsersAndHome: users.info answers each user's team and Enterprise org as set, users
// never set as members of the home team, and auth.test the home of SetHome.
func TestSlackUsersAndHome(t *testing.T) {
	ctx := context.Background()
	fake := bottest.NewSlack()
	defer fake.Close()
	api := slack.New("xoxb-test", slack.OptionAPIURL(fake.URL()))
	fake.SetUser("U0CUSTOMER", "T0CUSTOMER")
	fake.SetUserEnterprise("W0GRIDUSER", "T0OTHERWS", "E0GRID")
	for _, tc := range []struct {
		name, user, team, enterprise string
	}{
		{"a user never set is of the home team", "U0NEVERSET", bottest.HomeTeam, ""},
		{"a customer's user", "U0CUSTOMER", "T0CUSTOMER", ""},
		{"a user of an Enterprise org", "W0GRIDUSER", "T0OTHERWS", "E0GRID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := api.GetUserInfoContext(ctx, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			if u.ID != tc.user || u.TeamID != tc.team || u.Enterprise.EnterpriseID != tc.enterprise {
				t.Errorf("users.info %s = id %q team %q enterprise %q, want team %q enterprise %q",
					tc.user, u.ID, u.TeamID, u.Enterprise.EnterpriseID, tc.team, tc.enterprise)
			}
		})
	}
	if n := fake.UserLookups(); n != 3 {
		t.Errorf("UserLookups = %d, want 3", n)
	}

	fake.SetHome("T0MSP", "E0MSP")
	auth, err := api.AuthTestContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if auth.TeamID != "T0MSP" || auth.EnterpriseID != "E0MSP" {
		t.Errorf("auth.test after SetHome = team %q enterprise %q", auth.TeamID, auth.EnterpriseID)
	}
	if u, err := api.GetUserInfoContext(ctx, "U0NEVERSET"); err != nil || u.TeamID != "T0MSP" {
		t.Errorf("users.info of a user never set after SetHome = %+v, %v; want team T0MSP", u, err)
	}
	if n := fake.AuthTests(); n != 1 {
		t.Errorf("AuthTests = %d, want 1", n)
	}
}

// TestSlackUserFaults: users.info fails only as a Fault naming it says; a Fault with no
// Method, meant for posts, leaves it alone.
func TestSlackUserFaults(t *testing.T) {
	ctx := context.Background()
	fake := bottest.NewSlack()
	defer fake.Close()
	api := slack.New("xoxb-test", slack.OptionAPIURL(fake.URL()))
	fake.Fail(bottest.Fault{Error: "not_in_channel", Times: 1})
	if _, err := api.GetUserInfoContext(ctx, "U0ANY"); err != nil {
		t.Fatalf("users.info with a fault for posts: %v", err)
	}
	fake.ClearFaults()
	fake.Fail(bottest.Fault{Method: "users.info", Error: "user_not_found", Times: 1})
	if _, err := api.GetUserInfoContext(ctx, "U0ANY"); err == nil || err.Error() != "user_not_found" {
		t.Fatalf("users.info with a user_not_found fault: %v", err)
	}
	if _, err := api.GetUserInfoContext(ctx, "U0ANY"); err != nil {
		t.Fatalf("users.info after the fault's one time: %v", err)
	}
}
