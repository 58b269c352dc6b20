package dyno

import (
	"syscall"
	"testing"
)

func TestSysProcAttr(t *testing.T) {
	tests := []struct {
		isolated bool
		flags    uintptr
	}{
		{true, syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC},
		{false, 0},
	}
	for _, tt := range tests {
		a := sysProcAttr(tt.isolated)
		if a.Cloneflags != tt.flags {
			t.Errorf("isolated=%v: Cloneflags = %#x, want %#x", tt.isolated, a.Cloneflags, tt.flags)
		}
		if !a.Setpgid || a.Pdeathsig != syscall.SIGKILL {
			t.Errorf("isolated=%v: Setpgid=%v Pdeathsig=%v, want a group of its own killed with the server",
				tt.isolated, a.Setpgid, a.Pdeathsig)
		}
	}
}
