package postgres

import "syscall"

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
