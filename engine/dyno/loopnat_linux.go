package dyno

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The host's loopback, as a dyno sees it. A dyno's 127.0.0.1 is its own
// namespace's, yet two things the host offers there must work from it
// unchanged: the add-on URLs of its config (postgres://…@127.0.0.1:PORT,
// the very values `hako config` shows and host tools use) and a resolver
// on the host's loopback (127.0.0.53 of systemd-resolved, or any
// loopback nameserver of /etc/resolv.conf, which dynos read as the host
// does). So the init gives the namespace a small NAT table: connections
// to 127.0.0.1 on an add-on's port go to the same port on the gateway,
// where the add-on server listens for dynos, and DNS to a loopback
// nameserver goes to the server's relay for that nameserver on the
// gateway (see dnsRelay). Nothing else of the loopback is translated: the
// dyno's own services on 127.0.0.1 stay its own, and the host's other
// loopback services stay out of reach (the host's table lets dynos reach
// only the add-on and relay ports of the gateway).
//
// Translated packets leave by eth0 with a loopback source, which the
// kernel routes only with route_localnet on, and which the postrouting
// chain rewrites to the dyno's address.

// loopResolver is a loopback nameserver of the host and the port of its
// relay on the gateway.
type loopResolver struct {
	Addr string `json:"addr"`
	Port int    `json:"port"`
}

// loopbackNAT sets the translation up in the init's network namespace,
// for eth0 whose gateway is gw.
func loopbackNAT(gw netip.Addr, addonPorts []int, resolvers []loopResolver) error {
	if len(addonPorts) == 0 && len(resolvers) == 0 {
		return nil
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/conf/eth0/route_localnet", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("let eth0 carry translated loopback traffic: %w", err)
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables: %w", err)
	}
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "hako_loopback"})
	accept := nftables.ChainPolicyAccept
	out := c.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept})
	gw4 := gw.As4()
	for _, p := range addonPorts {
		c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: dnatRule(unix.IPPROTO_TCP, [4]byte{127, 0, 0, 1}, p, gw4, p)})
	}
	for _, r := range resolvers {
		a, err := netip.ParseAddr(r.Addr)
		if err != nil || !a.Is4() || !a.IsLoopback() {
			return fmt.Errorf("resolver %q is not an IPv4 loopback address", r.Addr)
		}
		for _, proto := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
			c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: dnatRule(proto, a.As4(), 53, gw4, r.Port)})
		}
	}
	// ip saddr 127.0.0.0/8 oifname "eth0" masquerade
	c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{127, 0, 0, 0}},
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname("eth0")},
		&expr.Masq{},
	}})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("translate the host's loopback services: %w", err)
	}
	return nil
}

// dnatRule is `meta l4proto PROTO ip daddr FROM th dport PORT dnat to
// TO:TOPORT`.
func dnatRule(proto byte, from [4]byte, port int, to [4]byte, toPort int) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: from[:]},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(uint16(port))},
		&expr.Immediate{Register: 1, Data: to[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(uint16(toPort))},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}

// ifname pads an interface name as nftables compares it.
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}
