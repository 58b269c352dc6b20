package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// filler is a buildpack that writes 1 MiB files, 400 of them if it can,
// into every directory a build may write (the build, its cache, HOME),
// carrying on past every failure, and then claims success: a pack
// filling the host's disk mid-build, whose own exit status says nothing.
const fillerCompile = `#!/bin/sh
n=0
for i in $(seq 1 400); do
	for d in "$1" "$2" "$HOME"; do
		if dd if=/dev/zero of="$d/fill-$i" bs=1M count=1 2>/dev/null; then n=$((n + 1)); fi
	done
done
echo "       filler wrote $n files"
exit 0
`

// TestBuildDiskQuota pushes, with --build-disk 64, an app whose pack
// writes files past the limit: the server's home never grows by much
// more than the limit while the build runs (it would by 1.2 GB without
// the build's disk), the push is refused with the limit in the message,
// the previous release keeps serving, no mount or loop device is left,
// and the app's next push builds (the full disk was emptied).
func TestBuildDiskQuota(t *testing.T) {
	needRootE2E(t)
	need(t, "python3", "dd")
	s := startServer(t, "--build-disk", "64")
	app := "filled"
	s.hako(t, "apps:create", app)
	src := repo(t, "procfile-app")
	if out, err := s.push(src, s.key, app, "main"); err != nil {
		t.Fatalf("first push: %v\n%s", err, out)
	}
	s.waitBody(t, app, "hello from procfile")

	pack := filepath.Join(s.home, "buildpacks", "filler")
	for name, body := range map[string]string{"bin/detect": "#!/bin/sh\necho filler\n", "bin/compile": fillerCompile} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(pack, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pack, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	commitFile(t, src, ".buildpacks", "filler\nprocfile\n")

	// What the server's home takes on the host's disk, polled all along
	// the push.
	base := hostUse(s.home)
	var mu sync.Mutex
	peak := base
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			if n := hostUse(s.home); n > peak {
				mu.Lock()
				peak = n
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	out, err := s.push(src, s.key, app, "main")
	close(stop)
	<-polled
	if err == nil {
		t.Fatalf("the push that filled its build disk was accepted:\n%s", out)
	}
	if !hasRemoteLine(out, " !     Push rejected: the build exceeded the 64 MiB build disk (--build-disk).") {
		t.Errorf("want the build disk's refusal:\n%s", out)
	}
	if !hasLineMatch(out, `remote:\s+filler wrote \d+ files\s*`) || hasRemoteLine(out, "       filler wrote 1200 files") {
		t.Errorf("the filler did not run, or wrote all it wanted:\n%s", out)
	}
	grown := (peak - base) >> 20
	t.Logf("the server's home grew by at most %d MiB on the host's disk during the build", grown)
	if grown > 64+32 {
		t.Errorf("the server's home grew by %d MiB during the build, past the 64 MiB build disk", grown)
	}
	s.waitBody(t, app, "hello from procfile")
	if got := s.hako(t, "releases", "-a", app); hasLineMatch(got, `v3\s.*`) {
		t.Errorf("the refused build left a release:\n%s", got)
	}
	// The web dyno of v2 keeps its own disk (under run/); builds' disks
	// lie in cache/ and are mounted in tmp/.
	left := func() []string {
		var l []string
		for _, d := range []string{"tmp", "cache"} {
			dir := filepath.Join(s.home, d)
			l = append(append(l, mountsUnder(t, dir)...), loopsUnder(t, dir)...)
		}
		return l
	}
	waitFor(t, 10*time.Second, "no mount or loop device of a build", func() bool { return len(left()) == 0 },
		func() string { return strings.Join(left(), "\n") })

	// The disk was emptied: a build that fits goes through.
	commitFile(t, src, ".buildpacks", "procfile\n")
	if out, err := s.push(src, s.key, app, "main"); err != nil || !hasRemoteLine(out, "       Released v3") {
		t.Fatalf("the next push: %v\n%s", err, out)
	}
}

// mountsUnder lists the mount points below dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, "mount "+f[4])
		}
	}
	return out
}

// loopsUnder lists the loop devices backed by a file below dir.
func loopsUnder(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(data)), dir+"/") {
			out = append(out, "loop "+f+" "+strings.TrimSpace(string(data)))
		}
	}
	return out
}

// hostUse is what the files below dir take on its filesystem, the
// host's: filesystems mounted below it (a build's disk, whose image is
// counted where it lies) are left out.
func hostUse(dir string) int64 {
	var root syscall.Stat_t
	if syscall.Stat(dir, &root) != nil {
		return 0
	}
	var total int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		var st syscall.Stat_t
		if err != nil || syscall.Lstat(p, &st) != nil {
			return nil
		}
		if st.Dev != root.Dev {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		total += st.Blocks * 512
		return nil
	})
	return total
}

// TestStopDuringBuild stops the server (SIGINT) while a build runs on
// its disk: the server ends cleanly and leaves the disk neither mounted
// nor attached to a loop device.
func TestStopDuringBuild(t *testing.T) {
	needRootE2E(t)
	s := startServer(t)
	s.slowPush(t, "halted", fmt.Sprintf("marker-%d", time.Now().UnixNano()))
	tmp := filepath.Join(s.home, "tmp")
	if len(mountsUnder(t, tmp)) == 0 {
		t.Fatal("the build in progress has no disk mounted")
	}
	s.stop()
	left := func() []string { return append(mountsUnder(t, tmp), loopsUnder(t, filepath.Join(s.home, "cache"))...) }
	if m := mountsUnder(t, tmp); len(m) > 0 {
		t.Errorf("mounted after the server stopped mid-build: %v", m)
	}
	// The loop device goes once the build step's processes, which die
	// with the server, are gone.
	waitFor(t, 10*time.Second, "the build disk's loop device to go", func() bool { return len(left()) == 0 },
		func() string { return strings.Join(left(), "\n") })
}
