package dyno

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hako/engine"
)

// TestDiskQuota checks that a dyno writing past its disk quota, in /app
// and in /tmp, gets ENOSPC, and that its disk takes no more than the
// quota on the host; the disk goes with the dyno.
func TestDiskQuota(t *testing.T) {
	needRoot(t)
	sink := &memSink{}
	scratch := t.TempDir()
	s := newSupervisor(t, sink, Options{Isolate: ModeNamespaces, ScratchDir: scratch, DiskLimit: 32 << 20})
	if got := s.Isolation(); !strings.Contains(got, "; disk quota 32 MiB for /app and /tmp") {
		t.Errorf("Isolation() = %q", got)
	}
	name := uniqueName("worker")
	d := start(t, s, spec(t, "worker", name, `dd if=/dev/zero of=/app/big bs=1M count=64 2>&1 | grep -o 'No space left on device' | head -1 | sed 's/^/app: /'
rm -f /app/big
dd if=/dev/zero of=/tmp/big bs=1M count=64 2>&1 | grep -o 'No space left on device' | head -1 | sed 's/^/tmp: /'
df -k /tmp | tail -1 | awk '{print "tmp size ok:", ($2 < 40000)}'
echo done; exec sleep 1000`))
	waitFor(t, 30*time.Second, "the dyno's writes", func() bool { return len(sink.find("app", name, "done")) > 0 })
	for _, line := range []string{"app: No space left on device", "tmp: No space left on device", "tmp size ok: 1"} {
		if len(sink.find("app", name, line)) != 1 {
			t.Errorf("no line %q from the dyno:\n%s", line, sink.dump(name))
		}
	}
	imgs, _ := filepath.Glob(filepath.Join(scratch, "*", diskImage))
	if len(imgs) != 1 {
		t.Fatalf("disk images: %v", imgs)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(imgs[0], &st); err != nil || st.Blocks*512 > 33<<20 {
		t.Errorf("the disk takes %d bytes on the host (%v), want at most the quota", st.Blocks*512, err)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(imgs[0]); !os.IsNotExist(err) {
		t.Errorf("disk image left after Stop: %v", err)
	}
}

// TestDiskImageFromFormat checks that disks written from the one format
// kept in memory are whole, clean ext4 filesystems of their own size,
// sparse on the host, and that what one disk holds never reaches the
// next.
func TestDiskImageFromFormat(t *testing.T) {
	for _, tool := range []string{"e2fsck", "mkfs.ext4"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required in CI", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	dir := t.TempDir()
	check := func(img string, size int64) {
		t.Helper()
		out, err := exec.Command("e2fsck", "-n", "-f", img).CombinedOutput()
		if err != nil {
			t.Fatalf("e2fsck %s: %v\n%s", img, err, out)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(img, &st); err != nil {
			t.Fatal(err)
		}
		if st.Size != size || st.Blocks*512 > 4<<20 {
			t.Errorf("%s: size %d, %d bytes on the host; want %d, sparse", img, st.Size, st.Blocks*512, size)
		}
	}
	a, b, c := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img"), filepath.Join(dir, "c.img")
	for _, img := range []string{a, b} {
		if err := makeDiskImage(img, 64<<20); err != nil {
			t.Fatal(err)
		}
		check(img, 64<<20)
	}
	// A write to one disk (as a dyno's would be) leaves the next clean.
	f, err := os.OpenFile(a, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xff}, 4096), 1024); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := makeDiskImage(c, 96<<20); err != nil {
		t.Fatal(err)
	}
	check(c, 96<<20)
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	if err := makeDiskImage(b, 64<<20); err != nil {
		t.Fatal(err)
	}
	check(b, 64<<20)
	if left, _ := filepath.Glob(filepath.Join(dir, ".format-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestBuildFileLimit checks that a build step cannot write a file past
// BuildFileLimit.
func TestBuildFileLimit(t *testing.T) {
	needRoot(t)
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces, BuildFileLimit: 1 << 20})
	w := t.TempDir()
	var out bytes.Buffer
	cmd, done, err := s.Command(context.Background(), engine.SandboxSpec{
		Name: "fsize", Argv: []string{"sh", "-c", "dd if=/dev/zero of=big bs=64k count=64 2>/dev/null; echo status $?"},
		Env: []string{"PATH=" + os.Getenv("PATH")}, Dir: w, Writable: []string{w},
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	done()
	// dd dies of SIGXFSZ: 128+25.
	if err != nil || strings.TrimSpace(out.String()) != "status 153" {
		t.Errorf("Run = %v, output %q, want dd killed by SIGXFSZ", err, out.String())
	}
	if fi, err := os.Stat(filepath.Join(w, "big")); err != nil || fi.Size() > 1<<20 {
		t.Errorf("the step wrote %d bytes (%v), want at most 1 MiB", fi.Size(), err)
	}
}
