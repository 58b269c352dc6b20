package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSSHCommands runs Heroku-style commands over SSH: they act as the
// CLI's do, flags may follow arguments, and `server` is not one of them.
func TestSSHCommands(t *testing.T) {
	s := startServer(t)
	out, err := s.ssh(s.key, nil, "apps:create", "via-ssh")
	if err != nil || !hasLine(out, "Creating ⬢ via-ssh... done") {
		t.Fatalf("apps:create over ssh: %v\n%s", err, out)
	}
	if out := s.hako(t, "apps"); !hasLine(out, "via-ssh") {
		t.Errorf("apps lacks via-ssh:\n%s", out)
	}
	out, err = s.ssh(s.key, nil, "apps:info", "via-ssh", "-a", "via-ssh")
	if err != nil || !hasLine(out, "=== via-ssh") {
		t.Errorf("apps:info with the flag after the argument: %v\n%s", err, out)
	}
	if out, err := s.ssh(s.key, nil, "server"); err == nil {
		t.Errorf("server over ssh ran:\n%s", out)
	}
}

// TestSSHKeys checks that an unregistered key can neither run commands
// nor push, that keys:add over SSH lets it in, and keys:remove shuts it
// out again.
func TestSSHKeys(t *testing.T) {
	s := startServer(t)
	s.hako(t, "apps:create", "via-ssh")
	stranger := s.keygen("stranger")
	out, err := s.ssh(stranger, nil, "apps")
	if err == nil || !strings.Contains(out, "Permission denied") {
		t.Errorf("unregistered key: err=%v\n%s", err, out)
	}
	if out, err := s.push(repo(t, "no-language"), stranger, "via-ssh", "main"); err == nil {
		t.Errorf("push with unregistered key succeeded:\n%s", out)
	}

	pub, err := os.ReadFile(stranger + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	out, err = s.ssh(s.key, strings.NewReader(string(pub)), "keys:add")
	if err != nil {
		t.Fatalf("keys:add over ssh: %v\n%s", err, out)
	}
	if out, err := s.ssh(stranger, nil, "apps"); err != nil || !hasLine(out, "via-ssh") {
		t.Errorf("newly added key: %v\n%s", err, out)
	}
	s.hako(t, "keys:remove", "stranger")
	if out, err := s.ssh(stranger, nil, "apps"); err == nil {
		t.Errorf("removed key still works:\n%s", out)
	}
}

// TestCLIRefusesBadInput checks that bad input is refused before it
// touches anything, with a sentence saying what to do.
func TestCLIRefusesBadInput(t *testing.T) {
	s := startServer(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"apps:create", "../x"}, "is invalid"},
		{[]string{"apps:create", "A"}, "is invalid"},
		{[]string{"apps:create", "x;rm"}, "is invalid"},
		{[]string{"apps:info"}, "Missing required flag"},
		{[]string{"apps:info", "-a", "ghost-app"}, "Couldn't find that app"},
		{[]string{"apps:destroy", "-a", "ghost-app"}, "--confirm ghost-app"},
		{[]string{"keys:add", "/nonexistent/key.pub"}, "Cannot read"},
		{[]string{"keys:remove", "nobody-key"}, "Couldn't find that key"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			out, err := s.run(c.args...)
			if err == nil || !strings.Contains(out, c.want) {
				t.Errorf("err=%v, want failure mentioning %q:\n%s", err, c.want, out)
			}
		})
	}
}

// TestAppsDestroy checks that apps:destroy --confirm says what it did
// and the app is no longer listed.
func TestAppsDestroy(t *testing.T) {
	s := startServer(t)
	s.hako(t, "apps:create", "doomed")
	out := s.hako(t, "apps:destroy", "--confirm", "doomed", "-a", "doomed")
	if !hasLine(out, "Destroying ⬢ doomed (including all add-ons)... done") {
		t.Errorf("destroy: %s", out)
	}
	if out := s.hako(t, "apps"); hasLine(out, "doomed") {
		t.Errorf("destroyed app still listed:\n%s", out)
	}
}

// TestCLIWithoutServer checks that a client command with no server
// running says how to start one.
func TestCLIWithoutServer(t *testing.T) {
	c := exec.Command(bin, "apps")
	c.Env = append(os.Environ(), "HAKO_HOME="+t.TempDir())
	if out, err := c.CombinedOutput(); err == nil || !strings.Contains(string(out), "hako server") {
		t.Errorf("no server: err=%v\n%s", err, out)
	}
}
