//go:build !linux

package dyno

import "errors"

// MountBuildDisk needs Linux's loop devices: builds elsewhere have no
// disk of their own.
func (s *Supervisor) MountBuildDisk(image string, size int64, dir string) (func() error, error) {
	return nil, errors.New("build disks need Linux")
}

// DiskFree is for build disks, which need Linux.
func (s *Supervisor) DiskFree(dir string) (int64, error) {
	return 0, errors.New("build disks need Linux")
}

// UnmountUnder has nothing to do where builds have no disks.
func UnmountUnder(dir string) error { return nil }
