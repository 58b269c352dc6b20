//go:build !linux

package postgres

import "syscall"

// serverAttr is userAttr for the postmaster, in a process group of its
// own. Without a parent-death signal on this system, a killed hako leaves
// the server running; the next start stops it (see stopStale).
func serverAttr(l *layout) *syscall.SysProcAttr {
	a := userAttr(l)
	a.Setpgid = true
	return a
}
