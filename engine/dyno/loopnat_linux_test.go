package dyno

import (
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// inNewNetNS runs f on a thread of its own in a new network namespace
// with an eth0 (a veth pair's end), which the thread then leaves with its namespace.
func inNewNetNS(t testing.TB, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with the namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Error(err)
			return
		}
		la := netlink.NewLinkAttrs()
		la.Name = "eth0"
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "peer0"}); err != nil {
			t.Error(err)
			return
		}
		f()
	}()
	<-done
}

// BenchmarkLoopbackNAT measures what the translation of the host's
// loopback costs each dyno's start: one netlink transaction.
//
//	go test ./engine/dyno -run '^$' -bench LoopbackNAT
func BenchmarkLoopbackNAT(b *testing.B) {
	gw := netip.MustParseAddr("10.216.0.1")
	for b.Loop() {
		inNewNetNS(b, func() {
			if err := loopbackNAT(gw, []int{5432, 6379}, []loopResolver{{Addr: "127.0.0.53", Port: 40000}}); err != nil {
				b.Error(err)
			}
		})
	}
}

// BenchmarkNewNetNS is BenchmarkLoopbackNAT's baseline: the namespace
// and its link alone.
func BenchmarkNewNetNS(b *testing.B) {
	for b.Loop() {
		inNewNetNS(b, func() {})
	}
}
