package dyno

import (
	"syscall"
	"testing"
)

func TestSysProcAttr(t *testing.T) {
	tests := []struct {
		isolated, tty bool
		flags         uintptr
		pgid, setsid  bool
	}{
		{true, false, namespaceFlags, true, false},
		{true, true, namespaceFlags, true, false}, // the init gives its command the terminal
		{false, false, 0, true, false},
		{false, true, 0, false, true},
	}
	for _, tt := range tests {
		a := sysProcAttr(tt.isolated, tt.tty)
		if a.Cloneflags != tt.flags {
			t.Errorf("isolated=%v tty=%v: Cloneflags = %#x, want %#x", tt.isolated, tt.tty, a.Cloneflags, tt.flags)
		}
		if a.Setpgid != tt.pgid || a.Setsid != tt.setsid || a.Setctty != tt.setsid || a.Pdeathsig != syscall.SIGKILL {
			t.Errorf("isolated=%v tty=%v: Setpgid=%v Setsid=%v Setctty=%v Pdeathsig=%v", tt.isolated, tt.tty, a.Setpgid, a.Setsid, a.Setctty, a.Pdeathsig)
		}
	}
	if namespaceFlags != syscall.CLONE_NEWPID|syscall.CLONE_NEWNS|syscall.CLONE_NEWUTS|syscall.CLONE_NEWIPC {
		t.Errorf("namespaceFlags = %#x", namespaceFlags)
	}
}
