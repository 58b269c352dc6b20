package engine

import "testing"

func TestTAPCounter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		want   *TAPSummary
	}{
		{"stream", []string{"1..3\nok 1 - a\nnot ok 2 - b\nok 3\n"}, &TAPSummary{Planned: 3, OK: 2, NotOK: 1}},
		{"split writes", []string{"1..2\no", "k 1 - a\nnot", " ok 2 - b\n"}, &TAPSummary{Planned: 2, OK: 1, NotOK: 1}},
		{"no plan", []string{"ok 1 - a\n"}, nil},
		{"go test lines are not TAP", []string{"1..1\nok  \thako/x\t0.1s\nok\t\n"}, &TAPSummary{Planned: 1}},
		{"bare and crlf", []string{"1..2\r\nok\r\nnot ok\r\n"}, &TAPSummary{Planned: 2, OK: 1, NotOK: 1}},
		{"indented subtests", []string{"1..1\n    ok 1 - sub\nok 1 - top\n"}, &TAPSummary{Planned: 1, OK: 2}},
		{"long line ignored", []string{"1..1\n" + string(make([]byte, 5000)) + "not ok 1\nok 1\n"}, &TAPSummary{Planned: 1, OK: 1}},
		{"okay is not ok", []string{"1..1\nokay\nnot okay\n"}, &TAPSummary{Planned: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &tapCounter{}
			for _, w := range tc.writes {
				if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			got := c.summary()
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Errorf("summary = %+v, want %+v", got, tc.want)
			}
		})
	}
}
