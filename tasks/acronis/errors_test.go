package acronis

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/acronis/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewAPIError(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		retryAfter  string
		body        []byte
		want        APIError // Method, Path, Status and Body are checked separately
		wantErr     string
		temporary   bool
	}{
		{
			name:        "Task Manager domainError: message from debug.msg",
			status:      400,
			contentType: "application/json",
			body:        fixture(t, "error-task-manager.json"),
			want:        APIError{StatusCode: 400, ContentType: "application/json", Domain: "TaskManager", Code: "badRequest", Reason: "badRequest", Message: "unknown task state"},
			wantErr:     "GET /tasks: 400 Bad Request: TaskManager badRequest: unknown task state",
		},
		{
			name:        "platform error with a numeric code kept as its decimal string",
			status:      409,
			contentType: "application/json; charset=utf-8",
			body:        fixture(t, "error-platform.json"),
			want:        APIError{StatusCode: 409, ContentType: "application/json", Domain: "PlatformAccountServer", Code: "1006", Message: "It is prohibited to delete a non-disabled tenant."},
			wantErr:     "GET /tasks: 409 Conflict: PlatformAccountServer 1006: It is prohibited to delete a non-disabled tenant.",
		},
		{
			name:        "platform error with a string code",
			status:      403,
			contentType: "application/json",
			body:        []byte(`{"error":{"code":"forbidden","message":"Access denied"}}`),
			want:        APIError{StatusCode: 403, ContentType: "application/json", Code: "forbidden", Message: "Access denied"},
			wantErr:     "GET /tasks: 403 Forbidden: forbidden: Access denied",
		},
		{
			name:        "gateway HTML page: reported as HTML with its title",
			status:      502,
			contentType: "text/html",
			body:        fixture(t, "error-gateway.html"),
			want:        APIError{StatusCode: 502, ContentType: "text/html", HTML: true, Message: "502 Bad Gateway"},
			wantErr:     "GET /tasks: 502 Bad Gateway (text/html): 502 Bad Gateway",
			temporary:   true,
		},
		{
			name:      "HTML body without a content type is still HTML",
			status:    504,
			body:      []byte("  <!DOCTYPE html><html><head><title>Gateway &amp; Time-out</title></head></html>"),
			want:      APIError{StatusCode: 504, HTML: true, Message: "Gateway & Time-out"},
			wantErr:   "GET /tasks: 504 Gateway Timeout (html): Gateway & Time-out",
			temporary: true,
		},
		{
			name:        "domainError without debug: reason equal to code is not repeated",
			status:      500,
			contentType: "application/json",
			body:        []byte(`{"domain":"TaskManager","code":"internalError","reason":"internalError"}`),
			want:        APIError{StatusCode: 500, ContentType: "application/json", Domain: "TaskManager", Code: "internalError", Reason: "internalError"},
			wantErr:     "GET /tasks: 500 Internal Server Error: TaskManager internalError",
			temporary:   true,
		},
		{
			name:        "OAuth-style error of a gateway",
			status:      401,
			contentType: "application/json",
			body:        []byte(`{"error":"invalid_token","error_description":"The access token expired"}`),
			want:        APIError{StatusCode: 401, ContentType: "application/json", Code: "invalid_token", Message: "The access token expired"},
			wantErr:     "GET /tasks: 401 Unauthorized: invalid_token: The access token expired",
		},
		{
			name:        "plain text: first line",
			status:      503,
			contentType: "text/plain",
			retryAfter:  "7",
			body:        []byte("upstream connect error\nreset reason: overflow"),
			want:        APIError{StatusCode: 503, ContentType: "text/plain", Message: "upstream connect error", RetryAfter: 7 * time.Second},
			wantErr:     "GET /tasks: 503 Service Unavailable (text/plain): upstream connect error",
			temporary:   true,
		},
		{
			name:       "empty body",
			status:     429,
			retryAfter: "2",
			want:       APIError{StatusCode: 429, RetryAfter: 2 * time.Second},
			wantErr:    "GET /tasks: 429 Too Many Requests",
			temporary:  true,
		},
		{
			name:        "invalid JSON is not a syntax error but text",
			status:      500,
			contentType: "application/json",
			body:        []byte(`{"domain":"TaskMan`),
			want:        APIError{StatusCode: 500, ContentType: "application/json", Message: `{"domain":"TaskMan`},
			wantErr:     `GET /tasks: 500 Internal Server Error: {"domain":"TaskMan`,
			temporary:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Status: statusLine(tt.status, ""), Header: http.Header{}}
			if tt.contentType != "" {
				resp.Header.Set("Content-Type", tt.contentType)
			}
			if tt.retryAfter != "" {
				resp.Header.Set("Retry-After", tt.retryAfter)
			}
			got := newAPIError("GET", "/tasks", resp, tt.body, time.Now())
			want := tt.want
			want.Method, want.Path, want.Status = "GET", "/tasks", resp.Status
			want.Body = got.Body
			if *got != want {
				t.Errorf("got  %+v\nwant %+v", *got, want)
			}
			if got.Error() != tt.wantErr {
				t.Errorf("Error() = %q, want %q", got.Error(), tt.wantErr)
			}
			if got.Temporary() != tt.temporary {
				t.Errorf("Temporary() = %v, want %v", got.Temporary(), tt.temporary)
			}
			if wantBody := snippet(tt.body, maxErrorBody); got.Body != wantBody {
				t.Errorf("Body = %q, want %q", got.Body, wantBody)
			}
		})
	}
}

func TestAPIErrorBodyIsCapped(t *testing.T) {
	body := []byte(`{"domain":"TaskManager","code":"x","debug":{"msg":"` + strings.Repeat("é", 400) + `"}}`)
	resp := &http.Response{StatusCode: 500, Status: "500 Internal Server Error", Header: http.Header{}}
	e := newAPIError("GET", "/tasks", resp, body, time.Now())
	if len(e.Body) > maxErrorBody {
		t.Errorf("len(Body) = %d, want ≤ %d", len(e.Body), maxErrorBody)
	}
	if !strings.HasPrefix(string(body), e.Body) || strings.ContainsRune(e.Body, '\uFFFD') {
		t.Errorf("Body is not a clean prefix of the answer: %q", e.Body)
	}
}

func TestTokenErrorString(t *testing.T) {
	tests := []struct {
		name      string
		err       TokenError
		want      string
		temporary bool
	}{
		{"wrong credentials", TokenError{StatusCode: 401, Code: "access_denied", Description: "Invalid client credentials"}, "token: 401 access_denied: Invalid client credentials", false},
		{"gateway page", TokenError{StatusCode: 502, Description: "502 Bad Gateway", ContentType: "text/html", HTML: true}, "token: 502 Bad Gateway (text/html)", true},
		{"gateway page with another title", TokenError{StatusCode: 503, Description: "Maintenance", HTML: true}, "token: 503 Service Unavailable (html): Maintenance", true},
		{"error in a 200 answer", TokenError{StatusCode: 200, Code: "invalid_request"}, "token: 200 invalid_request", false},
		{"error without a status", TokenError{Code: "invalid_request"}, "token: invalid_request", false},
		{"rate limited", TokenError{StatusCode: 429}, "token: 429 Too Many Requests", true},
		{"a sign-in page instead of a token", TokenError{StatusCode: 200, ContentType: "text/html", HTML: true, NotToken: true, Description: "Sign in"},
			"token: 200 OK (text/html): not a token: Sign in", false},
		{"JSON without a token, no content type", TokenError{StatusCode: 200, NotToken: true, Description: "no access_token"},
			"token: 200 OK (no content type): not a token: no access_token", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if got := tt.err.Temporary(); got != tt.temporary {
				t.Errorf("Temporary() = %v, want %v", got, tt.temporary)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"999999999", 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"500", &APIError{StatusCode: 500}, true},
		{"429", &APIError{StatusCode: 429}, true},
		{"404", &APIError{StatusCode: 404}, false},
		{"401 after the one refresh", &APIError{StatusCode: 401}, false},
		{"token 503", &TokenError{StatusCode: 503}, true},
		{"token access denied", &TokenError{StatusCode: 401, Code: "access_denied"}, false},
		{"timeout", &timeoutError{after: time.Second, err: errors.New("deadline")}, true},
		{"network", &networkError{err: errors.New("connection refused")}, true},
		{"decode error", errors.New("GET /tasks: 200 OK answer is not valid"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryable(tt.err); got != tt.want {
				t.Errorf("retryable = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	c := &Client{retryBase: 100 * time.Millisecond}
	tests := []struct {
		attempt  int
		min, max time.Duration
	}{
		{0, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 100 * time.Millisecond, 200 * time.Millisecond},
		{3, 400 * time.Millisecond, 800 * time.Millisecond},
		{20, maxBackoff / 2, maxBackoff},
	}
	for _, tt := range tests {
		for range 50 {
			if got := c.backoff(tt.attempt); got < tt.min || got > tt.max {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tt.attempt, got, tt.min, tt.max)
			}
		}
	}
}
