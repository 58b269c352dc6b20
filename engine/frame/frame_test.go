package frame

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestRoundTrip checks large output is split and comes back whole, and
// that the exit frame ends the stream.
func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	fw := NewWriter(&buf)
	big := strings.Repeat("x", 200_000)
	if _, err := io.WriteString(fw, "hello\n"+big); err != nil {
		t.Fatal(err)
	}
	if err := fw.Frame(Resize, ResizePayload(80, 24)); err != nil {
		t.Fatal(err)
	}
	if err := fw.Frame(Exit, []byte{3}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for {
		kind, p, err := Read(&buf)
		if err != nil {
			t.Fatal(err)
		}
		switch kind {
		case Output:
			out.Write(p)
			continue
		case Resize:
			if c, r, ok := ParseResize(p); !ok || c != 80 || r != 24 {
				t.Errorf("resize = %d %d %v", c, r, ok)
			}
			continue
		case Exit:
			if len(p) != 1 || p[0] != 3 {
				t.Errorf("exit frame %v", p)
			}
		}
		break
	}
	if out.String() != "hello\n"+big {
		t.Errorf("output of %d bytes came back as %d", len(big)+6, out.Len())
	}
	if _, _, err := Read(bytes.NewReader([]byte{'o', 0xff, 0, 0, 0})); err == nil {
		t.Error("an oversized frame was accepted")
	}
}
