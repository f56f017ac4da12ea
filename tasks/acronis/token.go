package acronis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Token lifetime rules.
const (
	// maxEarlyRefresh is the longest a token is renewed before its expiry (renewAt): Acronis's
	// samples renew 15 minutes early, Zabbix's template at 110 of 120 minutes; 10 minutes
	// leaves a two-hour token plenty of time whatever the clocks do.
	maxEarlyRefresh = 10 * time.Minute
	// minFetchInterval is the shortest time a token is kept before a renewal (renewAt), so that
	// a token that looks expired on arrival (a host clock hours ahead, no Date header) does not
	// cost a token request per API request. A 401 still renews at once.
	minFetchInterval = time.Minute
	// noExpiryTTL is how long a token without expires_in or expires_on is reused. Acronis tokens
	// live two hours; a 401 renews a token sooner anyway.
	noExpiryTTL = 30 * time.Minute
	// dateResolution is the precision of an HTTP Date header (RFC 9110 §5.6.7: whole seconds).
	dateResolution = time.Second
)

// tokenCache fetches access tokens with the OAuth 2.0 client-credentials grant
// (x/oauth2/clientcredentials, client authentication in the Authorization header) and reuses
// each until shortly before it expires.
//
// It exists instead of oauth2.ReuseTokenSourceWithExpiry for four reasons: the Acronis token
// answer carries only `expires_on` (Unix seconds on the server's clock), which x/oauth2 ignores
// and which must be read against the answer's Date header, not the host's clock; the
// early-refresh window must shrink for short-lived tokens (min(10 minutes, lifetime/5)); a token
// must not be renewed more than once a minute; and a token the API rejects with 401 must be
// dropped, which a ReuseTokenSource cannot do. Fetching stays with x/oauth2.
type tokenCache struct {
	conf    clientcredentials.Config
	hc      *http.Client // carries Config.Transport; each fetch also has Config.Timeout
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger

	// sem serialises fetches (one at a time, waiting callers reuse its result) while letting a
	// waiting caller give up when its context ends.
	sem       chan struct{}
	tok       *oauth2.Token // guarded by sem
	refreshAt time.Time     // guarded by sem
}

func newTokenCache(tokenURL, clientID, clientSecret string, hc *http.Client, timeout time.Duration, log *slog.Logger) *tokenCache {
	return &tokenCache{
		conf: clientcredentials.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			TokenURL:     tokenURL,
			AuthStyle:    oauth2.AuthStyleInHeader,
		},
		hc:      hc,
		timeout: timeout,
		now:     time.Now,
		log:     log,
		sem:     make(chan struct{}, 1),
	}
}

// token returns a cached token that is not due for renewal, else fetches a new one.
// Errors: *TokenError for an error answer of the token endpoint; otherwise an error reading
// "token: …" that wraps ErrTimeout when the fetch took longer than the timeout, ctx.Err() when
// ctx ended, or the network error.
func (tc *tokenCache) token(ctx context.Context) (*oauth2.Token, error) {
	select {
	case tc.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-tc.sem }()

	if tc.tok != nil && tc.now().Before(tc.refreshAt) {
		return tc.tok, nil
	}
	fctx, cancel := context.WithTimeout(ctx, tc.timeout)
	defer cancel()
	ex := &tokenExchange{next: tc.hc.Transport, now: tc.now}
	hc := &http.Client{Transport: ex, Timeout: tc.hc.Timeout}
	tok, err := tc.conf.Token(context.WithValue(fctx, oauth2.HTTPClient, hc))
	if err != nil {
		tc.tok = nil
		err = tokenFetchError(ctx, err, tc.timeout, ex)
		if _, ok := err.(*TokenError); !ok {
			err = fmt.Errorf("token: %w", err)
		}
		return nil, err
	}
	now := tc.now()
	var lifetime time.Duration
	tok.Expiry, lifetime = tokenExpiry(tok, ex.sent, ex.date, now)
	tc.tok, tc.refreshAt = tok, renewAt(tok.Expiry, lifetime, now)
	tc.log.LogAttrs(ctx, slog.LevelDebug, "fetched an access token",
		slog.Time("expires", tok.Expiry), slog.Time("renew_at", tc.refreshAt), slog.Time("server_date", ex.date))
	return tok, nil
}

// invalidate drops tok from the cache when it is still the cached token (a concurrent request
// may have renewed it already), so the next call fetches a new one.
func (tc *tokenCache) invalidate(ctx context.Context, tok *oauth2.Token) {
	select {
	case tc.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	if tc.tok == tok {
		tc.tok = nil
	}
	<-tc.sem
}

// renewAt is when a token that expires at expiry (on the local clock) is renewed: min(10
// minutes, lifetime/5) before expiry, so a 2-hour token is renewed 10 minutes early and a
// 2-second test token 400ms early; but never sooner than min(1 minute, lifetime/2) after now,
// its arrival, so that at most one token a minute is fetched even when a token seems expired on
// arrival (lifetime <= 0: the host's clock is ahead and the answer had no Date header). Only
// tokens that live under two minutes are renewed more often, within their lifetime. lifetime is
// the token's lifetime as the server stated it (see tokenExpiry); a token without expiry is
// reused for noExpiryTTL (30 minutes).
func renewAt(expiry time.Time, lifetime time.Duration, now time.Time) time.Time {
	if expiry.IsZero() {
		return now.Add(noExpiryTTL)
	}
	floor := minFetchInterval
	if lifetime > 0 {
		floor = min(floor, lifetime/2)
	}
	at := expiry.Add(-min(maxEarlyRefresh, max(lifetime, 0)/5))
	return later(at, now.Add(floor))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// tokenExpiry is when tok expires on the local clock, and its lifetime as the server stated it:
//
//   - with `expires_in` (seconds, RFC 6749 §5.1): sent + expires_in;
//   - else with `expires_on` (Unix seconds on the server's clock, as Acronis sends it) and a Date
//     header: sent + (expires_on − date − 1s). The difference is measured on one clock, the
//     server's, so a host clock hours off does not matter (Acronis's samples and Zabbix's
//     template renew by the lifetime, not by comparing expires_on with the host's clock); the
//     second is the Date header's resolution, and sent (before the request left) makes both
//     errors err on the early side;
//   - else `expires_on` as it is, against the local clock (lifetime = expires_on − now, which a
//     skewed clock can make negative);
//   - else zero: no expiry known.
//
// sent is the local time the token request left, date the answer's Date header (zero when
// absent), now the local time the answer arrived.
func tokenExpiry(tok *oauth2.Token, sent, date, now time.Time) (time.Time, time.Duration) {
	if sent.IsZero() {
		sent = now
	}
	if secs, ok := number(tok.Extra("expires_in")); ok && secs > 0 && secs < 1e9 {
		d := time.Duration(secs * float64(time.Second))
		return sent.Add(d), d
	}
	on, ok := unixTime(tok.Extra("expires_on"))
	switch {
	case !ok:
		return time.Time{}, 0
	case !date.IsZero():
		d := on.Sub(date) - dateResolution
		return sent.Add(d), d
	default:
		return on, on.Sub(now)
	}
}

// tokenExchange is the http.RoundTripper of one token fetch. It sends through next and notes what
// x/oauth2 does not pass on: when the request left (local clock), the answer's Date header, and,
// to explain an answer x/oauth2 cannot parse, its status, content type and first bytes.
type tokenExchange struct {
	next http.RoundTripper // nil means http.DefaultTransport
	now  func() time.Time

	sent        time.Time // local clock, just before the request left
	date        time.Time // the answer's Date header; zero when absent or invalid
	status      int       // the answer's status code; 0 when none came
	contentType string    // the answer's media type
	body        []byte    // the first maxTokenSnippet bytes of the body that were read
	readErr     error     // an error reading the body (x/oauth2 hides its type)
}

// maxTokenSnippet is how much of a token answer tokenExchange keeps: enough for an HTML <title>.
const maxTokenSnippet = 16 << 10

// RoundTrip implements http.RoundTripper.
func (ex *tokenExchange) RoundTrip(req *http.Request) (*http.Response, error) {
	next := ex.next
	if next == nil {
		next = http.DefaultTransport
	}
	ex.sent = ex.now()
	resp, err := next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	ex.date, _ = http.ParseTime(resp.Header.Get("Date"))
	ex.status, ex.contentType = resp.StatusCode, mediaType(resp.Header.Get("Content-Type"))
	resp.Body = &snippetBody{ReadCloser: resp.Body, ex: ex}
	return resp, nil
}

// snippetBody is a token answer's body that copies its first bytes to the exchange as it is read.
type snippetBody struct {
	io.ReadCloser
	ex *tokenExchange
}

func (b *snippetBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if room := maxTokenSnippet - len(b.ex.body); room > 0 {
		b.ex.body = append(b.ex.body, p[:min(n, room)]...)
	}
	if err != nil && err != io.EOF {
		b.ex.readErr = err
	}
	return n, err
}

// notToken is the *TokenError of a 2xx answer that x/oauth2 could not take a token from: not
// JSON (an HTML sign-in page, text), or JSON or a form without access_token. Its Description is
// an HTML page's <title>, else "empty answer", "no access_token" or "not JSON". Other bodies are
// never quoted: a mangled token answer may hold a token.
func (ex *tokenExchange) notToken() *TokenError {
	te := &TokenError{StatusCode: ex.status, ContentType: ex.contentType, NotToken: true}
	b := bytes.TrimSpace(ex.body)
	switch {
	case ex.contentType == "text/html" || ex.contentType == "application/xhtml+xml" || len(b) > 0 && b[0] == '<':
		te.HTML, te.Description = true, htmlTitle(b)
	case len(b) == 0:
		te.Description = "empty answer"
	case json.Valid(b) || ex.contentType == "application/x-www-form-urlencoded" || ex.contentType == "text/plain":
		te.Description = "no access_token" // x/oauth2 reads text/plain as a form
	default:
		te.Description = "not JSON"
	}
	return te
}

// unixTime converts a Unix-seconds value decoded from JSON or a form into a time.
func unixTime(v any) (time.Time, bool) {
	secs, ok := number(v)
	if !ok || secs <= 0 || secs > 1e12 {
		return time.Time{}, false
	}
	whole, frac := math.Modf(secs)
	return time.Unix(int64(whole), int64(frac*1e9)), true
}

// number reads a number decoded from JSON (float64, json.Number), a form or a JSON string
// (string, []string of one), or set by Go code (int, int64); ok is false for anything else,
// NaN and infinities.
func number(v any) (float64, bool) {
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case int64:
		f = float64(v)
	case int:
		f = float64(v)
	case json.Number:
		n, err := v.Float64()
		if err != nil {
			return 0, false
		}
		f = n
	case string:
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, false
		}
		f = n
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// tokenFetchError turns an error of clientcredentials.Config.Token into a *TokenError (for an
// error answer, or a 2xx answer that is not a token), an ErrTimeout (the fetch exceeded timeout
// while ctx was still live), ctx.Err(), or the network error without the token URL around it.
// ex is the fetch's exchange: x/oauth2 reports a body it cannot parse or read as text only.
func tokenFetchError(ctx context.Context, err error, timeout time.Duration, ex *tokenExchange) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		te := &TokenError{Code: re.ErrorCode, Description: re.ErrorDescription}
		if re.Response != nil {
			te.StatusCode = re.Response.StatusCode
			te.ContentType = mediaType(re.Response.Header.Get("Content-Type"))
		}
		if te.Code == "" && te.Description == "" && len(re.Body) > 0 {
			// x/oauth2 parses error bodies only when they are JSON or a form; a gateway's HTML
			// page or a platform error object still says what went wrong.
			var domain, reason string
			parseErrorBody(re.Body, te.ContentType, &domain, &te.Code, &reason, &te.Description, &te.HTML)
		}
		return te
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if ex.readErr != nil {
		err = ex.readErr
	}
	if isTimeout(err) {
		return &timeoutError{after: timeout, err: err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &networkError{err: ue.Err}
	}
	if ex.readErr != nil {
		return &networkError{err: err}
	}
	if ex.status >= 200 && ex.status <= 299 {
		return ex.notToken()
	}
	return err
}
