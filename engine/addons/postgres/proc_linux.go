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

// serverAttr is userAttr for the postmaster: in a process group of its own,
// so that a terminal's Ctrl-C reaches hako (which stops it in order) and
// not the server, and with SIGINT (fast shutdown) as its parent-death
// signal, so that it does not outlive a killed hako.
func serverAttr(l *layout) *syscall.SysProcAttr {
	a := userAttr(l)
	a.Setpgid = true
	a.Pdeathsig = syscall.SIGINT
	return a
}
