package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// outside is a network namespace a test makes to stand for the world
// outside the machine (a package registry, a git host): joined to the
// host by a veth pair of its own, it is where dynos and builds reach
// through NAT. Tests send traffic only to its address, never to another
// address of the machine.
type outside struct {
	name string // of the namespace, for ip netns
	addr string // its address, on eth0
}

// newOutside makes an outside namespace, removed when the test ends. It
// needs root; under CI a test that cannot have one fails.
func newOutside(t *testing.T) *outside {
	t.Helper()
	need(t, "ip")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("an outside network namespace needs root under CI")
		}
		t.Skip("an outside network namespace needs root")
	}
	n := reserveIndex(t, "10.215")
	o := &outside{name: fmt.Sprintf("hako-e2e-out-%d", n), addr: fmt.Sprintf("10.215.%d.2", n)}
	hostIf := fmt.Sprintf("hkout%d", n)
	// What a killed test run left under these names goes first.
	_ = exec.Command("ip", "netns", "del", o.name).Run()
	_ = exec.Command("ip", "link", "del", hostIf).Run()
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", o.name).Run()
		_ = exec.Command("ip", "link", "del", hostIf).Run()
	})
	for _, args := range [][]string{
		{"netns", "add", o.name},
		{"link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", o.name},
		{"addr", "add", fmt.Sprintf("10.215.%d.1/30", n), "dev", hostIf},
		{"link", "set", hostIf, "up"},
		{"-n", o.name, "addr", "add", o.addr + "/30", "dev", "eth0"},
		{"-n", o.name, "link", "set", "eth0", "up"},
		{"-n", o.name, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return o
}

// start runs argv in the namespace until the test ends.
func (o *outside) start(t *testing.T, argv ...string) {
	t.Helper()
	c := exec.Command("ip", append([]string{"netns", "exec", o.name}, argv...)...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		_ = c.Wait()
	})
}

// serve runs a server in the namespace with start and waits until it
// accepts connections on port.
func (o *outside) serve(t *testing.T, port string, argv ...string) string {
	t.Helper()
	o.start(t, argv...)
	addr := net.JoinHostPort(o.addr, port)
	waitFor(t, 10*time.Second, argv[0]+" to listen in the outside namespace", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

// httpServer serves dir over HTTP from the namespace and returns its
// address.
func (o *outside) httpServer(t *testing.T, dir string) string {
	t.Helper()
	need(t, "python3")
	port := freePort(t)
	return o.serve(t, port, "python3", "-m", "http.server", port, "--bind", o.addr, "--directory", dir)
}

// reserveIndex returns a number from 0 to 255 that no other test holds
// under prefix, held until the test ends (see reserveSubnet).
func reserveIndex(t *testing.T, prefix string) int {
	t.Helper()
	if err := os.MkdirAll(subnetLocks, 0o755); err != nil {
		t.Fatal(err)
	}
	for n := range 256 {
		f, err := os.OpenFile(filepath.Join(subnetLocks, fmt.Sprintf("%s.%d.lock", prefix, n)), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			f.Close()
			continue
		}
		t.Cleanup(func() { f.Close() })
		return n
	}
	t.Fatalf("every %s test network is taken", prefix)
	return 0
}
