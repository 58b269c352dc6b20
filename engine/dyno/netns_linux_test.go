package dyno

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"hako/engine"
)

// reserveTestSubnet points DefaultSubnet at a subnet no other test
// process on the machine uses (10.216.N.0/24, held by a lock), so that
// this package's supervisors, which share one network per process, do
// not meet another run's; it returns what removes the network at the
// end. Without root it does nothing.
func reserveTestSubnet() func() {
	if os.Geteuid() != 0 {
		return func() {}
	}
	dir := "/run/hako-e2e"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return func() {}
	}
	for n := range 256 {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("10.216.%d.lock", n)), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return func() {}
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			f.Close()
			continue
		}
		DefaultSubnet = netip.MustParsePrefix(fmt.Sprintf("10.216.%d.0/24", n))
		return func() {
			shared.Lock()
			for p, sn := range shared.nets {
				sn.n.close()
				delete(shared.nets, p)
			}
			shared.Unlock()
			f.Close()
		}
	}
	return func() {}
}

// TestWebDynoOwnNetwork starts a web dyno listening on every address of
// its namespace: it is reached at its own address in the subnet, not on
// the host's loopback, and its host-side veth end is an isolated port of
// the bridge, gone with the dyno.
func TestWebDynoOwnNetwork(t *testing.T) {
	needRoot(t)
	s := New(Options{Isolate: ModeNamespaces, Exe: testExe(t), StopGrace: time.Second})
	if s.net == nil {
		t.Fatalf("no network: %s", s.Isolation())
	}
	if !strings.Contains(s.Isolation(), "each in its own network namespace on "+s.net.prefix.String()) {
		t.Errorf("Isolation() = %q", s.Isolation())
	}
	dir := t.TempDir()
	d, err := s.Start(engine.DynoSpec{App: "nettest", Type: "web", Name: "web.1", Dir: dir,
		Command: `exec python3 -c 'import http.server,os; http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), http.server.SimpleHTTPRequestHandler).serve_forever()'`})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Stop() })
	waitFor(t, 20*time.Second, "the web dyno to come up", func() bool { return d.(*dyno).Up() })
	addr := d.(*dyno).Addr()
	host, port, _ := net.SplitHostPort(addr)
	a, err := netip.ParseAddr(host)
	if err != nil || !s.net.prefix.Contains(a) || a == s.net.gateway {
		t.Fatalf("Addr() = %q, want an address of its own in %s", addr, s.net.prefix)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
		c.Close()
		t.Errorf("the dyno answers on the host's 127.0.0.1:%s", port)
	}
	var ports []string
	links, _ := netlink.LinkList()
	for _, l := range links {
		if l.Attrs().MasterIndex == s.net.bridgeIndex {
			ports = append(ports, l.Attrs().Name)
			if pi := l.Attrs().Protinfo; pi != nil && !pi.Isolated {
				t.Errorf("bridge port %s is not isolated", l.Attrs().Name)
			}
		}
	}
	if len(ports) != 1 {
		t.Errorf("bridge ports = %v, want the dyno's one", ports)
	}
	_ = d.Stop()
	waitFor(t, 10*time.Second, "the veth pair to go", func() bool {
		_, err := netlink.LinkByName(ports[0])
		return err != nil
	})
}
