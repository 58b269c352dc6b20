package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// subnetLocks is where test servers' dyno subnets are reserved, across
// every test process on the machine.
const subnetLocks = "/run/hako-e2e"

// reserveSubnet returns a dyno subnet no other test server uses, from
// 10.214.0.0/16 (the servers' default, 10.213.0.0/16, stays free), held
// until the test ends. Each server needs its own: two servers on one
// subnet would share a bridge.
func reserveSubnet(t *testing.T) string {
	t.Helper()
	if err := os.MkdirAll(subnetLocks, 0o755); err != nil {
		return "" // not root: the server has no dyno network anyway
	}
	start := rand.IntN(256)
	for i := range 256 {
		n := (start + i) % 256
		f, err := os.OpenFile(filepath.Join(subnetLocks, fmt.Sprintf("10.214.%d.lock", n)), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			f.Close()
			continue
		}
		t.Cleanup(func() { f.Close() })
		return fmt.Sprintf("10.214.%d.0/24", n)
	}
	t.Fatal("every test subnet is taken")
	return ""
}

// gateway is the host's address on the server's dyno network: where
// dynos reach the add-on servers. "" when dynos share the host's
// network (a server that is not root).
func (s *server) gateway() string {
	if s.subnet == "" || os.Geteuid() != 0 {
		return ""
	}
	p := netip.MustParsePrefix(s.subnet)
	return p.Addr().Next().String()
}
