package acronis

import (
	"encoding/json"
	"net/url"
	"strconv"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestTokenExpiry(t *testing.T) {
	// The host's clock: the request left at sent, the answer arrived 200ms later.
	sent := time.Date(2026, 5, 1, 10, 0, 0, 300_000_000, time.UTC)
	now := sent.Add(200 * time.Millisecond)
	// The server's clock, 3 hours behind the host's.
	date := time.Date(2026, 5, 1, 7, 0, 0, 0, time.UTC)
	on := float64(date.Add(2 * time.Hour).Unix())
	onText := strconv.FormatInt(int64(on), 10)

	tests := []struct {
		name         string
		raw          any // Token.Raw as x/oauth2 keeps it
		date         time.Time
		want         time.Time
		wantLifetime time.Duration
	}{
		{"expires_on read against the Date header, whatever the host's clock says",
			map[string]any{"expires_on": on}, date, sent.Add(2*time.Hour - time.Second), 2*time.Hour - time.Second},
		{"expires_on as json.Number", map[string]any{"expires_on": json.Number(onText)}, date, sent.Add(2*time.Hour - time.Second), 2*time.Hour - time.Second},
		{"expires_on as a string", map[string]any{"expires_on": onText}, date, sent.Add(2*time.Hour - time.Second), 2*time.Hour - time.Second},
		{"form-encoded answer", url.Values{"expires_on": {onText}}, date, sent.Add(2*time.Hour - time.Second), 2*time.Hour - time.Second},
		{"expires_in wins when present", map[string]any{"expires_in": float64(7200), "expires_on": on + 3600}, date, sent.Add(2 * time.Hour), 2 * time.Hour},
		{"expires_in alone", map[string]any{"expires_in": float64(600)}, time.Time{}, sent.Add(10 * time.Minute), 10 * time.Minute},
		{"expires_in in a form", url.Values{"expires_in": {"600"}}, time.Time{}, sent.Add(10 * time.Minute), 10 * time.Minute},
		{"no Date header: expires_on against the host's clock, here already past",
			map[string]any{"expires_on": on}, time.Time{}, time.Unix(int64(on), 0), time.Unix(int64(on), 0).Sub(now)},
		{"fractional expires_on", map[string]any{"expires_on": on + 0.5}, date, sent.Add(2*time.Hour - 500*time.Millisecond), 2*time.Hour - 500*time.Millisecond},
		{"absent: no expiry", map[string]any{}, date, time.Time{}, 0},
		{"garbage is ignored", map[string]any{"expires_on": "tomorrow", "expires_in": "soon"}, date, time.Time{}, 0},
		{"boolean is ignored", map[string]any{"expires_on": true}, date, time.Time{}, 0},
		{"negative is ignored", map[string]any{"expires_on": float64(-1), "expires_in": float64(-5)}, date, time.Time{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := (&oauth2.Token{AccessToken: "x"}).WithExtra(tt.raw)
			got, lifetime := tokenExpiry(tok, sent, tt.date, now)
			if !got.Equal(tt.want) || lifetime != tt.wantLifetime {
				t.Errorf("tokenExpiry = %v, %v; want %v, %v", got, lifetime, tt.want, tt.wantLifetime)
			}
		})
	}
}

func TestTokenExpiryOfTheFixture(t *testing.T) {
	var raw map[string]any
	if err := json.Unmarshal(fixture(t, "token.json"), &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["expires_in"]; ok {
		t.Fatal("fixture token.json has expires_in; this test is about answers without it")
	}
	tok := (&oauth2.Token{AccessToken: raw["access_token"].(string)}).WithExtra(raw)
	// Answered two hours before expires_on by the server's clock, in 2026 by ours.
	sent := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	got, lifetime := tokenExpiry(tok, sent, time.Unix(1587562443, 0).Add(-2*time.Hour), sent)
	if want := sent.Add(2*time.Hour - time.Second); !got.Equal(want) || lifetime != 2*time.Hour-time.Second {
		t.Errorf("tokenExpiry = %v, %v; want %v", got, lifetime, want)
	}
}

func TestRenewAt(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		expiry   time.Time
		lifetime time.Duration
		want     time.Time
	}{
		{"two-hour token: 10 minutes early", now.Add(2 * time.Hour), 2 * time.Hour, now.Add(110 * time.Minute)},
		{"one-hour token: 10 minutes early", now.Add(time.Hour), time.Hour, now.Add(50 * time.Minute)},
		{"five-minute token: a fifth early", now.Add(5 * time.Minute), 5 * time.Minute, now.Add(4 * time.Minute)},
		{"two-second token: a fifth early", now.Add(2 * time.Second), 2 * time.Second, now.Add(1600 * time.Millisecond)},
		{"one-second token: a fifth early", now.Add(time.Second), time.Second, now.Add(800 * time.Millisecond)},
		{"no expiry: reused for 30 minutes", time.Time{}, 0, now.Add(noExpiryTTL)},
		{"already expired by our clock: kept a minute", now.Add(-time.Hour), -time.Hour, now.Add(time.Minute)},
		{"expiring in 30s by our clock, stated 2 hours: kept a minute", now.Add(30 * time.Second), 2 * time.Hour, now.Add(time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := renewAt(tt.expiry, tt.lifetime, now); !got.Equal(tt.want) {
				t.Errorf("renewAt = %v, want %v", got, tt.want)
			}
		})
	}
}
