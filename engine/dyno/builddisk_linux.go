package dyno

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// A build's disk. Every directory a build step writes (the source it
// builds, its cache, its HOME and scratch) lies on a filesystem of the
// build's own, the size of --build-disk: the same sparse ext4 image
// behind a loop device as a dyno's disk (see disk.go), mounted this time
// in the server's mount namespace, because the builder itself reads and
// writes there between steps (the source copied in, the slug packed).
// A build that writes past it gets ENOSPC mid-step, the host nothing.
//
// The image is the app's build cache's, kept between builds (the cache
// stays on it; the rest is removed after each build), so that a build
// never copies its cache in and out. It is mounted with online discard,
// so that what a build removes is given back to the host.

// MountBuildDisk mounts the disk image at dir, making it size bytes
// large first where it is missing, of another size, or unreadable (a
// crash left it so: only a cache is lost). It returns a function that
// unmounts it. It needs the isolation builds get (root).
//
// An image is mounted once at a time (IMAGE.lock is held meanwhile): two
// servers sharing build caches (ephemeral ones do) may build the same app
// at once, and an ext4 mounted twice is soon a broken one. The build that
// finds it taken gets a new disk beside dir instead, without the cache.
func (s *Supervisor) MountBuildDisk(image string, size int64, dir string) (unmount func() error, err error) {
	if !s.Isolated() {
		return nil, errors.New("build disks need isolated builds")
	}
	lock, err := os.OpenFile(image+".lock", os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the build disk: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		lock = nil
		image = filepath.Join(filepath.Dir(dir), filepath.Base(image))
	}
	unlock := func() {
		if lock != nil {
			lock.Close()
		}
	}
	umount, err := mountBuildDisk(image, size, dir)
	if err != nil {
		unlock()
		return nil, err
	}
	return func() error { defer unlock(); return umount() }, nil
}

// mountBuildDisk is MountBuildDisk once the image is this build's.
func mountBuildDisk(image string, size int64, dir string) (unmount func() error, err error) {
	fresh := false
	if fi, err := os.Lstat(image); err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		if err := os.RemoveAll(image); err != nil {
			return nil, fmt.Errorf("replace the build disk: %w", err)
		}
		if err := makeDiskImage(image, size); err != nil {
			return nil, err
		}
		fresh = true
	}
	err = mountLoopWith(image, dir, "discard")
	if err != nil && !fresh {
		os.Remove(image)
		if err = makeDiskImage(image, size); err == nil {
			err = mountLoopWith(image, dir, "discard")
		}
	}
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		unmountDisk(dir)
		return nil, fmt.Errorf("the build disk: %w", err)
	}
	return func() error { return unmountDisk(dir) }, nil
}

// unmountDisk unmounts the disk at dir; the loop device goes with it.
// A disk still busy (a step's process the kernel has not reaped yet) is
// detached, and goes once that process does.
func unmountDisk(dir string) error {
	err := unix.Unmount(dir, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(dir, unix.MNT_DETACH)
	}
	if err != nil && !errors.Is(err, unix.EINVAL) { // EINVAL: not mounted
		return fmt.Errorf("unmount the build disk: %w", err)
	}
	return nil
}

// DiskFree returns the bytes left on the filesystem at dir, or 0 once it
// has (nearly) no inodes left: many small files fill a disk too.
func (s *Supervisor) DiskFree(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("measure the build disk: %w", err)
	}
	if st.Files > 0 && st.Ffree < 16 {
		return 0, nil
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// UnmountUnder unmounts every mount below dir, deepest first: the build
// disks a server killed mid-build left, before its successor removes
// their directories (which would otherwise empty the caches on them and
// fail at the mount points).
func UnmountUnder(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	prefix := filepath.Clean(dir) + "/"
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		p := unescapeMountPath(f[4])
		if strings.HasPrefix(p, prefix) {
			points = append(points, p)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs error
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = errors.Join(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errs
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			v := (int(s[i+1]-'0') << 6) | (int(s[i+2]-'0') << 3) | int(s[i+3]-'0')
			b.WriteByte(byte(v))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
