package engine

import (
	"strings"
	"testing"
)

func TestLineTee(t *testing.T) {
	var lines []string
	var out strings.Builder
	w := &lineTee{out: &out, line: func(l string) { lines = append(lines, l) }}
	for _, p := range []string{"-----> Bu", "ilding\r\n", "\n", "  Done: 1K\nlast ", strings.Repeat("x", 600), "\n"} {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"-----> Building", "  Done: 1K", "last " + strings.Repeat("x", maxNarratedLine-5)}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %q, want %q", lines, want)
	}
	if out.Len() != len("-----> Building\r\n\n  Done: 1K\nlast ")+600+1 {
		t.Errorf("the output lost bytes: %d", out.Len())
	}
}
