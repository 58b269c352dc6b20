package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"hako/engine"
)

// oneOffApp starts a server with the app oneoff pushed from env-app.
func oneOffApp(t *testing.T) *server {
	t.Helper()
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "oneoff")
	if out, err := s.push(repo(t, "env-app"), s.key, "oneoff", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	return s
}

// TestRunOneOffThroughCLI runs one-off dynos with `hako run`: the app's
// config and -e reach the command, its exit code comes back, piped input
// reaches it, and a missing app is refused.
func TestRunOneOffThroughCLI(t *testing.T) {
	s := oneOffApp(t)
	s.hako(t, "config:set", "-a", "oneoff", "GREETING=hi there")

	out, err := s.run("run", "-a", "oneoff", "-e", "EXTRA=1", "--", "sh", "-c", `echo "$GREETING $EXTRA $DYNO"; exit 3`)
	if code := exitCode(err); code != 3 || !hasLineMatch(out, `hi there 1 run\.\d+`) || !hasLineMatch(out, `Running sh -c .* on ⬢ oneoff\.\.\. up, run\.\d+`) {
		t.Errorf("run: exit %d, want 3:\n%s", code, out)
	}
	c := exec.Command(bin, "run", "-a", "oneoff", "cat")
	c.Env = append(os.Environ(), "HAKO_HOME="+s.home)
	c.Stdin = strings.NewReader("piped input\n")
	if out, err := c.CombinedOutput(); err != nil || !hasLine(string(out), "piped input") {
		t.Errorf("run cat: %v\n%s", err, out)
	}
	if out, err := s.run("run", "-a", "ghost-app", "true"); err == nil || !strings.Contains(out, "Couldn't find that app") {
		t.Errorf("run on a missing app: %v\n%s", err, out)
	}
}

// TestRunOverSSHHasTerminal runs a one-off dyno over SSH with -tt: the
// command gets a terminal.
func TestRunOverSSHHasTerminal(t *testing.T) {
	s := oneOffApp(t)
	// ssh -tt asks for a terminal even without a local one.
	sshArgs := []string{"-tt", "-i", s.key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-p", s.sshPort, "git@127.0.0.1",
		"run", "-a", "oneoff", "test -t 0 && echo TERMINAL-OK; stty size"}
	sc := exec.Command("ssh", sshArgs...)
	sc.Stdin = strings.NewReader("")
	sout, err := sc.CombinedOutput()
	if err != nil || !hasLine(string(sout), "TERMINAL-OK") {
		t.Errorf("run over ssh -tt: %v\n%s", err, sout)
	}
}

// TestOneOffSeesItsOwnDyno checks, on a root server, what a one-off dyno
// is: the app's uid with /app as its home (and writable), its own
// hostname and process namespace; and that the web dyno runs as that uid.
func TestOneOffSeesItsOwnDyno(t *testing.T) {
	needRootE2E(t)
	s := oneOffApp(t)
	who := s.hako(t, "run", "-a", "oneoff", "--", "sh", "-c", `echo "uid=$(id -u) home=$HOME host=$(hostname) procs=$(ls /proc | grep -c '^[0-9]')"; ls /root 2>&1 | head -1; touch /app/written && echo wrote-app`)
	// The server's first app runs as the first app uid, never nobody.
	uid := "uid=" + strconv.Itoa(engine.FirstAppUID)
	for _, want := range []string{uid + ` home=/app host=run\.\d+ procs=\d+`, "wrote-app"} {
		if !hasLineMatch(who, want) {
			t.Errorf("one-off dyno lacks a line %q:\n%s", want, who)
		}
	}
	if _, body, err := s.get("oneoff", "/whoami"); err != nil || !hasLineMatch(body, uid+` host=web\.1 pid=\d+`) {
		t.Errorf("web dyno identity = %q, %v", body, err)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// TestOneOffInPS checks that `ps` lists a one-off dyno while it runs.
func TestOneOffInPS(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "listed")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "listed", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	c := exec.Command(bin, "run", "-a", "listed", "--no-tty", "read line; echo got $line")
	c.Env = append(os.Environ(), "HAKO_HOME="+s.home)
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	c.Stdout, c.Stderr = out, out
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	var ps string
	waitFor(t, 20*time.Second, "the one-off in ps", func() bool {
		ps = s.hako(t, "ps", "-a", "listed")
		return hasLine(ps, "=== run: one-off processes (1)")
	}, func() string { return ps })
	if !hasLineMatch(ps, `run\.\d+ \(Basic\): up .* ago\): read line; echo got \$line`) || !hasLineMatch(ps, `=== web \(Basic\): .* \(1\)`) {
		t.Errorf("ps:\n%s", ps)
	}
	in.Write([]byte("done\n"))
	in.Close()
	if err := c.Wait(); err != nil || !hasLine(out.String(), "got done") {
		t.Errorf("run: %v\n%s", err, out.String())
	}
	if ps := s.hako(t, "ps", "-a", "listed"); hasLineMatch(ps, `(=== run: .*|run\.\d+ .*)`) {
		t.Errorf("a finished one-off is still listed:\n%s", ps)
	}
}
