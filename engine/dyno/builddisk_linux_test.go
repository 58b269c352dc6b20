package dyno

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestBuildDisk checks a build's disk: writes past its size get ENOSPC
// and take no more than the size on the host; what is kept on it (the
// cache) is there at the next mount, and what is removed goes back to
// the host; a second mount of an image in use gets a disk of its own;
// nothing stays mounted.
func TestBuildDisk(t *testing.T) {
	needRoot(t)
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces, ScratchDir: t.TempDir()})
	const size = 32 << 20
	cache, work := t.TempDir(), t.TempDir()
	image := filepath.Join(cache, "build-disk.img")
	dir := filepath.Join(work, "a")
	os.Mkdir(dir, 0o700)
	unmount, err := s.MountBuildDisk(image, size, dir)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<20)
	var werr error
	f, err := os.Create(filepath.Join(dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 64 && werr == nil; i++ {
		_, werr = f.Write(big)
	}
	f.Close()
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Errorf("writing 64 MiB on a 32 MiB disk: %v, want ENOSPC", werr)
	}
	if free, err := s.DiskFree(dir); err != nil || free >= 1<<20 {
		t.Errorf("DiskFree of a full disk = %d, %v", free, err)
	}
	if u := allocated(t, image); u > size+(1<<20) {
		t.Errorf("the image takes %d bytes on the host, more than the disk's size", u)
	}

	// Meanwhile a second build of the same image gets a disk of its own.
	other := filepath.Join(work, "b")
	os.Mkdir(other, 0o700)
	unmountOther, err := s.MountBuildDisk(image, size, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(other, "big")); !os.IsNotExist(err) {
		t.Errorf("a second mount of an image in use shows its files: %v", err)
	}
	if err := unmountOther(); err != nil {
		t.Fatal(err)
	}

	// What stays is there next time; what went is given back.
	os.Remove(filepath.Join(dir, "big"))
	os.WriteFile(filepath.Join(dir, "kept"), []byte("cache"), 0o644)
	if err := unmount(); err != nil {
		t.Fatal(err)
	}
	if u := allocated(t, image); u > 8<<20 {
		t.Errorf("the image still takes %d bytes on the host after its files went", u)
	}
	if m := mountedUnder(t, work); len(m) > 0 {
		t.Errorf("left mounted: %v", m)
	}
	unmount, err = s.MountBuildDisk(image, size, dir)
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "kept")); err != nil || string(data) != "cache" {
		t.Errorf("the kept file: %q, %v", data, err)
	}
	unmount()
	// Another size: a new disk.
	unmount, err = s.MountBuildDisk(image, 2*size, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kept")); !os.IsNotExist(err) {
		t.Errorf("a disk of another size kept the old one's files: %v", err)
	}
	unmount()
	if m := mountedUnder(t, work); len(m) > 0 {
		t.Errorf("left mounted: %v", m)
	}
}

// TestUnmountUnder checks that the disks a killed server left mounted
// are unmounted, deepest first, and their directories then removable.
func TestUnmountUnder(t *testing.T) {
	needRoot(t)
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces, ScratchDir: t.TempDir()})
	work := t.TempDir()
	dir := filepath.Join(work, "build-1", "disk")
	os.MkdirAll(dir, 0o700)
	if _, err := s.MountBuildDisk(filepath.Join(t.TempDir(), "img"), 16<<20, dir); err != nil {
		t.Fatal(err)
	}
	if err := UnmountUnder(work); err != nil {
		t.Fatal(err)
	}
	if m := mountedUnder(t, work); len(m) > 0 {
		t.Errorf("left mounted: %v", m)
	}
	if err := os.RemoveAll(filepath.Join(work, "build-1")); err != nil {
		t.Error(err)
	}
}

func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

func mountedUnder(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	return out
}

// BenchmarkBuildDisk measures what a build's disk costs each build: the
// mount of the app's image (made once) and its unmount.
//
//	go test ./engine/dyno -run '^$' -bench BuildDisk
func BenchmarkBuildDisk(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("loop devices need root")
	}
	exe, _ := filepath.Abs(os.Args[0])
	s := New(Options{Exe: exe, Isolate: ModeNamespaces, ScratchDir: b.TempDir(), Network: NetworkHost})
	if !s.Isolated() {
		b.Skip("no isolation here")
	}
	image, dir := filepath.Join(b.TempDir(), "build-disk.img"), b.TempDir()
	for b.Loop() {
		unmount, err := s.MountBuildDisk(image, 4<<30, dir)
		if err != nil {
			b.Fatal(err)
		}
		if err := unmount(); err != nil {
			b.Fatal(err)
		}
	}
}
