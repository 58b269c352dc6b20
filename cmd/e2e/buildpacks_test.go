package e2e

import (
	"strings"
	"testing"
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
