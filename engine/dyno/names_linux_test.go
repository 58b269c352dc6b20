package dyno

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCgroupNamedByID checks that a dyno's cgroup, which other users of
// the host read in /proc/PID/cgroup and /sys/fs/cgroup, is named by a
// random id, never by its app or its process name.
func TestCgroupNamedByID(t *testing.T) {
	needRoot(t)
	sink := &memSink{}
	s := newSupervisor(t, sink, Options{Isolate: ModeNamespaces, MemoryLimit: 64 << 20})
	needCgroups(t, s)
	name := uniqueName("worker")
	sp := spec(t, "worker", name, `sed 's/^/cgroup: /' /proc/self/cgroup; echo done; exec sleep 1000`)
	sp.App = "secret-app-name"
	start(t, s, sp)
	waitFor(t, 20*time.Second, "the dyno's cgroup", func() bool { return len(sink.find("app", name, "done")) > 0 })
	lines := sink.find("app", name, "cgroup: ")
	if len(lines) == 0 {
		t.Fatalf("no cgroup lines:\n%s", sink.dump(name))
	}
	id := regexp.MustCompile(`/hako/[0-9a-f]{16}\.\d+\.\d+$`)
	named := false
	for _, l := range lines {
		if strings.Contains(l.s, "secret-app-name") || strings.Contains(l.s, name) {
			t.Errorf("the dyno's cgroup names it: %q", l.s)
		}
		named = named || id.MatchString(l.s)
	}
	if !named {
		t.Errorf("no cgroup named by an id (hako/HEX.PID.SEQ):\n%s", sink.dump(name))
	}
}

// TestNetworkRefusedDecides checks what happens where dynos cannot get
// their network (here: another server holds the subnet): --isolation
// required refuses to run dynos and says why, auto runs them in the
// host's network and says so.
func TestNetworkRefusedDecides(t *testing.T) {
	needRoot(t)
	if err := probeNetworkNamespace(testExe(t)); err != nil {
		t.Skipf("no network namespaces here: %v", err)
	}
	subnet := DefaultSubnet // this run's own (see reserveTestSubnet)
	bridge, _ := netNames(subnet)
	os.MkdirAll(lockDir, 0o700)
	// Another server's lock on the subnet.
	f, err := os.OpenFile(filepath.Join(lockDir, bridge+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	shared.Lock()
	_, inUse := shared.nets[subnet]
	shared.Unlock()
	if inUse {
		t.Skip("this process already holds the test subnet's network")
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Skipf("the test subnet is busy: %v", err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)

	req := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces, Subnet: subnet})
	if err := req.Refusal(); err == nil || !strings.Contains(err.Error(), "--isolation required, but dynos cannot get a network namespace here") {
		t.Errorf("--isolation required without a network: Refusal() = %v", err)
	}
	auto := newSupervisor(t, &memSink{}, Options{Isolate: ModeAuto, Subnet: subnet})
	if err := auto.Refusal(); err != nil {
		t.Errorf("--isolation auto without a network refuses: %v", err)
	}
	if got := auto.Isolation(); !strings.Contains(got, "NO network namespace") {
		t.Errorf("--isolation auto without a network: Isolation() = %q", got)
	}
}
