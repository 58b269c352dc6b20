package dyno

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needRoot skips a test that needs a private root unless this host can
// give one; in CI it fails instead.
func needRoot(t *testing.T) {
	t.Helper()
	why := namespacesRefused(t)
	if why == "" {
		why = privateRootUnavailable()
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("private roots are required in CI: %s", why)
	}
	t.Skip(why)
}

// needCgroups skips a test of memory limits where no memory controller
// can be written, failing in CI when the host seems to have one.
func needCgroups(t *testing.T, s *Supervisor) {
	t.Helper()
	s.mu.Lock()
	why := s.noLimits
	s.mu.Unlock()
	if s.cgroups != nil && why == "" {
		return
	}
	_, v1 := os.Stat(filepath.Join(cgroupMount, "memory"))
	_, v2 := os.Stat(filepath.Join(cgroupMount, "cgroup.controllers"))
	if os.Getenv("CI") == "true" && (v1 == nil || v2 == nil) {
		t.Fatalf("the host has cgroups but they could not be set up: %s", why)
	}
	t.Skip("no writable memory cgroup controller: " + why)
}

func TestPrivateRoot(t *testing.T) {
	needRoot(t)
	needPython(t)
	sink := &memSink{}
	scratch := t.TempDir()
	// Without disks, so that the upper layers are seen from the host
	// (TestDiskQuota tests disks).
	s := newSupervisor(t, sink, Options{Isolate: ModeNamespaces, ScratchDir: scratch, StopGrace: 5 * time.Second, DiskLimit: -1})
	if got := s.Isolation(); !strings.Contains(got, "private root") || strings.Contains(got, "no private root") {
		t.Errorf("Isolation() = %q", got)
	}
	marker := filepath.Join(t.TempDir(), "marker")
	if err := os.WriteFile(marker, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/home", 0o755); err != nil {
		t.Fatal(err)
	}
	a := uniqueName("web")
	spA := spec(t, "web", a, `echo "uid=$(id -u) gid=$(id -g) pwd=$(pwd) home=$HOME"
echo "root=$(ls / | tr '\n' ' ')"
echo "procs=$(ls /proc | grep -cE '^[0-9]+$')"
test -e `+marker+` && echo "marker seen" || echo "no marker"
echo private > /app/newfile && echo "app writable"
echo a > /tmp/a-file && echo "tmp writable"
touch /usr/x 2>/dev/null && echo "usr writable" || echo "usr read-only"
echo served > index.html
echo done
exec python3 -m http.server "$PORT" --bind 0.0.0.0`)
	dA := start(t, s, spA)
	waitFor(t, 20*time.Second, "dyno A's checks", func() bool { return len(sink.find("app", a, "done")) > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dA.WaitUp(ctx); err != nil {
		t.Fatalf("WaitUp: %v\n%s", err, sink.dump(a))
	}
	for _, line := range []string{"uid=65534 gid=65534 pwd=/app home=/app", "no marker", "app writable", "tmp writable", "usr read-only"} {
		if len(sink.find("app", a, line)) != 1 {
			t.Errorf("no line %q from dyno A:\n%s", line, sink.dump(a))
		}
	}
	if len(sink.find("app", a, "dyno-init:")) != 0 {
		t.Errorf("the init complained:\n%s", sink.dump(a))
	}
	if r := sink.find("app", a, "root="); len(r) == 1 {
		allowed := []string{"app", "tmp", "proc", "dev"}
		for _, dir := range mountPlan(s.hostPath) {
			allowed = append(allowed, strings.Split(dir, "/")[1])
		}
		for _, e := range strings.Fields(strings.TrimPrefix(r[0].s, "root=")) {
			if !slices.Contains(allowed, e) {
				t.Errorf("dyno sees /%s of the host (root: %s)", e, r[0].s)
			}
		}
	} else {
		t.Errorf("no root listing:\n%s", sink.dump(a))
	}
	if p := sink.find("app", a, "procs="); len(p) != 1 {
		t.Errorf("no /proc listing:\n%s", sink.dump(a))
	} else if n, _ := strconv.Atoi(strings.TrimPrefix(p[0].s, "procs=")); n < 1 || n > 5 {
		t.Errorf("%d processes seen in /proc, want only the init, the shell, its subshell, ls and grep", n)
	}
	if resp, err := getBody("http://" + dA.Addr() + "/index.html"); err != nil || resp != "served\n" {
		t.Errorf("GET from /app = %q, %v", resp, err)
	}
	if _, err := os.Stat(filepath.Join(spA.Dir, "newfile")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dyno's write reached the slug on the host: %v", err)
	}

	// A second dyno of the same release sees the slug as released.
	b := uniqueName("worker")
	spB := spA
	spB.Name, spB.Type = b, "worker"
	spB.Command = `test -e /app/newfile && echo "sees newfile" || echo "no newfile"
test -e /tmp/a-file && echo "sees tmp" || echo "no tmp"
echo done; exec sleep 1000`
	start(t, s, spB)
	waitFor(t, 20*time.Second, "dyno B's checks", func() bool { return len(sink.find("app", b, "done")) > 0 })
	for _, line := range []string{"no newfile", "no tmp"} {
		if len(sink.find("app", b, line)) != 1 {
			t.Errorf("no line %q from dyno B:\n%s", line, sink.dump(b))
		}
	}

	// Scratch dirs are named by random dyno ids: A's is the one whose
	// upper layer holds the file it wrote in /app.
	all := func() []string {
		dirs, _ := filepath.Glob(filepath.Join(scratch, "*"))
		return dirs
	}
	ofA := func() []string {
		dirs, _ := filepath.Glob(filepath.Join(scratch, "*", "upper", "newfile"))
		return dirs
	}
	if len(all()) != 2 || len(ofA()) != 1 {
		t.Fatalf("scratch dirs: %v, of %s: %v", all(), a, ofA())
	}
	for _, dir := range all() {
		if strings.Contains(dir, "web") || strings.Contains(dir, "worker") {
			t.Errorf("scratch dir %s is named after the dyno, not by an id", dir)
		}
	}
	if err := dA.Stop(); err != nil {
		t.Fatal(err)
	}
	if left := ofA(); len(left) != 0 {
		t.Errorf("scratch dir left after Stop: %v", left)
	}
	if len(all()) != 1 {
		t.Errorf("dyno B lost its scratch dir: %v", all())
	}
	s.StopAll()
	if left, _ := os.ReadDir(scratch); len(left) != 0 {
		t.Errorf("scratch dirs left after StopAll: %v", left)
	}
}

func TestMemoryVastlyExceeded(t *testing.T) {
	needRoot(t)
	needPython(t)
	sink := &memSink{}
	s := newSupervisor(t, sink, Options{Isolate: ModeNamespaces, MemoryLimit: 32 << 20, RestartBackoff: time.Hour})
	needCgroups(t, s)
	name := uniqueName("worker")
	start(t, s, spec(t, "worker", name, `exec python3 -c "b=bytearray(100*1024*1024); import time; time.sleep(30)"`))
	waitFor(t, 30*time.Second, "R15 and the crash", func() bool {
		return len(sink.find("heroku", name, "State changed from up to crashed")) > 0
	})
	for _, line := range []string{"Error R15 (Memory quota vastly exceeded)", "Process exited with status 137"} {
		if len(sink.find("heroku", name, line)) == 0 {
			t.Errorf("no platform line %q in:\n%s", line, sink.dump(name))
		}
	}
	if got := s.Isolation(); !strings.Contains(got, "memory quota 32 MiB") {
		t.Errorf("Isolation() = %q", got)
	}
}

func TestMemoryQuotaExceeded(t *testing.T) {
	needRoot(t)
	needPython(t)
	sink := &memSink{}
	s := newSupervisor(t, sink, Options{Isolate: ModeNamespaces, MemoryLimit: 48 << 20, RestartBackoff: time.Hour})
	needCgroups(t, s)
	name := uniqueName("worker")
	d := start(t, s, spec(t, "worker", name, `exec python3 -c "b=bytearray(64*1024*1024); print('allocated', flush=True); import time; time.sleep(60)"`))
	waitFor(t, 30*time.Second, "R14", func() bool {
		return len(sink.find("heroku", name, "Error R14 (Memory quota exceeded)")) > 0
	})
	pid := d.Status().PID
	if len(sink.find("heroku", name, "Process running mem=")) == 0 || len(sink.find("heroku", name, "R15")) > 0 ||
		len(sink.find("heroku", name, "Process exited")) > 0 || !d.Up() || pid == 0 {
		t.Errorf("over its quota, the dyno should keep running with an R14:\n%s", sink.dump(name))
	}
}

func TestDynoDiesWithServer(t *testing.T) {
	for _, mode := range modes(t) {
		t.Run(modeName(mode), func(t *testing.T) {
			cmd := exec.Command(testExe(t))
			cmd.Env = append(os.Environ(), helperEnv+"="+modeName(mode), "HAKO_DYNO_TEST_SCRATCH="+t.TempDir(),
				"HAKO_DYNO_TEST_DIR="+slugDir(t), "HAKO_DYNO_TEST_COMMAND=exec sleep 1000", "HAKO_TEST_RUN="+testRun)
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			line, err := bufio.NewReader(out).ReadString('\n')
			pid, perr := strconv.Atoi(strings.TrimSpace(line))
			if err != nil || perr != nil || pid <= 0 {
				t.Fatalf("the server printed %q (%v)", line, err)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			// The dyno's leader is reaped by the system's init once dead.
			waitFor(t, 10*time.Second, "the dyno to die with its server", func() bool {
				b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
				if err != nil {
					return true
				}
				st, _, ok := parseStat(b)
				return ok && (st == 'Z' || st == 'X')
			})
			// What the killed server left, the next one sweeps away.
			waitFor(t, 10*time.Second, "the killed server's cgroups to be swept", func() bool {
				if h, err := detectCgroups(cgroupMount); err == nil {
					h.sweep()
				}
				return len(leftCgroups(cmd.Process.Pid)) == 0
			})
		})
	}
}

func TestCycling(t *testing.T) {
	for _, mode := range modes(t) {
		t.Run(modeName(mode), func(t *testing.T) {
			sink := &memSink{}
			s := newSupervisor(t, sink, Options{Isolate: mode, CycleAfter: 300 * time.Millisecond, RestartBackoff: time.Hour, StopGrace: 5 * time.Second})
			name := uniqueName("worker")
			d := start(t, s, spec(t, "worker", name, "exec sleep 1000"))
			waitFor(t, 10*time.Second, "the first process", func() bool { return d.Status().PID != 0 })
			first := d.Status().PID
			waitFor(t, 20*time.Second, "two cycles", func() bool {
				return len(sink.find("heroku", name, "Starting process")) >= 3
			})
			if pid := d.Status().PID; pid == first {
				t.Errorf("PID unchanged after cycling: %d", pid)
			}
			for _, line := range []string{"Cycling", "State changed from up to starting", "Stopping all processes with SIGTERM", "Process exited with status 143"} {
				if len(sink.find("heroku", name, line)) < 2 {
					t.Errorf("platform line %q not logged at each cycle:\n%s", line, sink.dump(name))
				}
			}
			if len(sink.find("heroku", name, "Restarting")) > 0 || len(sink.find("heroku", name, "crashed")) > 0 {
				t.Errorf("cycling counted as a crash:\n%s", sink.dump(name))
			}
			// Each cycle restarts at once: no back-off (an hour here).
			st := sink.find("heroku", name, "Starting process")
			if gap := st[2].at.Sub(st[1].at); gap > 10*time.Second {
				t.Errorf("cycles %v apart", gap)
			}
		})
	}
}

// getBody fetches url and returns its body.
func getBody(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestFallbackEnv(t *testing.T) {
	env := []string{"HOME=" + appDir, "PATH=" + appDir + "/bin:/usr/bin", "OTHER=" + appDir}
	got := fallbackEnv("/srv/run/app/v3", env)
	want := []string{"HOME=/srv/run/app/v3", "PATH=/srv/run/app/v3/bin:/usr/bin", "OTHER=" + appDir}
	if !slices.Equal(got, want) {
		t.Errorf("without a private root the environment is %q, want %q", got, want)
	}
	if env[0] != "HOME="+appDir {
		t.Errorf("fallbackEnv changed its argument: %q", env)
	}
}
