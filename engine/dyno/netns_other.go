//go:build !linux

package dyno

import (
	"errors"
	"net/netip"
)

// network is never set up off Linux: dynos there have no namespaces.
type network struct {
	*pool
	bridge string
}

// netLease is one process's place on the network; none off Linux.
type netLease struct {
	net  *network
	addr netip.Addr
}

func probeNetworkNamespace(exe string) error {
	return errors.New("network namespaces need Linux")
}

func openNetwork(p netip.Prefix, untracked []int, resolvConf string) (*network, error) {
	return nil, errors.New("network namespaces need Linux")
}

func (n *network) expose(port int) error               { return nil }
func (n *network) exposed() map[int]bool               { return nil }
func (n *network) close()                              {}
func (n *network) narrow(app string, keep []int) error { return nil }
func (n *network) lease(app string, ports []int) (*netLease, error) {
	return nil, errors.New("network namespaces need Linux")
}
func (l *netLease) release() {}
