package e2e

import (
	"path/filepath"
	"testing"
	"time"
)

// TestGoWarmUp starts a server that compiles the Go standard library in
// the background at start (--warm-go, off in the other tests), and
// pushes a Go app while it does: the build waits for that fill instead
// of starting a second one, and the app runs. A second Go app's push
// then finds the library compiled and says nothing of it.
func TestGoWarmUp(t *testing.T) {
	need(t, "go")
	s := startServerWith(t, &server{home: t.TempDir(), env: []string{"HAKO_WARM_GO=true"}})
	std := filepath.Join(s.home, "cache", "_shared", "go-std")
	// The warm-up holds the fill from its first step on.
	waitFor(t, 60*time.Second, "the warm-up to start filling", func() bool {
		m, _ := filepath.Glob(filepath.Join(std, ".fill-*"))
		return len(m) > 0
	})
	const waiting = "remote: -----> Waiting for the Go standard library, being compiled once for every app's builds"
	const compiling = "remote: -----> Compiling the Go standard library, once for every app's builds to share"
	for i, app := range []string{"warm-one", "warm-two"} {
		s.hako(t, "apps:create", app)
		out, err := s.push(repo(t, "go-app"), s.key, app, "main")
		if err != nil {
			t.Fatalf("push %s: %v\n%s", app, err, out)
		}
		if hasPaddedLine(out, compiling) {
			t.Errorf("push %s compiled the standard library again:\n%s", app, out)
		}
		if got := hasPaddedLine(out, waiting); got != (i == 0) {
			t.Errorf("push %s: waiting line %v, want %v:\n%s", app, got, i == 0, out)
		}
		s.waitBody(t, app, "hello from go")
	}
	if m, _ := filepath.Glob(filepath.Join(std, "*")); len(m) != 1 {
		t.Errorf("go-std holds %v, want one layer", m)
	}
}
