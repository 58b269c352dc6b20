package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDrains sends a running app's logs to an HTTP drain and checks what
// arrives, then removes it.
func TestDrains(t *testing.T) {
	need(t, "python3")
	var mu sync.Mutex
	var got strings.Builder
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got.Write(b)
		mu.Unlock()
	}))
	t.Cleanup(sink.Close)
	received := func() string {
		mu.Lock()
		defer mu.Unlock()
		return got.String()
	}
	s := startServer(t)
	s.hako(t, "apps:create", "drained")
	if out := s.hako(t, "drains:add", sink.URL+"/logs", "-a", "drained"); !strings.Contains(out, "Successfully added drain "+sink.URL) {
		t.Errorf("drains:add:\n%s", out)
	}
	if out, err := s.run("drains:add", "ftp://nowhere", "-a", "drained"); err == nil || !strings.Contains(out, "is not a drain URL") {
		t.Errorf("bad drain: %v\n%s", err, out)
	}
	if out, err := s.push(repo(t, "procfile-app"), s.key, "drained", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "drained", "hello from procfile")
	waitFor(t, 20*time.Second, "router and dyno lines at the drain", func() bool {
		r := received()
		return strings.Contains(r, "host heroku router - at=info method=GET") && strings.Contains(r, "host heroku web.1 - State changed from starting to up")
	}, received)
	if out := s.hako(t, "drains", "-a", "drained"); !strings.Contains(out, sink.URL+"/logs (d.") {
		t.Errorf("drains:\n%s", out)
	}
	s.hako(t, "drains:remove", sink.URL+"/logs", "-a", "drained")
	if out := s.hako(t, "drains", "-a", "drained"); !strings.Contains(out, "has no drains") {
		t.Errorf("after remove:\n%s", out)
	}
}
