package dyno

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// mountDisk mounts the ext4 image at the directory at (see disk.go)
// through a free loop device that detaches itself once the mount is gone,
// and lays out the dyno's writable directories on it: upper (uid:gid's)
// and work for /app's overlay, tmp for /tmp. It returns their paths.
func mountDisk(image, at string, uid, gid int) (upper, work, tmp string, err error) {
	if err := mountLoop(image, at); err != nil {
		return "", "", "", err
	}
	upper, work, tmp = filepath.Join(at, "upper"), filepath.Join(at, "work"), filepath.Join(at, "tmp")
	for _, d := range []struct {
		path string
		mode os.FileMode
		uid  int
		gid  int
	}{{upper, 0o755, uid, gid}, {work, 0o700, 0, 0}, {tmp, 0o777 | os.ModeSticky, 0, 0}} {
		if err := os.Mkdir(d.path, 0o700); err != nil {
			return "", "", "", fmt.Errorf("lay out the dyno's disk: %w", err)
		}
		if err := os.Chown(d.path, d.uid, d.gid); err != nil {
			return "", "", "", fmt.Errorf("lay out the dyno's disk: %w", err)
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			return "", "", "", fmt.Errorf("lay out the dyno's disk: %w", err)
		}
	}
	return upper, work, tmp, nil
}

// mountLoop attaches image to a free loop device and mounts it at dir.
func mountLoop(image, dir string) error { return mountLoopWith(image, dir, "") }

// mountLoopWith is mountLoop with ext4 mount options (data).
func mountLoopWith(image, dir, data string) error {
	img, err := os.OpenFile(image, os.O_RDWR|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("open the dyno's disk: %w", err)
	}
	defer img.Close()
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("no loop devices for the dyno's disk: %w", err)
	}
	defer ctl.Close()
	// Another process may take the free device between the two calls:
	// then ask again.
	for range 10 {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return fmt.Errorf("find a free loop device: %w", err)
		}
		dev := "/dev/loop" + strconv.Itoa(n)
		loop, err := os.OpenFile(dev, os.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", dev, err)
		}
		cfg := unix.LoopConfig{Fd: uint32(img.Fd()), Info: unix.LoopInfo64{Flags: unix.LO_FLAGS_AUTOCLEAR}}
		err = unix.IoctlLoopConfigure(int(loop.Fd()), &cfg)
		if errors.Is(err, unix.EBUSY) {
			loop.Close()
			continue
		}
		if err != nil {
			loop.Close()
			return fmt.Errorf("attach the dyno's disk to %s: %w", dev, err)
		}
		// The mount holds the device from here; closing ours lets it
		// detach itself when the mount goes.
		err = unix.Mount(dev, dir, "ext4", unix.MS_NOSUID|unix.MS_NODEV, data)
		loop.Close()
		if err != nil {
			return fmt.Errorf("mount the dyno's disk: %w", err)
		}
		return nil
	}
	return errors.New("attach the dyno's disk: every free loop device was taken meanwhile")
}

// readExtents reads the data of the sparse file at path, skipping its
// holes (SEEK_DATA, SEEK_HOLE).
func readExtents(path string) ([]extent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var ext []extent
	for off := int64(0); off < fi.Size(); {
		start, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // only a hole is left
		}
		if err != nil {
			return nil, err
		}
		end, err := unix.Seek(int(f.Fd()), start, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		data := make([]byte, end-start)
		if _, err := f.ReadAt(data, start); err != nil {
			return nil, err
		}
		ext = append(ext, extent{off: start, data: data})
		off = end
	}
	return ext, nil
}
