package dyno

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"sync"
)

// NetworkMode says whether isolated dynos and build steps get network
// namespaces of their own: the server's --dyno-network flag.
type NetworkMode int

const (
	// NetworkIsolated ("isolated") gives each isolated dyno and build
	// step its own network namespace, joined to the host by a veth pair
	// on a bridge of the server's own (see network): it reaches the
	// app's add-ons and, through NAT, the outside, and nothing else of
	// the host; only the router reaches it.
	NetworkIsolated NetworkMode = iota
	// NetworkHost ("host") leaves dynos in the host's network, as before
	// network namespaces: a baseline for benchmarks, or for a host that
	// must not forward packets.
	NetworkHost
)

// ParseNetworkMode reads a --dyno-network value: isolated or host.
func ParseNetworkMode(s string) (NetworkMode, error) {
	switch s {
	case "isolated":
		return NetworkIsolated, nil
	case "host":
		return NetworkHost, nil
	}
	return 0, fmt.Errorf("unknown dyno network %q: use isolated or host", s)
}

// DefaultSubnet is the private subnet dynos get their addresses from: a
// corner of 10/8 that home and office networks rarely use.
var DefaultSubnet = netip.MustParsePrefix("10.213.0.0/16")

// ParseSubnet reads a --dyno-subnet value: an IPv4 prefix from /8 to /28,
// room for the bridge's address and at least a dozen dynos.
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 subnet such as 10.213.0.0/16", s)
	}
	if p.Bits() < 8 || p.Bits() > 28 {
		return netip.Prefix{}, fmt.Errorf("subnet %s must be between /8 and /28", s)
	}
	return p.Masked(), nil
}

// netNames are the host-side names of a server's network, derived from
// its subnet so that a server restarted after a crash finds and replaces
// what its predecessor left, and two servers on different subnets never
// share a name. Interface names are at most 15 bytes.
func netNames(p netip.Prefix) (bridge, table string) {
	h := fnv.New32a()
	h.Write([]byte(p.String()))
	sum := fmt.Sprintf("%08x", h.Sum32())
	return "hako" + sum, "hako_" + sum
}

// errSubnetFull is returned when every address of the subnet is in use.
var errSubnetFull = errors.New("no free address left in the dyno subnet")

// pool hands out the addresses of a subnet to dyno and build processes.
// The first host address is the bridge's (the dynos' gateway); the rest
// are given round-robin, so that an address is reused as late as
// possible, after the host has forgotten the previous holder.
type pool struct {
	prefix  netip.Prefix
	gateway netip.Addr

	mu   sync.Mutex
	used map[netip.Addr]bool
	last netip.Addr
}

func newPool(p netip.Prefix) *pool {
	gw := p.Addr().Next()
	return &pool{prefix: p, gateway: gw, used: map[netip.Addr]bool{}, last: gw}
}

// get returns a free address.
func (p *pool) get() (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.last
	for {
		a = a.Next()
		if !p.prefix.Contains(a) || isBroadcast(p.prefix, a) {
			a = p.gateway.Next()
		}
		if !p.used[a] {
			p.used[a], p.last = true, a
			return a, nil
		}
		if a == p.last {
			return netip.Addr{}, fmt.Errorf("%w (%s)", errSubnetFull, p.prefix)
		}
	}
}

// put gives an address back.
func (p *pool) put(a netip.Addr) {
	p.mu.Lock()
	delete(p.used, a)
	p.mu.Unlock()
}

// isBroadcast reports whether a is the last address of p.
func isBroadcast(p netip.Prefix, a netip.Addr) bool {
	b := a.As4()
	host := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	mask := uint32(1)<<host - 1
	return v&mask == mask
}

// macFor is the hardware address a dyno's interface gets: fixed by its
// IP address (locally administered, unicast), so that the host's
// neighbour entry stays right when an address is given to a new dyno.
func macFor(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("0a:58:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}
