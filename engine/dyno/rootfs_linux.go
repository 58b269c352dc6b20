package dyno

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// devNodes are the device files a dyno's /dev shows, bound from the host.
var devNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

// buildRoot makes c.Root, a tmpfs, the dyno's root and moves into it: the
// host's system and PATH directories read-only, the slug on /app through
// an overlay whose writes land in the process's private upper directory
// (a build has no /app but c.Mounts instead), and /tmp, /proc and /dev of
// its own. It must run in a mount namespace
// whose mounts are private, so that none of this reaches the host. On
// error the caller stays in the host's root; the mounts already made
// vanish with the namespace.
func buildRoot(c rootConfig) error {
	if err := unix.Mount("tmpfs", c.Root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return fmt.Errorf("mount the root tmpfs: %w", err)
	}
	if err := populateRoot(c); err != nil {
		_ = unix.Unmount(c.Root, unix.MNT_DETACH)
		return err
	}
	return pivot(c.Root, c.App != "")
}

func populateRoot(c rootConfig) error {
	// /tmp comes before the binds: a PATH directory under it must not be
	// hidden by the private /tmp (mountPlan leaves such directories out,
	// this is only belt and braces).
	if err := mountTmp(&c); err != nil {
		return err
	}
	for _, dir := range c.Binds {
		if err := bindReadOnly(c.Root, dir); err != nil {
			return err
		}
	}
	if c.App != "" {
		opts := "lowerdir=" + overlayEscape(c.App) + ",upperdir=" + overlayEscape(c.Upper) + ",workdir=" + overlayEscape(c.Work)
		if err := mountAt(c.Root, appDir, "overlay", "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
			return err
		}
	}
	// After /tmp and the system directories, so that a path under them is
	// bound over them rather than hidden.
	for _, m := range c.Mounts {
		if err := bindHost(c.Root, m); err != nil {
			return err
		}
	}
	for _, o := range c.Overlays {
		// Without an index, an upper layer may later lie over another
		// lower one (a new toolchain's), which an index would refuse.
		opts := "lowerdir=" + overlayEscape(o.Lower) + ",upperdir=" + overlayEscape(o.Upper) + ",workdir=" + overlayEscape(o.Work) + ",index=off"
		if err := mountAt(c.Root, o.Path, "overlay", "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
			return err
		}
	}
	if err := mountAt(c.Root, "/proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	return buildDev(c.Root, c.TTY, c.UID, c.GID)
}

// mountTmp gives the root its /tmp: with a disk (see disk.go), a
// directory of it, which /app's writable layer then shares; else a
// tmpfs. A disk that cannot be mounted costs the quota, not the private
// root: the dyno is told on its stderr.
func mountTmp(c *rootConfig) error {
	if c.Disk != "" {
		upper, work, tmp, err := mountDisk(c.Disk, filepath.Join(filepath.Dir(c.Disk), diskMount), c.UID, c.GID)
		if err == nil {
			c.Upper, c.Work = upper, work
			target := filepath.Join(c.Root, "/tmp")
			if err = os.MkdirAll(target, 0o755); err == nil {
				err = unix.Mount(tmp, target, "", unix.MS_BIND, "")
			}
			if err == nil {
				return unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_NOSUID|unix.MS_NODEV, "")
			}
		}
		fmt.Fprintf(os.Stderr, "dyno-init: no disk quota, /app and /tmp are unbounded: %v\n", err)
	}
	return mountAt(c.Root, "/tmp", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777")
}

// mountAt mounts a filesystem on path inside root, creating the mount
// point.
func mountAt(root, path, source, fstype string, flags uintptr, data string) error {
	target := filepath.Join(root, path)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype, path, err)
	}
	return nil
}

// bindReadOnly shows the host's dir at the same path inside root,
// read-only, without setuid programs or device files. A symbolic link
// (/bin -> usr/bin on merged-/usr systems) is copied as a link; a missing
// directory is skipped.
func bindReadOnly(root, dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("look at %s: %w", dir, err)
	}
	target := filepath.Join(root, dir)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		link, err := os.Readlink(dir)
		if err == nil {
			err = os.Symlink(link, target)
		}
		if err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("link %s: %w", dir, err)
		}
		return nil
	}
	if !fi.IsDir() {
		return nil
	}
	if err := os.Mkdir(target, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := unix.Mount(dir, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", dir, err)
	}
	const ro = unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV
	if err := unix.Mount("", target, "", ro, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", dir, err)
	}
	// The remount covers the top mount only; mounts below it (/etc/hosts
	// in a container, say) are made read-only where the kernel can.
	_ = unix.MountSetattr(-1, target, unix.AT_RECURSIVE, &unix.MountAttr{
		Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV,
	})
	return nil
}

// bindHost shows the host's m.Path at the same path inside root, without
// setuid programs or device files, read-only unless m.Writable. Unlike
// the system directories, a path that is missing is an error: the caller
// asked for it.
func bindHost(root string, m bindMount) error {
	fi, err := os.Stat(m.Path)
	if err != nil {
		return fmt.Errorf("bind %s: %w", m.Path, err)
	}
	target := filepath.Join(root, m.Path)
	if fi.IsDir() {
		err = os.MkdirAll(target, 0o755)
	} else if err = os.MkdirAll(filepath.Dir(target), 0o755); err == nil {
		var f *os.File
		if f, err = os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o644); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("create the mount point of %s: %w", m.Path, err)
	}
	if err := unix.Mount(m.Path, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", m.Path, err)
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_NOSUID | unix.MS_NODEV)
	attr := uint64(unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV)
	if !m.Writable {
		flags |= unix.MS_RDONLY
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		return fmt.Errorf("restrict the bind of %s: %w", m.Path, err)
	}
	_ = unix.MountSetattr(-1, target, unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr})
	return nil
}

// buildDev makes a minimal /dev: the harmless devices bound from the
// host, a /dev/shm of its own and the usual links into /proc, and the
// one-off dyno's own terminal, given to its user, when it has one.
func buildDev(root, tty string, uid, gid int) error {
	dev := filepath.Join(root, "dev")
	if err := mountAt(root, "/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755"); err != nil {
		return err
	}
	for _, name := range devNodes {
		host := "/dev/" + name
		if _, err := os.Stat(host); err != nil {
			continue
		}
		target := filepath.Join(dev, name)
		f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o666)
		if err != nil {
			return fmt.Errorf("create /dev/%s: %w", name, err)
		}
		f.Close()
		if err := unix.Mount(host, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s: %w", name, err)
		}
	}
	if err := mountAt(root, "/dev/shm", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		return err
	}
	if name, ok := strings.CutPrefix(tty, "/dev/pts/"); ok && name != "" && !strings.Contains(name, "/") {
		if err := os.Mkdir(filepath.Join(dev, "pts"), 0o755); err != nil {
			return fmt.Errorf("create /dev/pts: %w", err)
		}
		target := filepath.Join(dev, "pts", name)
		f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o620)
		if err != nil {
			return fmt.Errorf("create %s: %w", tty, err)
		}
		f.Close()
		if err := unix.Mount(tty, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", tty, err)
		}
		if err := os.Chown(target, uid, gid); err != nil {
			return fmt.Errorf("give %s to the dyno user: %w", tty, err)
		}
	}
	for name, to := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
	} {
		if err := os.Symlink(to, filepath.Join(dev, name)); err != nil {
			return fmt.Errorf("link /dev/%s: %w", name, err)
		}
	}
	return nil
}

// pivot makes root the root of the mount namespace and drops the host's
// root from it, so that no path leads back there. A dyno then starts in
// /app; a build in the directory its init enters afterwards.
func pivot(root string, app bool) error {
	const old = ".old-root"
	if err := os.Mkdir(filepath.Join(root, old), 0o700); err != nil {
		return fmt.Errorf("create the old root's mount point: %w", err)
	}
	if err := unix.PivotRoot(root, filepath.Join(root, old)); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("enter the new root: %w", err)
	}
	// From here on the dyno is in its root: a failure leaves it there.
	if err := unix.Unmount("/"+old, unix.MNT_DETACH); err != nil {
		fmt.Fprintf(os.Stderr, "dyno-init: detach the host's root: %v\n", err)
	} else {
		_ = os.Remove("/" + old)
	}
	if !app {
		return nil
	}
	if err := unix.Chdir(appDir); err != nil {
		fmt.Fprintf(os.Stderr, "dyno-init: enter %s: %v\n", appDir, err)
	}
	return nil
}
