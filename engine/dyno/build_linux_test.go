package dyno

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hako/engine"
)

func TestBuildCommandIsolated(t *testing.T) {
	needRoot(t)
	scratch := t.TempDir()
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces, ScratchDir: scratch})
	if !s.Isolated() {
		t.Fatal("Isolated() = false in ModeNamespaces")
	}
	w, r, hidden := t.TempDir(), t.TempDir(), t.TempDir()
	for _, f := range []string{filepath.Join(w, "sub", "rootfile"), filepath.Join(r, "data"), filepath.Join(hidden, "marker")} {
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("data\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A link planted in a writable path must not make the chown reach the
	// host's files.
	target := filepath.Join(hidden, "marker")
	if err := os.Symlink(target, filepath.Join(w, "link")); err != nil {
		t.Fatal(err)
	}
	script := `echo "uid=$(id -u) gid=$(id -g) host=$(hostname) pwd=$(pwd) arg=$1"
cat "$R/data"
echo x > "$W/new" && echo "w writable"
echo x >> "$W/sub/rootfile" && echo "w given"
echo x > "$R/new" 2>/dev/null && echo "r writable" || echo "r read-only"
test -e "$H/marker" && echo "hidden seen" || echo "hidden unseen"
echo x > /etc/x 2>/dev/null && echo "etc writable" || echo "etc read-only"
echo x > /tmp/x && echo "tmp writable"
echo "procs=$(ls /proc | grep -cE '^[0-9]+$')"
sleep 1000 &
`
	var out bytes.Buffer
	cmd, done, err := s.Command(context.Background(), engine.SandboxSpec{
		Name: "test", Argv: []string{"sh", "-c", script, "sh", "an arg"},
		Env: []string{"PATH=" + os.Getenv("PATH"), "HAKO_TEST_RUN=" + testRun, "W=" + w, "R=" + r, "H=" + hidden, "GORACE=atexit_sleep_ms=0"},
		Dir: w, Writable: []string{w}, ReadOnly: []string{r},
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	done()
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the step took %v: its leftover sleep was not killed", d)
	}
	for _, line := range []string{
		"uid=65534 gid=65534 host=build pwd=" + w + " arg=an arg\n", "data\n", "w writable\n", "w given\n",
		"r read-only\n", "hidden unseen\n", "etc read-only\n", "tmp writable\n",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("no line %q in:\n%s", line, out.String())
		}
	}
	if strings.Contains(out.String(), "dyno-init:") {
		t.Errorf("the init complained:\n%s", out.String())
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(w, "new"), &st); err != nil || st.Uid != DefaultUser {
		t.Errorf("the step's file on the host: uid %d, %v", st.Uid, err)
	}
	if err := syscall.Stat(target, &st); err != nil || st.Uid != 0 {
		t.Errorf("the link's target was given away: uid %d, %v", st.Uid, err)
	}
	if left, _ := os.ReadDir(scratch); len(left) != 0 {
		t.Errorf("scratch directories left behind: %v", left)
	}
}

func TestBuildCommandCancel(t *testing.T) {
	needRoot(t)
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces})
	w := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd, done, err := s.Command(ctx, engine.SandboxSpec{
		Name: "cancel", Argv: []string{"sh", "-c", "sleep 1000 & sleep 1000"},
		Env: []string{"PATH=" + os.Getenv("PATH"), "HAKO_TEST_RUN=" + testRun, "GORACE=atexit_sleep_ms=0"},
		Dir: w, Writable: []string{w},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	if err := cmd.Wait(); err == nil {
		t.Error("a cancelled step succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the cancelled step took %v to end", d)
	}
}

func TestBuildCommandMissingProgram(t *testing.T) {
	needRoot(t)
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces})
	w := t.TempDir()
	var out bytes.Buffer
	cmd, done, err := s.Command(context.Background(), engine.SandboxSpec{
		Name: "missing", Argv: []string{"no-such-program-here"},
		Env: []string{"PATH=" + os.Getenv("PATH")}, Dir: w, Writable: []string{w},
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	done()
	var exit *exec.ExitError
	if !errorsAs(err, &exit) || exit.ExitCode() != 127 {
		t.Errorf("Run = %v, want exit status 127\n%s", err, out.String())
	}
}

func TestBuildCommandPlain(t *testing.T) {
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeProcessGroup})
	if s.Isolated() {
		t.Fatal("Isolated() = true in ModeProcessGroup")
	}
	w := t.TempDir()
	var out bytes.Buffer
	cmd, done, err := s.Command(context.Background(), engine.SandboxSpec{
		Name: "plain", Argv: []string{"sh", "-c", "pwd; sleep 1000 >/dev/null 2>&1 &"},
		Env: []string{"PATH=" + os.Getenv("PATH"), "HAKO_TEST_RUN=" + testRun}, Dir: w, Writable: []string{w},
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = &out
	err = cmd.Run()
	pid := cmd.Process.Pid
	done()
	if err != nil || strings.TrimSpace(out.String()) != w {
		t.Errorf("Run = %v, output %q; want %s", err, out.String(), w)
	}
	waitFor(t, 5*time.Second, "the leftover sleep to die", func() bool { return !groupAlive(pid) })
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
