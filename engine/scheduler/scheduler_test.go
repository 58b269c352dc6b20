package scheduler

import (
	"strings"
	"testing"
	"time"

	"hako/engine"
)

func TestParse(t *testing.T) {
	base := time.Date(2026, 11, 29, 10, 7, 30, 0, time.UTC)
	for _, tc := range []struct {
		spec string
		next time.Time // zero: an error
	}{
		{"*/10 * * * *", time.Date(2026, 11, 29, 10, 10, 0, 0, time.UTC)},
		{"@hourly", time.Date(2026, 11, 29, 11, 0, 0, 0, time.UTC)},
		{"@daily", time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)},
		{"every 10m", base.Add(10 * time.Minute)},
		{"@every 2s", base.Add(2 * time.Second)},
		{"  @every 1s ", base.Add(time.Second)},
		{"30 4 * * 1-5", time.Date(2026, 11, 30, 4, 30, 0, 0, time.UTC)},
		{"", time.Time{}},
		{"@every 500ms", time.Time{}},
		{"@every -1s", time.Time{}},
		{"every ten minutes", time.Time{}},
		{"* * * *", time.Time{}},
		{"61 * * * *", time.Time{}},
		{"CRON_TZ=Europe/Paris 0 * * * *", time.Time{}},
		{"@reboot", time.Time{}},
		{strings.Repeat("*", 300), time.Time{}},
	} {
		sched, err := Parse(tc.spec)
		if tc.next.IsZero() {
			if err == nil || engine.ErrorCode(err) != engine.EINVALID {
				t.Errorf("Parse(%q) = %v, want an EINVALID error", tc.spec, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.spec, err)
			continue
		}
		if got := sched.Next(base); !got.Equal(tc.next) {
			t.Errorf("Parse(%q).Next = %v, want %v", tc.spec, got, tc.next)
		}
	}
}

func TestParseMessage(t *testing.T) {
	_, err := Parse("every ten minutes")
	want := `Schedule "every ten minutes" is not valid (the interval is not a duration such as 10m): give a cron line such as "*/10 * * * *", @hourly, @daily or "every 10m".`
	if err == nil || engine.ErrorMessage(err) != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

// FuzzParse checks that no schedule panics the parser and that one it
// accepts runs in the future, never twice at the same instant.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"*/10 * * * *", "@hourly", "@every 1s", "every 10m", "0 0 30 2 *", "* * * * * *", "@every 9999999h", "1-5/0 * * * *", "?", "0-59/60 * * * *"} {
		f.Add(s)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		sched, err := Parse(spec)
		if err != nil {
			if engine.ErrorCode(err) != engine.EINVALID {
				t.Fatalf("Parse(%q): %v is not EINVALID", spec, err)
			}
			if strings.ContainsAny(engine.ErrorMessage(err), "\x00\x1b\n") {
				t.Fatalf("Parse(%q): the message carries control characters", spec)
			}
			return
		}
		next := sched.Next(base)
		if !next.IsZero() && !next.After(base) {
			t.Fatalf("Parse(%q).Next(%v) = %v, not after it", spec, base, next)
		}
	})
}
