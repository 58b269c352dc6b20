//go:build !linux

package postgres

import "syscall"

// userAttr runs a PostgreSQL program as the cluster's user when hako is
// root, without root's supplementary groups.
func userAttr(l *layout) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{}
	if l.asUser {
		a.Credential = &syscall.Credential{Uid: uint32(l.uid), Gid: uint32(l.gid), Groups: []uint32{}}
	}
	return a
}

// serverAttr is userAttr for the postmaster, in a process group of its
// own. Without a parent-death signal on this system, a killed hako leaves
// the server running; the next start stops it (see stopStale).
func serverAttr(l *layout) *syscall.SysProcAttr {
	a := userAttr(l)
	a.Setpgid = true
	return a
}
