package logs

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a writer safe for the mirror's flushing goroutine.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) snapshot() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String(), s.writes
}

// A burst of lines reaches the mirror whole and in order, in fewer
// writes than lines; a line after a quiet spell is written at once.
func TestMirrorBatches(t *testing.T) {
	out := &syncBuffer{}
	b := &Buffer{Mirror: out}
	const n = 2000
	for i := 0; i < n; i++ {
		b.Log("app", "heroku", "router", fmt.Sprintf("line %d", i))
	}
	b.Flush()
	text, writes := out.snapshot()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines mirrored, want %d", len(lines), n)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, "app ") || !strings.HasSuffix(l, fmt.Sprintf(" heroku[router]: line %d", i)) {
			t.Fatalf("line %d: %q", i, l)
		}
	}
	if writes >= n/2 {
		t.Errorf("%d writes for a burst of %d lines", writes, n)
	}
	time.Sleep(3 * mirrorBatch)
	b.Log("app", "app", "web.1", "after a pause")
	if text, _ := out.snapshot(); !strings.HasSuffix(text, " app[web.1]: after a pause\n") {
		t.Errorf("a line after a quiet spell was held back: %q", text[max(0, len(text)-80):])
	}
}
