package dyno

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
)

// A dyno's disk. Each process of an isolated dyno writes, in /app (the
// overlay's upper layer) and /tmp together, to a filesystem of its own:
// a sparse file in its scratch directory, formatted ext4 and mounted by
// the dyno's init through a loop device in the dyno's mount namespace.
// The file takes on the host only what the dyno wrote, never more than
// the quota; past it the dyno gets ENOSPC, the host nothing. It goes
// with the scratch directory when the process ends (the loop device
// detaches itself once the namespace's mount is gone).
//
// Why not the alternatives: a tmpfs is charged to the dyno's memory
// cgroup, so a 2 GiB /tmp would meet the 512 MiB memory limit long
// before its size and a dyno filling it would be killed (R15) rather
// than get ENOSPC, and Heroku's /tmp is disk, not memory; ext4 and XFS
// project quotas need the host filesystem mounted with them (prjquota),
// which hako cannot assume of HAKO_HOME. Formatting a sparse 2 GiB file
// without a journal takes under a tenth of a second.

// DefaultDiskLimit is the size of a dyno's writable layer and /tmp.
const DefaultDiskLimit = 2 << 30

// diskImage is the name of a process's disk in its scratch directory,
// and diskMount where its init mounts it.
const (
	diskImage = "disk.img"
	diskMount = "disk"
)

// makeDiskImage creates a sparse file of size bytes at path holding a
// new ext4 filesystem (see formatDiskImage). The filesystem is formatted
// once per size and kept in memory as the few extents it wrote (about a
// megabyte for 2 GiB); each disk is then those extents written into a
// new sparse file, which takes a millisecond where running mkfs takes
// tens, on every dyno start and one-off.
func makeDiskImage(path string, size int64) error {
	ext, err := formattedDisk(filepath.Dir(path), size)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create the dyno's disk: %w", err)
	}
	err = f.Truncate(size)
	for _, e := range ext {
		if err == nil {
			_, err = f.WriteAt(e.data, e.off)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write the dyno's disk: %w", err)
	}
	return nil
}

// extent is a run of bytes a newly formatted disk holds at off; the rest
// of it is a hole.
type extent struct {
	off  int64
	data []byte
}

// formatted holds the extents of a newly formatted disk, by size.
var formatted struct {
	mu     sync.Mutex
	bySize map[int64][]extent
}

// formattedDisk returns the extents of a new disk of size bytes,
// formatting one in dir the first time.
func formattedDisk(dir string, size int64) ([]extent, error) {
	formatted.mu.Lock()
	defer formatted.mu.Unlock()
	if ext, ok := formatted.bySize[size]; ok {
		return ext, nil
	}
	f, err := os.CreateTemp(dir, ".format-*.img")
	if err != nil {
		return nil, fmt.Errorf("create the dyno's disk: %w", err)
	}
	f.Close()
	os.Remove(f.Name())
	defer os.Remove(f.Name())
	if err := formatDiskImage(f.Name(), size); err != nil {
		return nil, err
	}
	ext, err := readExtents(f.Name())
	if err != nil {
		return nil, fmt.Errorf("read the formatted disk: %w", err)
	}
	if formatted.bySize == nil {
		formatted.bySize = make(map[int64][]extent)
	}
	formatted.bySize[size] = ext
	return ext, nil
}

// formatDiskImage creates a sparse file of size bytes at path and formats
// it ext4: without a journal (the disk lives as long as the process, and
// a crash discards it anyway), with no blocks reserved for root, and
// with lazy inode tables so that formatting writes little.
func formatDiskImage(path string, size int64) error {
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		return fmt.Errorf("mkfs.ext4 is missing (Debian: apt-get install e2fsprogs)")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create the dyno's disk: %w", err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("size the dyno's disk: %w", err)
	}
	cmd := exec.Command(mkfs, "-q", "-F", "-O", "^has_journal", "-E", "nodiscard,lazy_itable_init=1", "-m", "0", path)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("format the dyno's disk of %s bytes: %w: %s", strconv.FormatInt(size, 10), err, bytes.TrimSpace(out))
	}
	return nil
}
