//go:build unix

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
