package acronis

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrTimeout is wrapped by the error of a request (to the API or to the token endpoint) that
// took longer than Config.Timeout. Such requests are retried like 5xx answers.
var ErrTimeout = errors.New("timed out")

// ErrPagingLoop is wrapped by the error of a List whose cursors repeat or that would fetch more
// than maxPages pages: a server bug that would otherwise make List loop forever.
var ErrPagingLoop = errors.New("paging does not end")

// APIError is a non-2xx answer of the Task Manager API.
//
// It understands both error bodies the Acronis platform sends: the Task Manager's domainError
// `{"domain","code","reason","context","debug":{"msg"}}` (OpenAPI schema "domainError") and the
// platform's `{"error":{"code","message","details","domain"}}` whose code may be a number
// (kept here as its decimal string, e.g. "1006"). An HTML body, as gateways send for 502/504, is
// reported as HTML with its <title> as Message instead of failing as a JSON syntax error.
//
// Error() reads as one element of an error chain:
//
//	GET /tasks: 502 Bad Gateway (text/html): 502 Bad Gateway
//	GET /tasks: 400 Bad Request: TaskManager badRequest: unknown task state
type APIError struct {
	Method string // "GET"
	Path   string // path below the API root, without the query: "/tasks"

	StatusCode int    // 502
	Status     string // as net/http gives it: "502 Bad Gateway"
	// ContentType is the answer's media type without parameters ("application/json", "text/html").
	ContentType string

	Domain  string // "TaskManager", "PlatformAccountServer"; "" when the body had none
	Code    string // "badRequest", "1006"
	Reason  string // domainError.reason
	Message string // debug.msg, error.message, error_description or the HTML <title>

	// HTML reports that the body was an HTML page (typically from a proxy or gateway).
	HTML bool
	// RetryAfter is the wait the server asked for in a Retry-After header (0 when absent).
	RetryAfter time.Duration
	// Body is the start of the raw body (at most 512 bytes, valid UTF-8), for logs.
	Body string
}

// Error implements error; see the type's comment for its shape.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Path)
	b.WriteString(": ")
	b.WriteString(statusLine(e.StatusCode, e.Status))
	ct := e.ContentType
	if ct == "" && e.HTML {
		ct = "html"
	}
	parsed := e.Domain != "" || e.Code != ""
	if !parsed && ct != "" && ct != "application/json" && (e.HTML || e.Message != "") {
		fmt.Fprintf(&b, " (%s)", ct)
	}
	if d := e.detail(); d != "" {
		b.WriteString(": ")
		b.WriteString(d)
	}
	return b.String()
}

// detail is "domain code: message", leaving out what is empty or repeats itself.
func (e *APIError) detail() string {
	head := strings.TrimSpace(e.Domain + " " + e.Code)
	msg := e.Message
	if msg == "" && e.Reason != e.Code {
		msg = e.Reason
	}
	switch {
	case head != "" && msg != "":
		return head + ": " + msg
	case head != "":
		return head
	default:
		return msg
	}
}

// Temporary reports whether retrying the same request later may succeed: 5xx answers and
// 429 Too Many Requests.
func (e *APIError) Temporary() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests
}

// TokenError is a failed answer of the token endpoint {BaseURL}/api/2/idp/token: an error
// answer, or a 2xx answer that is not a token (NotToken).
// Code and Description are the OAuth 2.0 `error` and `error_description` (RFC 6749 §5.2; the
// Acronis schema "tokenError", e.g. access_denied / "Invalid client credentials"). The client
// secret is never part of it.
//
// Error() reads like `token: 401 access_denied: Invalid client credentials`, or for an answer
// that is not a token `token: 200 OK (text/html): not a token: Sign in`.
type TokenError struct {
	StatusCode  int    // HTTP status (200 for an error code in a 2xx answer); 0 when unknown
	Code        string // "access_denied", "invalid_request"; "" when the body had none
	Description string // error_description, or the HTML <title> of a gateway page
	// ContentType is the answer's media type ("application/json", "text/html"); "" when it had
	// none.
	ContentType string
	// HTML reports that the body was an HTML page: a gateway's, a proxy's sign-in page, or a
	// site that is not the Acronis sign-in service at all.
	HTML bool
	// NotToken reports a 2xx answer without a token: not JSON (an HTML page, text), or JSON
	// without access_token. Description then says what it was: the page's <title>, "no
	// access_token", "not JSON" or "empty answer"; other bodies are never quoted, as a mangled
	// token answer may hold a token.
	NotToken bool
}

// Error implements error; see the type's comment for its shape.
func (e *TokenError) Error() string {
	var b strings.Builder
	b.WriteString("token:")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " %d", e.StatusCode)
	}
	code := e.Code
	if code == "" && e.StatusCode != 0 {
		code = http.StatusText(e.StatusCode)
	}
	if code != "" {
		b.WriteByte(' ')
		b.WriteString(code)
	}
	if e.HTML || e.NotToken {
		ct := e.ContentType
		if ct == "" && e.HTML {
			ct = "html"
		}
		fmt.Fprintf(&b, " (%s)", cmp.Or(ct, "no content type"))
	}
	if e.NotToken {
		b.WriteString(": not a token")
	}
	if e.Description != "" && e.Description != statusLine(e.StatusCode, "") {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	return b.String()
}

// Temporary reports whether a later attempt may succeed: 5xx and 429 answers.
func (e *TokenError) Temporary() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusTooManyRequests
}

// maxErrorBody is how much of an error body APIError.Body keeps.
const maxErrorBody = 512

// newAPIError builds the APIError of a non-2xx answer from its status, headers and body.
func newAPIError(method, path string, resp *http.Response, body []byte, now time.Time) *APIError {
	e := &APIError{
		Method:      method,
		Path:        path,
		StatusCode:  resp.StatusCode,
		Status:      resp.Status,
		ContentType: mediaType(resp.Header.Get("Content-Type")),
		RetryAfter:  parseRetryAfter(resp.Header.Get("Retry-After"), now),
		Body:        snippet(body, maxErrorBody),
	}
	parseErrorBody(body, e.ContentType, &e.Domain, &e.Code, &e.Reason, &e.Message, &e.HTML)
	return e
}

// parseErrorBody fills the parsed fields of an error from a body of either Acronis error shape,
// an OAuth error object, an HTML page or plain text.
func parseErrorBody(body []byte, contentType string, domain, code, reason, message *string, isHTML *bool) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return
	}
	if contentType == "text/html" || contentType == "application/xhtml+xml" || trimmed[0] == '<' {
		*isHTML = true
		*message = htmlTitle(trimmed)
		return
	}
	if trimmed[0] == '{' {
		var eb errorBody
		if json.Unmarshal(trimmed, &eb) == nil {
			eb.fill(domain, code, reason, message)
			return
		}
	}
	// Plain text (or JSON we could not parse): its first line is the best message there is.
	line, _, _ := strings.Cut(snippet(trimmed, 200), "\n")
	*message = strings.TrimSpace(line)
}

// errorBody decodes every JSON error shape the platform is known to send.
type errorBody struct {
	// Task Manager domainError (OpenAPI schema "domainError").
	Domain string         `json:"domain"`
	Code   flexString     `json:"code"`
	Reason string         `json:"reason"`
	Debug  map[string]any `json:"debug"`
	// Some services put a message at the top level.
	Message string `json:"message"`
	// Platform error: {"error":{"code":1006,"message":…,"details":…,"domain":…}}; or an OAuth
	// error: {"error":"invalid_token","error_description":…}.
	Error            json.RawMessage `json:"error"`
	ErrorDescription string          `json:"error_description"`
}

// platformError is the object under "error" in platform error bodies.
type platformError struct {
	Domain  string     `json:"domain"`
	Code    flexString `json:"code"`
	Reason  string     `json:"reason"`
	Message string     `json:"message"`
}

func (eb *errorBody) fill(domain, code, reason, message *string) {
	*domain, *code, *reason, *message = eb.Domain, string(eb.Code), eb.Reason, eb.Message
	if msg, ok := eb.Debug["msg"].(string); ok && msg != "" {
		*message = msg
	}
	raw := bytes.TrimSpace(eb.Error)
	switch {
	case len(raw) > 0 && raw[0] == '{':
		var pe platformError
		if json.Unmarshal(raw, &pe) == nil {
			if *domain == "" {
				*domain = pe.Domain
			}
			if *code == "" {
				*code = string(pe.Code)
			}
			if *reason == "" {
				*reason = pe.Reason
			}
			if pe.Message != "" {
				*message = pe.Message
			}
		}
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil && *code == "" {
			*code = s
		}
		if eb.ErrorDescription != "" {
			*message = eb.ErrorDescription
		}
	}
}

// flexString decodes a JSON string or number into its text: 1006 and "1006" both give "1006".
type flexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = flexString(n.String())
	}
	return nil
}

var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// htmlTitle is the text of an HTML page's <title>, unescaped and with whitespace collapsed;
// "" when the page has none.
func htmlTitle(page []byte) string {
	m := titleRE.FindSubmatch(page)
	if m == nil {
		return ""
	}
	return strings.Join(strings.Fields(html.UnescapeString(string(m[1]))), " ")
}

// mediaType is the media type of a Content-Type header, lower case, without parameters.
func mediaType(contentType string) string {
	if contentType == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
		return strings.ToLower(strings.TrimSpace(mt))
	}
	return mt
}

// snippet is at most n bytes of b as valid UTF-8 (a rune cut at the end is dropped).
func snippet(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// statusLine is "502 Bad Gateway": status as net/http gives it, else built from the code.
func statusLine(code int, status string) string {
	if status != "" {
		return status
	}
	if code == 0 {
		return ""
	}
	if text := http.StatusText(code); text != "" {
		return strconv.Itoa(code) + " " + text
	}
	return strconv.Itoa(code)
}

// parseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): delay-seconds or an HTTP date
// relative to now. It returns 0 for an absent, invalid or past value.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
