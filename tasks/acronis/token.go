package acronis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	// maxEarlyRefresh is the longest a token is renewed before its expiry.
	maxEarlyRefresh = 60 * time.Second
	// noExpiryTTL is how long a token without expires_in or expires_on is reused. Acronis tokens
	// live two hours; a 401 renews a token sooner anyway.
	noExpiryTTL = 30 * time.Minute
)

// tokenCache fetches access tokens with the OAuth 2.0 client-credentials grant
// (x/oauth2/clientcredentials, client authentication in the Authorization header) and reuses
// each until shortly before it expires.
//
// It exists instead of oauth2.ReuseTokenSourceWithExpiry for three reasons: the Acronis token
// answer carries only `expires_on` (Unix seconds), which x/oauth2 ignores; the early-refresh
// window must shrink for short-lived tokens (min(60s, ttl/5)); and a token the API rejects with
// 401 must be dropped, which a ReuseTokenSource cannot do. Fetching stays with x/oauth2.
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
	tok, err := tc.conf.Token(context.WithValue(fctx, oauth2.HTTPClient, tc.hc))
	if err != nil {
		tc.tok = nil
		err = tokenFetchError(ctx, err, tc.timeout)
		if _, ok := err.(*TokenError); !ok {
			err = fmt.Errorf("token: %w", err)
		}
		return nil, err
	}
	tok = withExpiresOn(tok)
	tc.tok, tc.refreshAt = tok, refreshTime(tok.Expiry, tc.now())
	tc.log.LogAttrs(ctx, slog.LevelDebug, "fetched an access token",
		slog.Time("expires", tok.Expiry), slog.Time("renew_at", tc.refreshAt))
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

// refreshTime is when a token that expires at expiry and was received at now is renewed:
// min(60s, ttl/5) before expiry, so a 2-hour token is renewed a minute early and a 2-second
// test token 400ms early. A token without expiry is reused for noExpiryTTL; one already expired
// by our clock (clock skew) serves the current request only.
func refreshTime(expiry, now time.Time) time.Time {
	if expiry.IsZero() {
		return now.Add(noExpiryTTL)
	}
	ttl := expiry.Sub(now)
	if ttl <= 0 {
		return now
	}
	return expiry.Add(-min(maxEarlyRefresh, ttl/5))
}

// withExpiresOn returns tok with Expiry set from the Acronis `expires_on` field (Unix seconds,
// as a JSON number, json.Number or string) when the answer had no `expires_in`. x/oauth2 only
// understands expires_in and would otherwise treat the token as never expiring.
func withExpiresOn(tok *oauth2.Token) *oauth2.Token {
	if !tok.Expiry.IsZero() {
		return tok
	}
	if t, ok := unixTime(tok.Extra("expires_on")); ok {
		tok.Expiry = t
	}
	return tok
}

// unixTime converts a Unix-seconds value decoded from JSON or a form into a time.
func unixTime(v any) (time.Time, bool) {
	var secs float64
	switch v := v.(type) {
	case float64:
		secs = v
	case int64:
		secs = float64(v)
	case int:
		secs = float64(v)
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return time.Time{}, false
		}
		secs = f
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return time.Time{}, false
		}
		secs = f
	default:
		return time.Time{}, false
	}
	if secs <= 0 || math.IsNaN(secs) || math.IsInf(secs, 0) || secs > 1e12 {
		return time.Time{}, false
	}
	whole, frac := math.Modf(secs)
	return time.Unix(int64(whole), int64(frac*1e9)), true
}

// tokenFetchError turns an error of clientcredentials.Config.Token into a *TokenError (for an
// error answer), an ErrTimeout (the fetch exceeded timeout while ctx was still live), ctx.Err(),
// or the network error without the token URL around it.
func tokenFetchError(ctx context.Context, err error, timeout time.Duration) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		te := &TokenError{Code: re.ErrorCode, Description: re.ErrorDescription}
		if re.Response != nil {
			te.StatusCode = re.Response.StatusCode
		}
		if te.Code == "" && te.Description == "" && len(re.Body) > 0 {
			// x/oauth2 parses error bodies only when they are JSON or a form; a gateway's HTML
			// page or a platform error object still says what went wrong.
			var ct string
			if re.Response != nil {
				ct = mediaType(re.Response.Header.Get("Content-Type"))
			}
			var domain, reason string
			var isHTML bool
			parseErrorBody(re.Body, ct, &domain, &te.Code, &reason, &te.Description, &isHTML)
		}
		return te
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if isTimeout(err) {
		return &timeoutError{after: timeout, err: err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &networkError{err: ue.Err}
	}
	return err
}
