package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestMaintenance puts an app in maintenance mode and back.
func TestMaintenance(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "resting")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "resting", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "resting", "hello from procfile")
	if out := s.hako(t, "maintenance:on", "-a", "resting"); !strings.Contains(out, "Enabling maintenance mode for ⬢ resting... done") {
		t.Errorf("maintenance:on:\n%s", out)
	}
	if code, body, _ := s.get("resting", "/"); code != 503 || !strings.Contains(body, "Offline for Maintenance") {
		t.Errorf("in maintenance: %d %q", code, body)
	}
	if out := s.hako(t, "maintenance", "-a", "resting"); strings.TrimSpace(out) != "on" {
		t.Errorf("maintenance = %q", out)
	}
	s.stop()
	s.start()
	waitFor(t, 20*time.Second, "maintenance to survive a restart", func() bool {
		code, body, _ := s.get("resting", "/")
		return code == 503 && strings.Contains(body, "Offline for Maintenance")
	})
	s.hako(t, "maintenance:off", "-a", "resting")
	s.waitBody(t, "resting", "hello from procfile")
}
