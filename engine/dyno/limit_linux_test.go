package dyno

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMemoryCgroup checks that a process hako starts outside a dyno (an
// add-on's server) can be held to a memory limit.
func TestMemoryCgroup(t *testing.T) {
	needRoot(t)
	cg, err := NewMemoryCgroup(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		cg.Remove()
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		cg.Remove()
		if _, err := os.Stat(cg.Dirs()[0]); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left after Remove: %v", cg.Dirs()[0], err)
		}
	}()
	if err := cg.Enter(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	procs, _ := os.ReadFile(filepath.Join(cg.Dirs()[0], "cgroup.procs"))
	if strings.TrimSpace(string(procs)) != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("cgroup.procs = %q, want the pid %d", procs, cmd.Process.Pid)
	}
	max, _ := os.ReadFile(filepath.Join(cg.Dirs()[0], "memory.max"))
	if cg.cg.v2 && strings.TrimSpace(string(max)) != strconv.Itoa(64<<20) {
		t.Errorf("memory.max = %q", max)
	}
}
