package acronis

import (
	"strings"
	"testing"
	"time"
)

// TestProblemsOfOtherServers: answers no Task Manager gives mean a wrong ACRONIS_URL, and a
// Retry-After is honoured in the advice.
func TestProblemsOfOtherServers(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		what string
		fix  string
	}{
		{"501 from a static web server", &APIError{Method: "GET", Path: "/tasks", StatusCode: 501, Status: "501 Not Implemented"},
			"is not the Task Manager API (501 Not Implemented)", "ACRONIS_URL"},
		{"405", &APIError{Method: "GET", Path: "/tasks", StatusCode: 405, Status: "405 Method Not Allowed"},
			"is not the Task Manager API", "ACRONIS_URL"},
		{"429 asking for an hour", &APIError{Method: "GET", Path: "/tasks", StatusCode: 429, Status: "429 Too Many Requests", RetryAfter: time.Hour},
			"429", "wait 1h0m0s"},
		{"503 without Retry-After", &APIError{Method: "GET", Path: "/tasks", StatusCode: 503, Status: "503 Service Unavailable"},
			"503", "try again in a minute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := problem(tc.err)
			if !strings.Contains(p.What, tc.what) || !strings.Contains(p.Fix, tc.fix) {
				t.Errorf("problem = %+v, want What with %q and Fix with %q", p, tc.what, tc.fix)
			}
		})
	}
}
