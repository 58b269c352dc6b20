//go:build unix

package engine

import (
	"io/fs"
	"syscall"
)

// fileID names a file across hard links.
type fileID struct{ dev, ino uint64 }

// allocated returns the bytes fi takes on disk, and, for a file with
// several links, its identity so that it is counted once.
func allocated(fi fs.FileInfo) (int64, fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fi.Size(), fileID{}, false
	}
	return int64(st.Blocks) * 512, fileID{uint64(st.Dev), uint64(st.Ino)}, !fi.IsDir() && st.Nlink > 1
}
