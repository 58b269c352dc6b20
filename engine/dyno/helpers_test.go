package dyno

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hako/engine"
	"hako/engine/dyno/hosttest"
)

// testRun marks every dyno these tests start, so that TestMain can check
// that none of their processes outlived the tests.
var testRun = fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "dyno-init" {
		os.Exit(InitMain(os.Args[2:]))
	}
	if os.Getenv(helperEnv) != "" {
		os.Exit(serverHelper())
	}
	// The inits the tests start get the test binary's GORACE: under the
	// race detector they would otherwise linger a second at exit.
	if _, ok := os.LookupEnv("GORACE"); !ok {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	tmp, err := hosttest.NewTemp("hako-dyno-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	releaseSubnet := reserveTestSubnet()
	code := m.Run()
	releaseSubnet()
	if left := processesWithEnv("HAKO_TEST_RUN=" + testRun); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "processes of test dynos still running: %v\n", left)
		code = 1
	}
	if err := tmp.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	if left := leftCgroups(os.Getpid()); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "cgroups of test dynos left behind: %v\n", left)
		code = 1
	}
	os.Exit(code)
}

// leftCgroups lists the dyno cgroups made by the server with process id
// pid that still exist.
func leftCgroups(pid int) []string {
	var left []string
	for _, pattern := range []string{"*/hako/*", "hako/*", "*/*/hako/*"} {
		dirs, _ := filepath.Glob(filepath.Join(cgroupMount, pattern))
		for _, dir := range dirs {
			if strings.Contains(filepath.Base(dir), fmt.Sprintf(".%d.", pid)) {
				left = append(left, dir)
			}
		}
	}
	return left
}

// processesWithEnv lists the pids whose environment holds kv exactly.
func processesWithEnv(kv string) []string {
	var pids []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		env, err := os.ReadFile(dir + "/environ")
		if err != nil {
			continue
		}
		for _, e := range bytes.Split(env, []byte{0}) {
			if string(e) == kv {
				pids = append(pids, filepath.Base(dir))
				break
			}
		}
	}
	return pids
}

var dynoSeq atomic.Int64

// uniqueName returns a dyno name no other test process uses.
func uniqueName(typ string) string {
	return fmt.Sprintf("%s.%d%d", typ, os.Getpid(), dynoSeq.Add(1))
}

type logEntry struct {
	at                   time.Time
	app, source, proc, s string
}

// memSink records log lines for the tests to look at.
type memSink struct {
	mu      sync.Mutex
	entries []logEntry
}

func (m *memSink) Log(app, source, proc, line string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = append(m.entries, logEntry{time.Now(), app, source, proc, line})
}

// find returns the entries of proc from source whose line contains sub.
func (m *memSink) find(source, proc, sub string) []logEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []logEntry
	for _, e := range m.entries {
		if e.source == source && e.proc == proc && strings.Contains(e.s, sub) {
			out = append(out, e)
		}
	}
	return out
}

func (m *memSink) dump(proc string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, e := range m.entries {
		if e.proc == proc {
			fmt.Fprintf(&b, "%s %s[%s]: %s\n", e.at.Format("15:04:05.000"), e.source, e.proc, e.s)
		}
	}
	return b.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// testExe is the test binary, which doubles as the dyno init.
func testExe(t *testing.T) string {
	t.Helper()
	exe, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// modes lists the isolation modes this host can run.
func modes(t *testing.T) []Mode {
	if namespacesRefused(t) == "" {
		return []Mode{ModeNamespaces, ModeProcessGroup}
	}
	return []Mode{ModeProcessGroup}
}

// namespacesRefused says why this host gives the tests no isolated
// dynos, or "" when it does.
func namespacesRefused(t *testing.T) string {
	if os.Geteuid() != 0 {
		return "not running as root"
	}
	if err := probeNamespaces(testExe(t)); err != nil {
		return err.Error()
	}
	return ""
}

func modeName(m Mode) string {
	if m == ModeNamespaces {
		return "namespaces"
	}
	return "process-group"
}

func newSupervisor(t *testing.T, sink *memSink, opts Options) *Supervisor {
	t.Helper()
	opts.Exe = testExe(t)
	opts.Logs = sink
	// Plain process groups are refused to a root server; the tests run
	// them as root all the same, to test them.
	opts.plainAsRoot = opts.Isolate == ModeProcessGroup
	if opts.ScratchDir == "" {
		opts.ScratchDir = t.TempDir()
	}
	s := New(opts)
	t.Cleanup(s.StopAll)
	return s
}

// slugDir makes an app directory whose profile scripts leave a trace.
func slugDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		".profile.d/10-b.sh": `export PROFILE_ORDER="$PROFILE_ORDER b"` + "\n",
		".profile.d/00-a.sh": `export PROFILE_ORDER="a"` + "\n",
		".profile.d/README":  `export PROFILE_ORDER="not a script"` + "\n",
		".profile":           `export PROFILE_ORDER="$PROFILE_ORDER profile"` + "\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func spec(t *testing.T, typ, name, command string) engine.DynoSpec {
	return engine.DynoSpec{
		App:     "hako-test",
		Type:    typ,
		Name:    name,
		Release: 3,
		Command: command,
		Dir:     slugDir(t),
		Env: map[string]string{
			"HAKO_TEST_RUN": testRun,
			"GREETING":      "hello world",
			// The test binary is the init: under the race detector it
			// would linger a second at exit for late reports.
			"GORACE": "atexit_sleep_ms=0",
		},
	}
}

func start(t *testing.T, s *Supervisor, sp engine.DynoSpec) engine.Dyno {
	t.Helper()
	d, err := s.Start(sp)
	if err != nil {
		t.Fatalf("Start(%s): %v", sp.Name, err)
	}
	t.Cleanup(func() { _ = d.Stop() })
	return d
}

// helperEnv makes the test binary act as a server running one dyno (see
// serverHelper), for tests that kill a server.
const helperEnv = "HAKO_DYNO_TEST_SERVER"

// serverHelper starts a worker dyno from the command and slug directory
// the environment names, in the mode it names, prints the dyno's pid and
// waits to be killed.
func serverHelper() int {
	mode := ModeProcessGroup
	if os.Getenv(helperEnv) == "namespaces" {
		mode = ModeNamespaces
	}
	exe, _ := filepath.Abs(os.Args[0])
	s := New(Options{Exe: exe, Isolate: mode, ScratchDir: os.Getenv("HAKO_DYNO_TEST_SCRATCH"), plainAsRoot: mode == ModeProcessGroup, Network: NetworkHost})
	d, err := s.Start(engine.DynoSpec{
		App: "hako-test", Type: "worker", Name: "worker.1", Command: os.Getenv("HAKO_DYNO_TEST_COMMAND"),
		Dir: os.Getenv("HAKO_DYNO_TEST_DIR"),
		Env: map[string]string{"HAKO_TEST_RUN": os.Getenv("HAKO_TEST_RUN"), "GORACE": "atexit_sleep_ms=0"},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(d.Status().PID)
	select {}
}
