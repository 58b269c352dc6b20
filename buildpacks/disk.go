package buildpacks

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// DiskMounter is implemented by a Sandbox that can give each build a
// disk of its own, so that what a build writes is capped as it is
// written rather than measured once it is done: a build writing many
// large files would otherwise fill the host's disk before any check ran.
// engine/dyno's supervisor implements it with a loop-mounted image.
type DiskMounter interface {
	// MountBuildDisk mounts the disk image at dir (making it size bytes
	// large where it is missing or of another size) and returns what
	// unmounts it.
	MountBuildDisk(image string, size int64, dir string) (unmount func() error, err error)
	// DiskFree returns the bytes left on the filesystem at dir: 0 once
	// it has no inodes left either.
	DiskFree(dir string) (int64, error)
}

// buildDiskImage is the build disk's image in an app's cache directory:
// the cache lives on it between builds (see engine/dyno's builddisk).
const buildDiskImage = "build-disk.img"

// diskSlack is how little room left on a build disk counts as full: a
// step that ran out of it leaves about this much, whatever it then does.
const diskSlack = 1 << 20

// buildDisk is a build's mounted disk.
type buildDisk struct {
	dir     string // where it is mounted
	size    int64
	m       DiskMounter
	unmount func() error
}

// The directories of a build disk: the app's cache, kept from build to
// build, and what one build uses, removed at its end.
const (
	diskCache   = "cache"
	diskSource  = "src"
	diskHome    = "home"
	diskScratch = "tmp"
)

// mountDisk puts the build onto a disk of its own when its sandbox gives
// one: it mounts the app's build disk (req.CacheDir's image, or one of
// this build's alone when there is no cache), copies the source onto it,
// and points the step's build, cache and HOME directories there. The
// host's cache directory keeps only the image; whatever else it holds is
// the cache of an older server, which the disk replaces.
func (bd *build) mountDisk() error {
	m, ok := bd.b.Sandbox.(DiskMounter)
	if !ok || !bd.b.Sandbox.Isolated() {
		return nil
	}
	s := bd.s
	image := filepath.Join(bd.tmp, buildDiskImage)
	if cache := bd.req.CacheDir; cache != "" {
		if err := ownCacheDir(cache); err != nil {
			return err
		}
		image = filepath.Join(cache, buildDiskImage)
	}
	d := &buildDisk{dir: filepath.Join(bd.tmp, "disk"), size: bd.b.Limits.WithDefaults().BuildBytes, m: m}
	if err := os.Mkdir(d.dir, 0o700); err != nil {
		return err
	}
	unmount, err := m.MountBuildDisk(image, d.size, d.dir)
	if err != nil {
		// As a dyno without its disk: the quota is lost, not the build
		// (a host without loop devices, a container, say).
		fmt.Fprintf(bd.out, "-----> Warning: no build disk on this server (%v); the build's files are bounded one by one\n", err)
		return nil
	}
	d.unmount, bd.disk = unmount, d
	// What a build killed with the server left, but the cache.
	for _, name := range []string{diskSource, diskHome, diskScratch} {
		if err := os.RemoveAll(filepath.Join(d.dir, name)); err != nil {
			return err
		}
	}
	for _, name := range []string{diskCache, diskSource, diskHome, diskScratch} {
		if err := os.MkdirAll(filepath.Join(d.dir, name), 0o755); err != nil {
			return err
		}
	}
	src := filepath.Join(d.dir, diskSource)
	cmd := exec.Command("cp", "-a", "--", s.buildDir+"/.", src)
	if out, err := cmd.CombinedOutput(); err != nil {
		if d.full() {
			return errDiskFull
		}
		return fmt.Errorf("copy the source onto the build disk: %w: %s", err, bytes.TrimSpace(out))
	}
	s.buildDir, s.cacheDir, s.home = src, filepath.Join(d.dir, diskCache), filepath.Join(d.dir, diskHome)
	bd.scratch = filepath.Join(d.dir, diskScratch)
	return nil
}

// ownCacheDir makes the app's cache directory the server's alone: it
// holds the image of the build disk, which no build step may write, and
// nothing else.
func ownCacheDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.Chown(dir, 0, 0); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != buildDiskImage && e.Name() != buildDiskImage+".lock" {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// errDiskFull is a build that filled its disk (see build.diskFailure).
var errDiskFull = fmt.Errorf("the build disk is full")

// full reports whether the disk has (nearly) no room left.
func (d *buildDisk) full() bool {
	free, err := d.m.DiskFree(d.dir)
	return err == nil && free < diskSlack
}

// release empties the disk of this build's files (and of the cache too
// when the build filled it, so that the next build has room), then
// unmounts it.
func (d *buildDisk) release(clearCache bool) error {
	names := []string{diskSource, diskHome, diskScratch}
	if clearCache {
		names = append(names, diskCache)
	}
	for _, name := range names {
		removeAll(filepath.Join(d.dir, name))
	}
	return d.unmount()
}

// diskFailure is what a build that filled its disk is told.
func (d *buildDisk) diskFailure() error {
	return fail(fmt.Sprintf("Push rejected: the build exceeded the %d MiB build disk (--build-disk).", d.size>>20),
		"The app's build cache was cleared. Leave out what the build does not need, or raise the server's --build-disk.")
}
