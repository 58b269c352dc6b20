//go:build !linux

package dyno

import "errors"

// readExtents needs SEEK_DATA; disks are for Linux's isolated dynos only.
func readExtents(path string) ([]extent, error) {
	return nil, errors.New("dyno disks need Linux")
}
