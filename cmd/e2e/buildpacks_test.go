package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestBuildpacksCommands sets an app's buildpacks and checks that the
// next push uses them instead of detection.
func TestBuildpacksCommands(t *testing.T) {
	s := startServer(t)
	s.hako(t, "apps:create", "packed")
	if out := s.hako(t, "buildpacks", "-a", "packed"); !strings.Contains(out, "has no Buildpack URL set") {
		t.Errorf("buildpacks:\n%s", out)
	}
	if out := s.hako(t, "buildpacks:set", "go", "-a", "packed"); !strings.Contains(out, "Buildpack set. Next release on ⬢ packed will use go.") {
		t.Errorf("buildpacks:set:\n%s", out)
	}
	out := s.hako(t, "buildpacks:add", "procfile", "-a", "packed")
	if !strings.Contains(out, "  1. go\n  2. procfile") {
		t.Errorf("buildpacks:add:\n%s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"buildpacks:add", "procfile", "-a", "packed"}, "already set"},
		{[]string{"buildpacks:set", "/etc", "-a", "packed"}, "is invalid"},
		{[]string{"buildpacks:remove", "nodejs", "-a", "packed"}, "not set on the app"},
	} {
		if out, err := s.run(c.args...); err == nil || !strings.Contains(out, c.want) {
			t.Errorf("%v: %v, want %q:\n%s", c.args, err, c.want, out)
		}
	}
	// The procfile app has no go.mod: the Go pack refuses it, so the push
	// shows the app's buildpacks were used.
	out, err := s.push(repo(t, "procfile-app"), s.key, "packed", "main")
	if err == nil || !strings.Contains(out, "App not compatible with buildpack: go") {
		t.Errorf("push with buildpacks go, procfile: %v\n%s", err, out)
	}
	s.hako(t, "buildpacks:remove", "-i", "1", "-a", "packed")
	if out := s.hako(t, "buildpacks", "-a", "packed"); !strings.Contains(out, "=== ⬢ packed Buildpack URL\nprocfile") {
		t.Errorf("after remove:\n%s", out)
	}
	s.hako(t, "buildpacks:clear", "-a", "packed")
	if out := s.hako(t, "buildpacks", "-a", "packed"); !strings.Contains(out, "has no Buildpack URL set") {
		t.Errorf("after clear:\n%s", out)
	}
}

// TestDomains routes a custom hostname to an app through the router.
func TestDomains(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "shop")
	s.hako(t, "apps:create", "other-shop")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "shop", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "shop", "hello from procfile")
	if out := s.hako(t, "domains:add", "www.shop.test", "-a", "shop"); !strings.Contains(out, "Adding www.shop.test to ⬢ shop... done") {
		t.Errorf("domains:add:\n%s", out)
	}
	req := func(host string) int {
		code, _, _ := s.getHost(host, "/")
		return code
	}
	if code := req("www.shop.test"); code != 200 {
		t.Errorf("custom domain: status %d, want 200", code)
	}
	if out, err := s.run("domains:add", "www.shop.test", "-a", "other-shop"); err == nil || !strings.Contains(out, "already a domain of another app") {
		t.Errorf("duplicate domain: %v\n%s", err, out)
	}
	if out := s.hako(t, "domains", "-a", "shop"); !strings.Contains(out, "=== ⬢ shop Custom Domains\nwww.shop.test") {
		t.Errorf("domains:\n%s", out)
	}
	s.stop()
	s.start()
	s.waitBody(t, "shop", "hello from procfile")
	if code := req("www.shop.test"); code != 200 {
		t.Errorf("custom domain after a restart: status %d, want 200", code)
	}
	s.hako(t, "domains:remove", "www.shop.test", "-a", "shop")
	if code := req("www.shop.test"); code != 404 {
		t.Errorf("removed domain: status %d, want 404", code)
	}
}

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
