//go:build unix

package userfs

import (
	"os"
	"syscall"
)

// ids returns a file's owner and group.
func ids(fi os.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}
