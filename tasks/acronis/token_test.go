package acronis

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestWithExpiresOn(t *testing.T) {
	fromExpiresIn := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		expiry time.Time // as x/oauth2 set it from expires_in
		raw    any       // Token.Raw as x/oauth2 keeps it
		want   time.Time
	}{
		{"float64 from JSON (the Acronis answer)", time.Time{}, map[string]any{"expires_on": float64(1587562443)}, time.Unix(1587562443, 0)},
		{"fractional seconds", time.Time{}, map[string]any{"expires_on": 1587562443.5}, time.Unix(1587562443, 500_000_000)},
		{"json.Number", time.Time{}, map[string]any{"expires_on": json.Number("1587562443")}, time.Unix(1587562443, 0)},
		{"string", time.Time{}, map[string]any{"expires_on": "1587562443"}, time.Unix(1587562443, 0)},
		{"form-encoded answer", time.Time{}, url.Values{"expires_on": {"1587562443"}}, time.Unix(1587562443, 0)},
		{"expires_in wins when present", fromExpiresIn, map[string]any{"expires_on": float64(1587562443)}, fromExpiresIn},
		{"absent: still no expiry", time.Time{}, map[string]any{}, time.Time{}},
		{"garbage is ignored", time.Time{}, map[string]any{"expires_on": "tomorrow"}, time.Time{}},
		{"boolean is ignored", time.Time{}, map[string]any{"expires_on": true}, time.Time{}},
		{"negative is ignored", time.Time{}, map[string]any{"expires_on": float64(-1)}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := (&oauth2.Token{AccessToken: "x", Expiry: tt.expiry}).WithExtra(tt.raw)
			got := withExpiresOn(tok).Expiry
			if !got.Equal(tt.want) {
				t.Errorf("Expiry = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWithExpiresOnFixture(t *testing.T) {
	var raw map[string]any
	if err := json.Unmarshal(fixture(t, "token.json"), &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["expires_in"]; ok {
		t.Fatal("fixture token.json has expires_in; this test is about answers without it")
	}
	tok := (&oauth2.Token{AccessToken: raw["access_token"].(string)}).WithExtra(raw)
	if got, want := withExpiresOn(tok).Expiry, time.Unix(1587562443, 0); !got.Equal(want) {
		t.Errorf("Expiry = %v, want %v", got, want)
	}
}

func TestRefreshTime(t *testing.T) {
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		expiry time.Time
		want   time.Time
	}{
		{"two-hour token: a minute early", now.Add(2 * time.Hour), now.Add(2*time.Hour - time.Minute)},
		{"five-minute token: a minute early", now.Add(5 * time.Minute), now.Add(4 * time.Minute)},
		{"two-second token: a fifth early", now.Add(2 * time.Second), now.Add(1600 * time.Millisecond)},
		{"one-second token: a fifth early", now.Add(time.Second), now.Add(800 * time.Millisecond)},
		{"no expiry: reused for 30 minutes", time.Time{}, now.Add(noExpiryTTL)},
		{"already expired by our clock: this request only", now.Add(-time.Hour), now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := refreshTime(tt.expiry, now); !got.Equal(tt.want) {
				t.Errorf("refreshTime = %v, want %v", got, tt.want)
			}
		})
	}
}
