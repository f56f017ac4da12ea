package bot

import (
	"strings"
	"testing"
	"time"
)

// TestParseCommandHugeText: text of a megabyte in shapes that could make a careless parser
// quadratic (many tenants, a quote that never closes, quotes everywhere, a long reason, a long
// duration) is answered at once, right or wrong as it should be.
func TestParseCommandHugeText(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		name, text string
		ok         bool
	}{
		{"one tenant a hundred thousand times", strings.Repeat("tenant:Acme ", mb/12), true},
		{"escaped tenants a hundred thousand times", strings.Repeat("tenant:A&amp;B ", mb/15), true},
		{"the same quoted tenant over and over", strings.Repeat(`tenant:"Acme Corp" `, mb/19), true},
		{"events over and over", "subscribe " + strings.Repeat("paused,failed ", mb/13), true},
		{"a reason of a megabyte", "mute task:1 2h " + strings.Repeat("&amp; \t", mb/7), true},
		{"a quote that never closes", `tenant:"` + strings.Repeat("a, ", mb/3), false},
		{"a quote that never closes after white space", `tenant:"` + strings.Repeat(" ", mb) + "x", false},
		{"quotes after a key over and over", strings.Repeat(`tenant:"`, mb/8), false},
		{"quotes everywhere", strings.Repeat(`"`, mb), false},
		{"a duration of a megabyte", "mute task:1 " + strings.Repeat("1d", mb/2), false},
		{"a task id of a megabyte", "show " + strings.Repeat("9", mb), false},
		{"a mute number of a megabyte", "unmute " + strings.Repeat("9", mb), false},
		{"a bare tenant name of a megabyte", "tenant:" + strings.Repeat("&amp;", mb/5), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := ParseCommand(tc.text)
			if (err == nil) != tc.ok {
				t.Errorf("ParseCommand of %d bytes: error %v, want ok %v", len(tc.text), err, tc.ok)
			}
			t.Logf("%v", time.Since(start))
		})
	}
}
