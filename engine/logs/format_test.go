package logs

import (
	"testing"
	"time"
)

// The fast formatting the mirror and String use gives what the slow one
// gave: time.Format's layout, and Escape's output.
func TestFastFormatting(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 11, 29, 23, 41, 18, 250684123, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 5*3600)),
		time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Now(),
	}
	for _, tm := range times {
		want := tm.UTC().Format("2006-01-02T15:04:05.000000-07:00")
		if got := string(appendTime(nil, tm)); got != want {
			t.Errorf("appendTime(%v) = %q, want %q", tm, got, want)
		}
		// twice: the second comes from the cache
		if got := string(appendTime(nil, tm)); got != want {
			t.Errorf("appendTime(%v) again = %q, want %q", tm, got, want)
		}
	}
	for _, s := range []string{"", "plain ascii line", "tab\there", "esc \x1b[2J", "del\x7f", "c1 \u0085", "bad \xff utf8", "héllo wörld", "nul\x00", `back\slash`} {
		if got, want := string(appendEscaped([]byte("p:"), s)), "p:"+Escape(s); got != want {
			t.Errorf("appendEscaped(%q) = %q, want %q", s, got, want)
		}
	}
}
