package cmd

import (
	"strings"
	"testing"
	"time"
)

func TestStatusFormats(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KB", 52428800: "50.0 MB", 3 << 30: "3.0 GB", 5 << 40: "5.0 TB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{0: "0s", 59 * time.Second: "59s", 61 * time.Second: "1m 1s", 2*time.Hour + 5*time.Minute: "2h 5m", 50 * time.Hour: "2d 2h"} {
		if got := formatUptime(d); got != want {
			t.Errorf("formatUptime(%v) = %q, want %q", d, got, want)
		}
	}
	for _, tc := range []struct {
		in   map[string]int
		want string
	}{
		{nil, "none"},
		{map[string]int{"crashed": 1, "up": 2}, "2 up, 1 crashed"},
		{map[string]int{"weird": 1, "down": 3, "starting": 0}, "3 down, 1 weird"},
	} {
		if got := dynosByState(tc.in); got != tc.want {
			t.Errorf("dynosByState(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
	var b strings.Builder
	printTable(&b, [][]string{{"App", "Total"}, {"longer-name", "1 B"}})
	want := " App         Total\n ─────────── ─────\n longer-name 1 B\n"
	if b.String() != want {
		t.Errorf("printTable:\n%q\nwant\n%q", b.String(), want)
	}
}
