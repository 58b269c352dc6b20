package dyno

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hako/engine"
)

// Two apps' uids, far from any other test's.
const (
	uidA = engine.FirstAppUID + 9001
	uidB = engine.FirstAppUID + 9002
)

// asUID runs argv as uid:uid without supplementary groups and returns its
// combined output.
func asUID(uid int, argv ...string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// procsOf lists the host pids of the processes running as uid whose
// environment holds kv.
func procsOf(uid int, kv string) []string {
	var pids []string
	for _, pid := range processesWithEnv(kv) {
		status, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(status), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" && f[1] == strconv.Itoa(uid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// TestAppIdentities runs two apps' dynos: each runs as its app's own uid
// and gid, its /app belongs to that uid, and neither can read the other's
// environment (config vars) through /proc.
func TestAppIdentities(t *testing.T) {
	needRoot(t)
	sink := &memSink{}
	s := newSupervisor(t, sink, Options{Isolate: ModeNamespaces, StopGrace: 5 * time.Second})
	script := `echo "uid=$(id -u) gid=$(id -g) user=$(id -un) app-owner=$(stat -c %u /app)"; echo x > /app/mine && echo "app writable"; echo ready; exec sleep 1000`
	names := map[int]string{}
	for _, uid := range []int{uidA, uidB} {
		name := uniqueName("worker")
		sp := spec(t, "worker", name, script)
		sp.UID, sp.GID = uid, uid
		sp.Env["SECRET_MARK"] = name
		if err := s.PrepareDir(sp.Dir, uid, uid); err != nil {
			t.Fatal(err)
		}
		start(t, s, sp)
		names[uid] = name
	}
	for uid, name := range names {
		waitFor(t, 20*time.Second, name+" to be ready", func() bool { return len(sink.find("app", name, "ready")) > 0 })
		want := "uid=" + strconv.Itoa(uid) + " gid=" + strconv.Itoa(uid) + " user=hako-" + strconv.Itoa(uid) + " app-owner=" + strconv.Itoa(uid)
		for _, line := range []string{want, "app writable"} {
			if len(sink.find("app", name, line)) != 1 {
				t.Errorf("no line %q from %s:\n%s", line, name, sink.dump(name))
			}
		}
	}
	for _, tt := range []struct{ reader, owner int }{{uidA, uidB}, {uidB, uidA}} {
		pids := procsOf(tt.owner, "SECRET_MARK="+names[tt.owner])
		if len(pids) == 0 {
			t.Fatalf("no process of uid %d found on the host", tt.owner)
		}
		for _, pid := range pids {
			environ := "/proc/" + pid + "/environ"
			if out, err := asUID(tt.reader, "cat", environ); err == nil || !strings.Contains(out, "Permission denied") {
				t.Errorf("uid %d read %s of uid %d: %v\n%s", tt.reader, environ, tt.owner, err, out)
			}
			// The owner itself can: the refusal above is the uid's doing.
			if out, err := asUID(tt.owner, "cat", environ); err != nil || !strings.Contains(out, "SECRET_MARK="+names[tt.owner]) {
				t.Errorf("uid %d cannot read its own %s: %v", tt.owner, environ, err)
			}
			if out, err := asUID(tt.reader, "kill", "-0", pid); err == nil {
				t.Errorf("uid %d may signal uid %d's process %s:\n%s", tt.reader, tt.owner, pid, out)
			}
		}
	}
}

// TestPrepareDirForApp checks that a release's files become the app's
// user's, closed to others, and that a tree given to another user (an
// older server's nobody) is given again.
func TestPrepareDirForApp(t *testing.T) {
	needRoot(t)
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces})
	dir := slugDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	owners := func() map[string]int {
		got := map[string]int{}
		filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			var st syscall.Stat_t
			if err == nil && syscall.Lstat(path, &st) == nil {
				got[path] = int(st.Uid)
			}
			return nil
		})
		return got
	}
	for _, uid := range []int{DefaultUser, uidA} {
		if err := s.PrepareDir(dir, uid, uid); err != nil {
			t.Fatal(err)
		}
		for path, owner := range owners() {
			if owner != uid {
				t.Errorf("after PrepareDir for %d, %s belongs to %d", uid, path, owner)
			}
		}
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("the release's directory: %v, %v; want mode 0700", fi.Mode(), err)
		}
	}
	if out, err := asUID(uidB, "ls", dir); err == nil {
		t.Errorf("another app's uid lists the release:\n%s", out)
	}
}

// TestBuildStepAsApp checks that a build step runs as the app's uid and
// that the paths it writes become that uid's.
func TestBuildStepAsApp(t *testing.T) {
	needRoot(t)
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces})
	w := t.TempDir()
	var out bytes.Buffer
	cmd, done, err := s.Command(context.Background(), engine.SandboxSpec{
		Name: "ids", Argv: []string{"sh", "-c", `echo "uid=$(id -u) gid=$(id -g)"; echo x > "$W/new"`},
		Env: []string{"PATH=" + os.Getenv("PATH"), "HAKO_TEST_RUN=" + testRun, "W=" + w, "GORACE=atexit_sleep_ms=0"},
		Dir: w, Writable: []string{w}, UID: uidA, GID: uidA,
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	done()
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if want := "uid=" + strconv.Itoa(uidA) + " gid=" + strconv.Itoa(uidA) + "\n"; !strings.HasPrefix(out.String(), want) {
		t.Errorf("output %q, want %q first", out.String(), want)
	}
	for _, path := range []string{w, filepath.Join(w, "new")} {
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil || st.Uid != uidA {
			t.Errorf("%s: uid %d, %v; want %d", path, st.Uid, err, uidA)
		}
	}
	if _, err := asUID(uidB, "cat", filepath.Join(w, "new")); err == nil {
		t.Error("another app's uid reads the step's files")
	}
}

// inotifyScript opens inotify instances until the kernel refuses one (or
// until max), says how many it got, and keeps them open.
const inotifyScript = `exec python3 -c '
import ctypes, os, resource, sys, time
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while n < int(sys.argv[1]):
    if libc.inotify_init() < 0:
        print("refused after", n, os.strerror(ctypes.get_errno()), flush=True)
        break
    n += 1
print("holding", n, flush=True)
time.sleep(1000)
' `

// TestPerUIDLimits checks that an app using up its per-uid kernel limits
// (here inotify instances, as a file watcher gone wild would) leaves
// another app's dynos theirs.
func TestPerUIDLimits(t *testing.T) {
	needRoot(t)
	needPython(t)
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_instances")
	if err != nil {
		t.Fatal(err)
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || limit > 65536 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("max_user_instances = %q: too many to use up in a test", b)
		}
		t.Skipf("max_user_instances = %q: too many to use up in a test", b)
	}
	sink := &memSink{}
	s := newSupervisor(t, sink, Options{Isolate: ModeNamespaces, StopGrace: 5 * time.Second})
	run := func(uid, max int) string {
		name := uniqueName("worker")
		sp := spec(t, "worker", name, inotifyScript+strconv.Itoa(max))
		sp.UID, sp.GID = uid, uid
		if err := s.PrepareDir(sp.Dir, uid, uid); err != nil {
			t.Fatal(err)
		}
		start(t, s, sp)
		waitFor(t, 20*time.Second, name+" to hold its instances", func() bool { return len(sink.find("app", name, "holding ")) > 0 })
		return name
	}
	greedy := run(uidA, limit+1)
	if len(sink.find("app", greedy, "refused after")) != 1 {
		t.Fatalf("the greedy dyno was never refused:\n%s", sink.dump(greedy))
	}
	other := run(uidB, 1)
	if len(sink.find("app", other, "holding 1")) != 1 {
		t.Errorf("another app's dyno got no inotify instance:\n%s", sink.dump(other))
	}
}

// TestDirOwnerIsPrepareDirs checks that a tree given to whom DirOwner
// names, top closed, is one PrepareDir takes as prepared: unpacking it
// as theirs spares the second walk.
func TestDirOwnerIsPrepareDirs(t *testing.T) {
	needRoot(t)
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces})
	for _, uid := range []int{0, uidA} {
		ouid, ogid, ok := s.DirOwner(uid, uid)
		if !ok {
			t.Fatal("an isolating supervisor names no owner")
		}
		dir := t.TempDir()
		if err := os.Chown(dir, ouid, ogid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		marker := filepath.Join(dir, "left-alone")
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := s.PrepareDir(dir, uid, uid); err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(marker, &st); err != nil {
			t.Fatal(err)
		}
		if int(st.Uid) == ouid && ouid != 0 {
			t.Errorf("uid %d: PrepareDir walked a tree DirOwner's owner holds already", uid)
		}
	}
	plain := newSupervisor(t, &memSink{}, Options{})
	if _, _, ok := plain.DirOwner(uidA, uidA); ok && !plain.isolated {
		t.Error("a supervisor without isolation names an owner")
	}
}
