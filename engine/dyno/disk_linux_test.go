package dyno

import (
	"bytes"
	"context"
	"os"
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
