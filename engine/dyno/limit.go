package dyno

import (
	"errors"
	"os"
)

// MemoryCgroup holds a process hako starts outside any dyno (an add-on's
// server) to a memory limit, so that what an app makes it use (a Redis
// filled by a dyno) is bounded like the dyno itself. It is named and
// swept like a dyno's cgroup (see sandboxName).
type MemoryCgroup struct{ cg *cgroup }

// NewMemoryCgroup makes a cgroup limited to memMax bytes, without swap.
// It fails where hako cannot make cgroups (not root, no memory
// controller); the caller then runs its process unbounded and says so.
func NewMemoryCgroup(memMax int64) (*MemoryCgroup, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("cgroups need root")
	}
	h, err := detectCgroups(cgroupMount)
	if err != nil {
		return nil, err
	}
	cg, err := h.create(sandboxName(os.Getpid(), sandboxSeq.Add(1)), memMax, 0)
	if err != nil {
		return nil, err
	}
	return &MemoryCgroup{cg: cg}, nil
}

// Enter moves process pid into the cgroup.
func (m *MemoryCgroup) Enter(pid int) error { return m.cg.enter(pid) }

// Dirs are the cgroup's directories, for tests and diagnostics.
func (m *MemoryCgroup) Dirs() []string { return m.cg.dirs }

// Remove deletes the cgroup once its processes are gone.
func (m *MemoryCgroup) Remove() { m.cg.remove() }
