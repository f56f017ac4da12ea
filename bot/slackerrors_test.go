package bot

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/taskbot/taskbot/tasks/announce"
)

// TestSlackErrorTable classifies what real servers answer, through slack-go over HTTP: the
// outcome for the outbox and the words for the user.
func TestSlackErrorTable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		method  string
		status  int
		body    string
		code    string
		outcome announce.Outcome
		hint    string // a part of the hint; "" for none
	}{
		{"not in channel", "chat.postMessage", 200, `{"ok":false,"error":"not_in_channel"}`, "not_in_channel", announce.Blocked, "/invite"},
		{"missing scope to post", "chat.postMessage", 200, `{"ok":false,"error":"missing_scope"}`, "missing_scope", announce.Blocked, "chat:write"},
		{"missing scope to read the channel", "conversations.info", 200, `{"ok":false,"error":"missing_scope"}`, "missing_scope", announce.Blocked, "channels:read and groups:read"},
		{"app token refused", "apps.connections.open", 200, `{"ok":false,"error":"invalid_auth"}`, "invalid_auth", announce.Blocked, "SLACK_APP_TOKEN"},
		{"bot token refused", "chat.postMessage", 200, `{"ok":false,"error":"invalid_auth"}`, "invalid_auth", announce.Blocked, "SLACK_BOT_TOKEN"},
		{"thread gone", "chat.postMessage", 200, `{"ok":false,"error":"thread_not_found"}`, "thread_not_found", announce.ThreadGone, ""},
		{"blocks too long", "chat.postMessage", 200, `{"ok":false,"error":"msg_blocks_too_long"}`, "msg_blocks_too_long", announce.Refused, ""},
		{"an error nobody knows", "chat.postMessage", 200, `{"ok":false,"error":"brand_new"}`, "brand_new", announce.Unknown, "does not know"},
		{"rate limited", "chat.postMessage", 429, ``, "ratelimited", announce.Retry, ""},
		{"server error", "chat.postMessage", 503, `oops`, "http_503", announce.Retry, ""},
		{"not Slack: 404", "auth.test", 404, `<html>Not Found</html>`, "http_404", announce.Retry, "SLACK_API_URL"},
		{"not Slack: an HTML page with 200", "auth.test", 200, `<html><title>Login</title></html>`, "bad_answer", announce.Retry, "SLACK_API_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			api := slack.New("xoxb-test", slack.OptionAPIURL(srv.URL+"/"))
			var err error
			switch tc.method {
			case "auth.test":
				_, err = api.AuthTestContext(context.Background())
			case "conversations.info":
				_, err = api.GetConversationInfoContext(context.Background(), &slack.GetConversationInfoInput{ChannelID: "C0123ABCDEF"})
			case "apps.connections.open":
				_, _, err = api.StartSocketModeContext(context.Background())
			default:
				_, _, err = api.PostMessageContext(context.Background(), "C0123ABCDEF", slack.MsgOptionText("x", false))
			}
			de := ClassifySlackError(tc.method, err)
			if de == nil || de.Code != tc.code || de.Outcome != tc.outcome || !strings.Contains(de.Hint, tc.hint) {
				t.Fatalf("ClassifySlackError(%v) = %+v, want code %s, outcome %d, hint with %q", err, de, tc.code, tc.outcome, tc.hint)
			}
			if got := ExplainSlack(tc.method, err); tc.hint != "" && !strings.Contains(got, tc.hint) {
				t.Errorf("ExplainSlack = %q", got)
			}
		})
	}
}
