package bot

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/taskbot/taskbot/tasks/acronis"
	"github.com/taskbot/taskbot/tasks/taskstest"
)

func TestAnswerExplainsAPIFailures(t *testing.T) {
	api := taskstest.NewServer()
	defer api.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name   string
		url    string
		secret string
		fault  *taskstest.Fault
		want   string
	}{
		{"connection refused", closed, api.ClientSecret, nil, "could not be reached"},
		{"slow API", api.URL, api.ClientSecret, &taskstest.Fault{Delay: time.Second, Times: 1}, "did not answer in time"},
		{"wrong secret", api.URL, "wrong", nil, "could not sign in to Acronis"},
		{"missing role", api.URL, api.ClientSecret, &taskstest.Fault{Status: 403, ContentType: "application/json", Body: `{"domain":"Access","code":"forbidden"}`, Times: 1}, "lacks permission to read tasks"},
		{"gateway page", api.URL, api.ClientSecret, &taskstest.Fault{Status: 502, ContentType: "text/html", Body: "<html><title>502 Bad Gateway</title></html>", Times: 1}, "answered GET /tasks: 502"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api.ClearFaults()
			if tc.fault != nil {
				api.Fail(*tc.fault)
			}
			c, err := acronis.NewClient(acronis.Config{BaseURL: tc.url, ClientID: api.ClientID, ClientSecret: tc.secret,
				Timeout: 300 * time.Millisecond, Retries: -1, Logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			m := (NewAnswerer(AnswererConfig{API: c})).Answer(context.Background(), "paused")
			if !strings.Contains(m.Text, tc.want) || !strings.Contains(m.Text, "Could not fetch tasks (paused)") {
				t.Fatalf("answer %q lacks %q", m.Text, tc.want)
			}
			if err := CheckLimits(m); err != nil {
				t.Fatal(err)
			}
		})
	}
}
