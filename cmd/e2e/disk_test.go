package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// diskUse is what the files under path take on disk, in bytes, as du
// counts it (allocated blocks).
func diskUse(t *testing.T, path string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed while walking
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		t.Fatalf("measure %s: %v", path, err)
	}
	return total
}

// entries lists the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// bigApp is a Procfile app carrying size bytes of random data, which
// neither git nor the slug's gzip can compress.
func bigApp(t *testing.T, size int) string {
	t.Helper()
	dir := repo(t, "procfile-app")
	f, err := os.Create(filepath.Join(dir, "blob.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, int64(size)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "big")
	return dir
}

// TestDiskUnpackedShared checks that config releases share one unpacked
// slug, that slugs no release needs are collected, that a one-off dyno
// keeps its slug until it ends, and that rollback still works.
func TestDiskUnpackedShared(t *testing.T) {
	need(t, "python3")
	const blob = 50 << 20
	s := startServer(t)
	s.hako(t, "apps:create", "big")
	dir := bigApp(t, blob)
	if out, err := s.push(dir, s.key, "big", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitPath(t, "big", "/", "v1\n")
	run := filepath.Join(s.home, "run")
	appRun := filepath.Join(run, "big")
	first := entries(t, appRun)
	if len(first) != 1 {
		t.Fatalf("unpacked slugs after the first deploy: %v, want one", first)
	}
	one := diskUse(t, filepath.Join(appRun, first[0]))
	if one < blob {
		t.Fatalf("one unpacked slug takes %d bytes, less than its %d-byte blob", one, blob)
	}

	// A one-off dyno on the first slug, waiting for a line.
	c := exec.Command(bin, "run", "-a", "big", "--no-tty", "echo ready; read line; cat /app/index.html; wc -c < /app/blob.bin")
	c.Env = append(os.Environ(), "HAKO_HOME="+s.home)
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	lines := bufio.NewScanner(outR)
	ready := false
	for !ready && lines.Scan() {
		ready = lines.Text() == "ready"
	}
	if !ready {
		t.Fatalf("the one-off dyno never said ready")
	}

	for i := 0; i < 10; i++ {
		s.hako(t, "config:set", "-a", "big", "ROUND="+string(rune('a'+i)))
	}
	used := diskUse(t, run)
	t.Logf("run/ after 10 config releases: %d MiB (one unpacked slug: %d MiB)", used>>20, one>>20)
	if used >= 3*one {
		t.Errorf("run/ takes %d bytes after 10 config releases, want under 3 unpacked slugs (%d)", used, 3*one)
	}
	if got := entries(t, appRun); !slices.Equal(got, first) {
		t.Errorf("unpacked slugs after 10 config releases: %v, want %v", got, first)
	}

	// Two new slugs: the first is then neither current nor previous, but
	// the one-off dyno still runs on it.
	for _, v := range []string{"v2", "v3"} {
		if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		git(t, dir, "commit", "-qam", v)
		if out, err := s.push(dir, s.key, "big", "main"); err != nil {
			t.Fatalf("push %s: %v\n%s", v, err, out)
		}
		s.waitPath(t, "big", "/", v+"\n")
	}
	if got := entries(t, appRun); len(got) != 3 || !slices.Contains(got, first[0]) {
		t.Errorf("unpacked slugs while the one-off runs on the first: %v, want 3 with %s", got, first[0])
	}
	if _, err := in.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	in.Close()
	var rest []string
	for lines.Scan() {
		rest = append(rest, strings.TrimSpace(lines.Text()))
	}
	if err := c.Wait(); err != nil || !slices.Equal(rest, []string{"v1", "52428800"}) {
		t.Errorf("one-off dyno after two deploys: %v, printed %q, want v1 and 52428800", err, rest)
	}
	waitFor(t, 10*time.Second, "the first slug to be collected after the one-off ended", func() bool {
		got := entries(t, appRun)
		return len(got) == 2 && !slices.Contains(got, first[0])
	}, func() string { return strings.Join(entries(t, appRun), " ") })

	// The previous slug is still unpacked: a rollback needs no unpacking.
	s.hako(t, "releases:rollback", "-a", "big")
	s.waitPath(t, "big", "/", "v2\n")
	if got := entries(t, appRun); len(got) != 2 {
		t.Errorf("unpacked slugs after the rollback: %v, want 2", got)
	}
	// And a rollback to a collected slug unpacks it again.
	rels := s.hako(t, "releases", "-a", "big")
	if !strings.Contains(rels, "Deploy") {
		t.Fatalf("releases:\n%s", rels)
	}
	s.hako(t, "releases:rollback", "-a", "big", "v2")
	s.waitPath(t, "big", "/", "v1\n")
	t.Logf("run/ at the end: %d MiB", diskUse(t, run)>>20)
}

// slowPack installs, in the server's buildpacks directory, a pack whose
// compile step says so and then waits until the build directory holds a
// file named go-on (at most two minutes).
func (s *server) slowPack(t *testing.T) {
	t.Helper()
	dir := filepath.Join(s.home, "buildpacks", "slow", "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"detect":  "#!/bin/sh\necho Slow\n",
		"compile": "#!/bin/sh\necho '-----> Compiling slowly'\ni=0\nwhile [ ! -e \"$1/go-on\" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done\n",
		"release": "#!/bin/sh\necho '--- {}'\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// slowPush starts a push of a Procfile app built by the slow pack, with
// a file named marker so its checkout can be found, and returns once the
// compile step runs, with the push's output and its end.
func (s *server) slowPush(t *testing.T, app, marker string) (out *syncBuffer, done chan error) {
	t.Helper()
	s.slowPack(t)
	s.hako(t, "apps:create", app)
	dir := repo(t, "procfile-app")
	for name, body := range map[string]string{".buildpacks": "slow\n", marker: "x\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-qm", "slow")
	c := exec.Command("git", "push", fmt.Sprintf("ssh://git@127.0.0.1:%s/%s.git", s.sshPort, app), "main")
	c.Dir = dir
	c.Env = append(os.Environ(), "GIT_SSH_COMMAND="+s.sshCommand(s.key))
	out = &syncBuffer{}
	c.Stdout, c.Stderr = out, out
	c.WaitDelay = 5 * time.Second // ssh may hold the pipes after a kill
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan error, 1)
	go func() { done <- c.Wait() }()
	t.Cleanup(func() { _ = c.Process.Kill() })
	waitFor(t, 60*time.Second, "the compile step of "+app, func() bool {
		for _, l := range strings.FieldsFunc(out.String(), func(r rune) bool { return r == '\n' || r == '\r' }) {
			if strings.TrimRight(l, " \x1b[K") == "remote: -----> Compiling slowly" {
				return true
			}
		}
		return false
	}, func() string { return out.String() })
	return out, done
}

// buildLeftovers lists what a build in progress of the server keeps on
// disk: the checkout (found by marker), the build directories and git's
// quarantine of the pushed objects.
func (s *server) buildLeftovers(t *testing.T, app, marker string) []string {
	t.Helper()
	var found []string
	srcs, _ := filepath.Glob(filepath.Join(os.TempDir(), "hako-src-*", "src", marker))
	for _, m := range srcs {
		found = append(found, filepath.Dir(filepath.Dir(m)))
	}
	builds, _ := filepath.Glob(filepath.Join(s.home, "tmp", "build-*"))
	incoming, _ := filepath.Glob(filepath.Join(s.home, "repos", app+".git", "objects", "tmp_objdir-incoming-*"))
	return append(append(found, builds...), incoming...)
}

// TestSweepAfterKill kills a server with SIGKILL in the middle of a build
// and starts it again: the build's leftovers are gone, while those of
// another server's build in progress stay.
func TestSweepAfterKill(t *testing.T) {
	a, b := startServer(t), startServer(t)
	markA, markB := fmt.Sprintf("marker-a-%d", time.Now().UnixNano()), fmt.Sprintf("marker-b-%d", time.Now().UnixNano())
	_, doneA := a.slowPush(t, "victim", markA)
	outB, doneB := b.slowPush(t, "bystander", markB)
	leftA, leftB := a.buildLeftovers(t, "victim", markA), b.buildLeftovers(t, "bystander", markB)
	if len(leftA) != 3 || len(leftB) != 3 {
		t.Fatalf("a build in progress keeps %v and %v, want a checkout, a build directory and a quarantine each", leftA, leftB)
	}

	// kill -9 of the server and everything in its process group (git
	// receive-pack, the hook), as when its service is killed.
	if err := syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.done
	if err := <-doneA; err == nil {
		t.Error("the push to the killed server succeeded")
	}
	for _, p := range leftA {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("after the kill %s is already gone (%v): nothing to sweep", p, err)
		}
	}
	// The killed git processes are gone before the restart: a push still
	// running keeps its quarantine (for a few minutes).
	waitFor(t, 10*time.Second, "the killed push's processes to end", func() bool { return len(processesIn(a.home)) == 0 },
		func() string { return strings.Join(processesIn(a.home), "\n") })
	a.start()
	a.waitOwnInfo(t)
	for _, p := range leftA {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("leftover %s still there after the restart (%v); processes there: %v\n%s", p, err, processesIn(a.home), a.out.String())
		}
	}
	for _, p := range leftB {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the other server's %s was removed: %v", p, err)
		}
	}

	// The killed build's disk was unmounted before its directory went.
	if m := mountsUnder(t, filepath.Join(a.home, "tmp")); len(m) > 0 {
		t.Errorf("the killed build's disk is still mounted after the restart: %v", m)
	}

	// The other server's build goes on and succeeds. It builds the copy
	// of its source on its own disk, where it has one.
	srcB := filepath.Join(leftB[0], "src")
	if fi, err := os.Stat(filepath.Join(leftB[1], "disk", "src")); err == nil && fi.IsDir() {
		srcB = filepath.Join(leftB[1], "disk", "src")
	}
	if err := os.WriteFile(filepath.Join(srcB, "go-on"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-doneB:
		if err != nil {
			t.Errorf("push to the other server: %v\n%s", err, outB.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("push to the other server did not finish:\n%s", outB.String())
	}
	// And the restarted server builds as before.
	a.hako(t, "apps:info", "-a", "victim")
}

// waitOwnInfo waits until server.json is the running server's: a killed
// one leaves its own behind, and the new one writes it only once it has
// swept and is about to serve.
func (s *server) waitOwnInfo(t *testing.T) {
	t.Helper()
	waitFor(t, 20*time.Second, "server.json of the new server", func() bool {
		var info struct {
			PID int `json:"pid"`
		}
		b, err := os.ReadFile(filepath.Join(s.home, "server.json"))
		return err == nil && json.Unmarshal(b, &info) == nil && info.PID == s.cmd.Process.Pid
	})
}

// processesIn lists the processes working under dir, for messages.
func processesIn(dir string) []string {
	var found []string
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		cwd, err := os.Readlink(filepath.Join("/proc", p.Name(), "cwd"))
		if err == nil && strings.HasPrefix(cwd, dir) {
			cmd, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
			found = append(found, p.Name()+" "+strings.ReplaceAll(string(cmd), "\x00", " ")+" in "+cwd)
		}
	}
	return found
}
