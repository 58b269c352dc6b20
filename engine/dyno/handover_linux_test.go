package dyno

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"hako/engine"
)

// hostile is an environment an attacker app would give its dyno: what
// the dynamic loader, libc and the Go runtime of a root init would obey.
var hostile = map[string]string{
	"LD_PRELOAD":      "/nonexistent/evil.so",
	"LD_LIBRARY_PATH": "/nonexistent",
	"GCONV_PATH":      "/nonexistent",
	"GODEBUG":         "inittrace=1",
	"GOTRACEBACK":     "crash",
	"MALLOC_CHECK_":   "3",
}

// environOf returns the environment of a running process.
func environOf(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for e := range bytes.SplitSeq(b, []byte{0}) {
		if len(e) > 0 {
			env = append(env, string(e))
		}
	}
	return env
}

// checkInitEnviron fails unless the init's environment holds nothing but
// what initEnviron gives it.
func checkInitEnviron(t *testing.T, pid int) {
	t.Helper()
	env := environOf(t, pid)
	if !slices.Equal(env, initEnviron()) {
		t.Errorf("the init's environment is %q, want only %q", env, initEnviron())
	}
}

// TestInitNeverSeesAppEnv starts an isolated dyno whose config vars would
// steer a root process and checks that its init (root) was started with
// none of them, while its command, as the dyno's user, gets every one.
func TestInitNeverSeesAppEnv(t *testing.T) {
	needRoot(t)
	sink := &memSink{}
	s := newSupervisor(t, sink, Options{Isolate: ModeNamespaces})
	sp := spec(t, "worker", uniqueName("worker"), `env | grep -E '^(LD_|GCONV|GODEBUG|GOTRACEBACK|MALLOC)' | sort | sed 's/^/app-env: /'; echo "uid=$(id -u)"; echo ready; exec sleep 1000`)
	for k, v := range hostile {
		sp.Env[k] = v
	}
	d := start(t, s, sp)
	waitFor(t, 10*time.Second, "the dyno's output", func() bool { return len(sink.find("app", sp.Name, "ready")) > 0 })
	checkInitEnviron(t, d.Status().PID)
	for k, v := range hostile {
		if len(sink.find("app", sp.Name, "app-env: "+k+"="+v)) != 1 {
			t.Errorf("the command lacks %s=%s:\n%s", k, v, sink.dump(sp.Name))
		}
	}
	if len(sink.find("app", sp.Name, "uid=0")) != 0 {
		t.Errorf("the command runs as root:\n%s", sink.dump(sp.Name))
	}
}

// TestBuildInitNeverSeesStepEnv does the same for a build step, whose
// environment holds what earlier buildpacks exported; the command is
// looked up in the step's PATH, not the init's empty one.
func TestBuildInitNeverSeesStepEnv(t *testing.T) {
	needRoot(t)
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces})
	dir, bin := t.TempDir(), t.TempDir()
	tool := filepath.Join(bin, "only-on-step-path")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\necho tool-ran\nenv | grep -E '^(LD_|GCONV|GODEBUG|GOTRACEBACK|MALLOC)' | sort\necho listed\nexec sleep 1000\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HAKO_TEST_RUN=" + testRun}
	for k, v := range hostile {
		env = append(env, k+"="+v)
	}
	var out syncBuffer
	cmd, done, err := s.Command(context.Background(), engine.SandboxSpec{
		Name: "env", Argv: []string{"only-on-step-path"}, Env: env, Dir: dir, Writable: []string{dir}, ReadOnly: []string{bin},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	waitFor(t, 10*time.Second, "the step's output", func() bool { return strings.Contains(out.String(), "listed\n") })
	checkInitEnviron(t, cmd.Process.Pid)
	for k, v := range hostile {
		if !strings.Contains("\n"+out.String(), "\n"+k+"="+v+"\n") {
			t.Errorf("the step lacks %s=%s:\n%s", k, v, out.String())
		}
	}
}

func TestIsolationPolicy(t *testing.T) {
	refusedNS := errors.New("operation not permitted")
	tests := []struct {
		mode     Mode
		root     bool
		nsErr    error
		isolated bool
		refused  string // part of the refusal, "" for none
	}{
		{ModeAuto, true, nil, true, ""},
		{ModeAuto, false, nil, false, ""},
		{ModeAuto, true, refusedNS, false, "cannot create namespaces (operation not permitted)"},
		{ModeNamespaces, true, nil, true, ""},
		{ModeNamespaces, false, nil, false, "--isolation required, but the server does not run as root"},
		{ModeNamespaces, true, refusedNS, false, "cannot create namespaces"},
		{ModeProcessGroup, false, nil, false, ""},
		{ModeProcessGroup, true, nil, false, "--isolation none is refused when the server runs as root"},
	}
	for _, tt := range tests {
		isolated, why, refusal := isolationPolicy(tt.mode, tt.root, tt.nsErr)
		name := fmt.Sprintf("%s root=%v ns=%v", tt.mode, tt.root, tt.nsErr)
		if isolated != tt.isolated {
			t.Errorf("%s: isolated = %v", name, isolated)
		}
		switch {
		case tt.refused == "" && refusal != nil:
			t.Errorf("%s: refused: %v", name, refusal)
		case tt.refused != "" && (refusal == nil || !strings.Contains(refusal.Error(), tt.refused)):
			t.Errorf("%s: refusal = %v, want one saying %q", name, refusal, tt.refused)
		case refusal != nil && engine.ErrorCode(refusal) != engine.EFORBIDDEN:
			t.Errorf("%s: refusal code %s", name, engine.ErrorCode(refusal))
		case refusal == nil && !isolated && why == "":
			t.Errorf("%s: not isolated, and no reason given", name)
		}
	}
}

// TestRefusedSupervisorRunsNothing checks that a supervisor that refuses
// (here: plain process groups for a root server) starts no dyno, one-off
// dyno or build step.
func TestRefusedSupervisorRunsNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root")
		}
		t.Skip("a refusal to root needs root")
	}
	s := New(Options{Exe: testExe(t), Isolate: ModeProcessGroup, ScratchDir: t.TempDir()})
	if s.Refusal() == nil {
		t.Fatal("a root server runs plain process groups")
	}
	if got := s.Isolation(); !strings.HasPrefix(got, "none: REFUSED: ") {
		t.Errorf("Isolation() = %q", got)
	}
	sp := spec(t, "worker", uniqueName("worker"), "touch ran")
	if _, err := s.Start(sp); err == nil || engine.ErrorCode(err) != engine.EFORBIDDEN {
		t.Errorf("Start: %v", err)
	}
	if _, err := s.RunOnce(context.Background(), sp, nil, &bytes.Buffer{}); err == nil || engine.ErrorCode(err) != engine.EFORBIDDEN {
		t.Errorf("RunOnce: %v", err)
	}
	if _, _, err := s.Command(context.Background(), engine.SandboxSpec{Name: "x", Argv: []string{"touch", filepath.Join(sp.Dir, "ran")}}); err == nil {
		t.Error("Command accepted")
	}
	if _, err := os.Stat(filepath.Join(sp.Dir, "ran")); err == nil {
		t.Error("something ran")
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{ModeAuto, ModeNamespaces, ModeProcessGroup} {
		if got, err := ParseMode(m.String()); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	for _, bad := range []string{"", "Auto", "full", "namespaces"} {
		if _, err := ParseMode(bad); err == nil {
			t.Errorf("ParseMode(%q) accepted", bad)
		}
	}
}

// TestDropTo checks that the init never gives the command root, and
// that without a private root it needs the app to be in its user's reach.
func TestDropTo(t *testing.T) {
	for _, rc := range []rootConfig{{UID: 0, GID: 0}, {UID: 0, GID: 65534}, {UID: 65534, GID: 0}} {
		if cred, err := dropTo(rc, true); err == nil {
			t.Errorf("uid %d gid %d: runs with %+v", rc.UID, rc.GID, cred)
		}
	}
	if cred, err := dropTo(rootConfig{UID: 65534, GID: 65534}, true); err != nil || cred.Uid != 65534 || cred.Gid != 65534 || len(cred.Groups) != 0 {
		t.Errorf("dropTo = %+v, %v", cred, err)
	}
	if os.Geteuid() == 0 {
		closed := filepath.Join(t.TempDir(), "app") // under a 0700 directory of root's
		if err := os.Mkdir(closed, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := dropTo(rootConfig{App: closed, UID: 65534, GID: 65534}, false); err == nil {
			t.Error("a dyno without a private root runs where its user cannot reach its app")
		}
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"tool": 0o755, "data": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file, path, want string
	}{
		{"tool", "/nonexistent:" + dir, filepath.Join(dir, "tool")},
		{"tool", "", ""},
		{"tool", ".:relative", ""}, // never relative to the working directory
		{"data", dir, ""},
		{"sub", dir, ""},
		{filepath.Join(dir, "tool"), "", filepath.Join(dir, "tool")},
		{"sh", "/nonexistent:/bin", "/bin/sh"},
	}
	for _, tt := range tests {
		got, err := lookPath(tt.file, tt.path)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("lookPath(%q, %q) = %q, %v; want %q", tt.file, tt.path, got, err, tt.want)
		}
		var ee *exec.Error
		if err != nil && !errors.As(err, &ee) {
			t.Errorf("lookPath(%q, %q): error %T", tt.file, tt.path, err)
		}
	}
}

func TestInitConfigRoundTrip(t *testing.T) {
	want := initConfig{
		Script: "echo hi", Env: []string{"LD_PRELOAD=/app/x.so", "A=" + strings.Repeat("b", 200<<10)},
		Root: rootConfig{App: "/srv/app", UID: 1000, GID: 1000, Required: true}, TTY: true, ReadyFD: 4, GoFD: 5,
	}
	f, err := initConfigFile(want)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readInitConfig(fd)
	if err != nil {
		t.Fatal(err)
	}
	if got.Script != want.Script || !slices.Equal(got.Env, want.Env) || got.Root.App != want.Root.App || got.Root.UID != 1000 ||
		!got.Root.Required || !got.TTY || got.ReadyFD != 4 || got.GoFD != 5 {
		t.Errorf("read back %+v", got)
	}
	if err := syscall.Fstat(fd, &syscall.Stat_t{}); err == nil {
		t.Error("readInitConfig left its descriptor open")
	}
	for _, bad := range []initConfig{{}, {Argv: []string{""}}} {
		f, err := initConfigFile(bad)
		if err != nil {
			t.Fatal(err)
		}
		fd, _ := syscall.Dup(int(f.Fd()))
		if _, err := readInitConfig(fd); err == nil {
			t.Errorf("readInitConfig accepted %+v", bad)
		}
		f.Close()
	}
}
