package dyno

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// lockDir holds one lock file per dyno subnet in use, so that two
// servers never share a bridge, and a server can tell the bridge of a
// dead one (whose lock is free) from a live one's.
const lockDir = "/run/hako"

// network is what the host holds for the network namespaces of a
// server's dynos and build steps: a bridge with the gateway address, an
// nftables table that filters what crosses it, and the server's own
// network namespace, which each init joins its veth pair's host end to.
//
// Each dyno process gets an address of the pool on the veth end in its
// namespace (eth0), its default route through the gateway. The bridge
// ports are isolated (no frame goes from one dyno to another), and the
// table drops what a dyno sends to the host except the ports on the
// gateway of the add-ons attached to its app (addon_reach), drops what the host would route from one dyno to another or
// from outside into a dyno, and masquerades what dynos send out.
type network struct {
	*pool
	bridge      string
	table       string
	bridgeIndex int
	hostNS      *os.File // the server's network namespace, handed to each init
	lock        *os.File

	untracked []int // loopback ports left out of connection tracking

	resolvConf string      // the host's resolver configuration
	relays     []*dnsRelay // to its loopback nameservers

	mu    sync.Mutex
	ports map[int]bool // add-on ports on the gateway that dynos may reach
	// leases are the processes' leases with add-on reach, by app, for
	// narrow.
	leases map[*netLease]bool
}

// vethSeq makes host-side veth names unique within the server.
var vethSeq atomic.Uint32

// openNetwork sets up the host side for dynos on subnet p: the lock,
// the bridge, forwarding and the nftables table. What a dead server left
// on the same subnet is replaced.
func openNetwork(p netip.Prefix, untracked []int, resolvConf string) (*network, error) {
	n := &network{pool: newPool(p), ports: map[int]bool{}, leases: map[*netLease]bool{}, untracked: untracked, resolvConf: resolvConf}
	n.bridge, n.table = netNames(p)
	if err := os.MkdirAll(lockDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", lockDir, err)
	}
	sweepNetworks(n.bridge)
	lock, err := os.OpenFile(filepath.Join(lockDir, n.bridge+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the lock of subnet %s: %w", p, err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("dyno subnet %s is used by another hako server: give this one another with --dyno-subnet", p)
	}
	n.lock = lock
	if err := n.setup(); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// setup creates the bridge and the table, and turns forwarding on.
func (n *network) setup() error {
	br, err := netlink.LinkByName(n.bridge)
	if err != nil {
		la := netlink.NewLinkAttrs()
		la.Name = n.bridge
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
			return fmt.Errorf("create bridge %s: %w", n.bridge, err)
		}
		if br, err = netlink.LinkByName(n.bridge); err != nil {
			return fmt.Errorf("find bridge %s: %w", n.bridge, err)
		}
	}
	n.bridgeIndex = br.Attrs().Index
	// A fixed hardware address: a bridge otherwise takes the lowest of
	// its ports', which changes as dynos come and go, and the neighbour
	// entry every dyno keeps for the gateway then goes stale: replies to
	// the router are lost until the dyno resolves it again (requests
	// hang, H12), as when a new dyno stops next to one serving.
	gwMAC, err := net.ParseMAC(macFor(n.gateway))
	if err != nil {
		return fmt.Errorf("bridge %s address: %w", n.bridge, err)
	}
	if err := netlink.LinkSetHardwareAddr(br, gwMAC); err != nil {
		return fmt.Errorf("give bridge %s hardware address %s: %w", n.bridge, gwMAC, err)
	}
	// No IPv6 on the bridge: dynos have none, and a link-local address
	// would be one more way to the host.
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+n.bridge+"/disable_ipv6", []byte("1"), 0o644)
	gw := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(n.gateway.AsSlice()), Mask: net.CIDRMask(n.prefix.Bits(), 32)}}
	if err := netlink.AddrReplace(br, gw); err != nil {
		return fmt.Errorf("give bridge %s address %s: %w", n.bridge, gw, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return fmt.Errorf("bring bridge %s up: %w", n.bridge, err)
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("turn IPv4 forwarding on, for the dynos' way out: %w", err)
	}
	if err := n.startRelays(); err != nil {
		return err
	}
	if err := nft(n.ruleset()); err != nil {
		return err
	}
	if n.hostNS, err = os.Open("/proc/self/ns/net"); err != nil {
		return fmt.Errorf("open the server's network namespace: %w", err)
	}
	return nil
}

// ruleset is the nftables table of the network, replacing any table of
// the same name in one transaction. NAT needs connection tracking, which
// then tracks every connection of the host; the untracked ports' loopback
// connections (the router's) are spared that cost.
func (n *network) ruleset() string {
	var relayPorts []string
	for _, r := range n.relays {
		relayPorts = append(relayPorts, strconv.Itoa(r.port))
	}
	relays := "{ " + strings.Join(relayPorts, ", ") + " }"
	if len(relayPorts) == 0 {
		relays = "{ 0 }" // a port nothing listens on: the rule then lets nothing in
	}
	r := strings.NewReplacer("BR", n.bridge, "TABLE", n.table, "GW", n.gateway.String(), "SUBNET", n.prefix.String(), "RELAYS", relays)
	var untracked string
	if len(n.untracked) > 0 {
		ports := make([]string, len(n.untracked))
		for i, p := range n.untracked {
			ports[i] = strconv.Itoa(p)
		}
		set := "{ " + strings.Join(ports, ", ") + " }"
		untracked = `
	chain untracked_out {
		type filter hook output priority raw; policy accept;
		oifname "lo" tcp dport ` + set + ` notrack
		oifname "lo" tcp sport ` + set + ` notrack
	}
	chain untracked_in {
		type filter hook prerouting priority raw; policy accept;
		iifname "lo" tcp dport ` + set + ` notrack
		iifname "lo" tcp sport ` + set + ` notrack
	}`
	}
	return r.Replace(`table inet TABLE {}
delete table inet TABLE
table inet TABLE {
	set addon_reach { type ipv4_addr . inet_service; }
	chain input {
		type filter hook input priority filter - 5; policy accept;
		iifname "BR" ct state established,related accept
		iifname "BR" ip daddr GW ip saddr . tcp dport @addon_reach accept
		iifname "BR" ip daddr GW meta l4proto { tcp, udp } th dport RELAYS accept
		iifname "BR" drop
	}
	chain forward {
		type filter hook forward priority filter - 5; policy accept;
		iifname "BR" oifname "BR" drop
		oifname "BR" ct state established,related accept
		oifname "BR" drop
		iifname "BR" ip saddr SUBNET accept
		iifname "BR" drop
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr SUBNET oifname != "BR" masquerade
	}`) + untracked + "\n}\n"
}

// nft runs nft with script on its standard input.
func nft(script string) error {
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return errors.New("nft was not found: install nftables")
		}
		return fmt.Errorf("nft: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// expose records port on the gateway as an add-on server's, which the
// processes leased with it may reach.
func (n *network) expose(port int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ports[port] = true
	return nil
}

// setReach adds (or, with add false, removes) the addon_reach elements
// that let addr reach ports: over netlink, as loopbackNAT does, since
// running nft would cost every dyno's start and end a process.
func (n *network) setReach(addr netip.Addr, ports []int, add bool) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("open nftables: %w", err)
	}
	set := &nftables.Set{Table: &nftables.Table{Family: nftables.TableFamilyINet, Name: n.table}, Name: "addon_reach"}
	a := addr.As4()
	els := make([]nftables.SetElement, len(ports))
	for i, p := range ports {
		// A concatenation's parts each fill whole 4-byte registers.
		els[i] = nftables.SetElement{Key: []byte{a[0], a[1], a[2], a[3], byte(p >> 8), byte(p), 0, 0}}
	}
	if add {
		err = c.SetAddElements(set, els)
	} else {
		err = c.SetDeleteElements(set, els)
	}
	if err == nil {
		err = c.Flush()
	}
	return err
}

// exposed returns the add-on ports dynos may reach.
func (n *network) exposed() map[int]bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := make(map[int]bool, len(n.ports))
	for p := range n.ports {
		m[p] = true
	}
	return m
}

// close removes the table and the bridge and frees the subnet.
func (n *network) close() {
	if n.hostNS != nil {
		n.hostNS.Close()
	}
	for _, r := range n.relays {
		r.close()
	}
	_ = nft(fmt.Sprintf("table inet %s {}\ndelete table inet %s\n", n.table, n.table))
	if br, err := netlink.LinkByName(n.bridge); err == nil {
		_ = netlink.LinkDel(br)
	}
	if n.lock != nil {
		_ = os.Remove(n.lock.Name())
		n.lock.Close()
	}
}

// sweepNetworks removes the bridges and tables that servers which died
// without cleaning up left, recognised by their lock being free; own is
// this server's bridge, which setup replaces itself.
func sweepNetworks(own string) {
	links, err := netlink.LinkList()
	if err != nil {
		return
	}
	for _, l := range links {
		name := l.Attrs().Name
		if l.Type() != "bridge" || name == own || !strings.HasPrefix(name, "hako") || len(name) != len("hako")+8 {
			continue
		}
		f, err := os.OpenFile(filepath.Join(lockDir, name+".lock"), os.O_RDWR, 0)
		if err != nil {
			continue // not a bridge of ours, or one whose server cleans up itself
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			table := "hako_" + strings.TrimPrefix(name, "hako")
			_ = nft(fmt.Sprintf("table inet %s {}\ndelete table inet %s\n", table, table))
			_ = netlink.LinkDel(l)
			_ = os.Remove(f.Name())
		}
		f.Close()
	}
}

// netLease is one process's place on the network.
type netLease struct {
	net    *network
	addr   netip.Addr
	hostIf string
	app    string
	ports  []int // the add-on ports it may reach, under net.mu once leased
}

// lease gives a new process of app an address and a host-side interface
// name, and lets that address reach the add-on ports given (those of the
// add-ons attached to its app) and no other: the table drops what it
// sends to any other port of the gateway.
func (n *network) lease(app string, ports []int) (*netLease, error) {
	a, err := n.get()
	if err != nil {
		return nil, err
	}
	exposed := n.exposed()
	ports = slices.DeleteFunc(slices.Clone(ports), func(p int) bool { return !exposed[p] })
	slices.Sort(ports)
	ports = slices.Compact(ports)
	if len(ports) > 0 {
		if err := n.setReach(a, ports, true); err != nil {
			n.put(a)
			return nil, fmt.Errorf("let %s reach its add-ons: %w", a, err)
		}
	}
	name := fmt.Sprintf("hk%04x%08x", os.Getpid()&0xffff, vethSeq.Add(1))
	l := &netLease{net: n, addr: a, hostIf: name, app: app, ports: ports}
	if len(ports) > 0 {
		n.mu.Lock()
		n.leases[l] = true
		n.mu.Unlock()
	}
	return l, nil
}

// narrow takes from the running processes of app the reach of every
// add-on port not in keep: an add-on detached from the app, which the
// processes started before the detach would otherwise reach until they
// end (a one-off dyno, a dyno of a release that failed to replace it).
// Connections already open stay, as the table lets established ones
// through; new ones are dropped.
func (n *network) narrow(app string, keep []int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for l := range n.leases {
		if l.app != app {
			continue
		}
		drop := slices.DeleteFunc(slices.Clone(l.ports), func(p int) bool { return slices.Contains(keep, p) })
		if len(drop) == 0 {
			continue
		}
		if err := n.setReach(l.addr, drop, false); err != nil {
			errs = append(errs, fmt.Errorf("take %s's reach of %v: %w", l.addr, drop, err))
			continue
		}
		l.ports = slices.DeleteFunc(l.ports, func(p int) bool { return slices.Contains(drop, p) })
	}
	return errors.Join(errs...)
}

// release takes the address's reach away and gives the address back;
// the kernel removes the veth pair with the namespace.
func (l *netLease) release() {
	if l == nil {
		return
	}
	l.net.mu.Lock()
	delete(l.net.leases, l)
	ports := l.ports
	l.net.mu.Unlock()
	if len(ports) > 0 {
		if err := l.net.setReach(l.addr, ports, false); err != nil {
			// The address must not go to another process with this
			// one's reach: keep it out of the pool.
			log.Printf("dynos: %v: address %s retired", err, l.addr)
			return
		}
	}
	l.net.put(l.addr)
}

// config is what the init needs to set the process's network up, with
// the server's namespace at descriptor fd.
func (l *netLease) config(fd int) *netConfig {
	c := &netConfig{
		HostNSFD: fd, HostIf: l.hostIf, BridgeIndex: l.net.bridgeIndex,
		Addr:    netip.PrefixFrom(l.addr, l.net.prefix.Bits()).String(),
		Gateway: l.net.gateway.String(), MAC: macFor(l.addr),
	}
	l.net.mu.Lock()
	c.AddonPorts = slices.Clone(l.ports)
	l.net.mu.Unlock()
	for _, r := range l.net.relays {
		c.Resolvers = append(c.Resolvers, loopResolver{Addr: r.upstream.Addr().String(), Port: r.port})
	}
	return c
}

// startRelays starts a DNS relay on the gateway for each loopback
// nameserver of the host's resolver configuration (see dnsRelay).
func (n *network) startRelays() error {
	servers, err := loopbackNameservers(n.resolvConf)
	if err != nil {
		return err
	}
	for _, ns := range servers {
		r, err := startRelay(n.gateway, ns)
		if err != nil {
			return err
		}
		n.relays = append(n.relays, r)
	}
	return nil
}

// netConfig tells an init how to join its network namespace to the
// server's bridge (see setupNetwork).
type netConfig struct {
	HostNSFD    int    `json:"host_ns_fd"`   // the server's network namespace
	HostIf      string `json:"host_if"`      // the name of the veth end on the host
	BridgeIndex int    `json:"bridge_index"` // the bridge that end joins
	Addr        string `json:"addr"`         // eth0's address, with the subnet's length
	Gateway     string `json:"gateway"`      // the bridge's address: the default route
	MAC         string `json:"mac"`
	// AddonPorts and Resolvers are what of the host's loopback the
	// process reaches at its own (see loopbackNAT).
	AddonPorts []int          `json:"addon_ports,omitempty"`
	Resolvers  []loopResolver `json:"resolvers,omitempty"`
}

// setupNetwork runs in the init, in its new network namespace: it makes
// a veth pair whose host end goes to the server's namespace and joins
// the bridge as an isolated port, gives eth0 its address and the default
// route through the gateway, and brings lo up. It closes the descriptor
// of the server's namespace, which the command must never hold.
func setupNetwork(c *netConfig) error {
	defer unix.Close(c.HostNSFD)
	// No IPv6: dynos have IPv4 addresses only, and a link-local address
	// would reach the host past the IPv4 rules.
	for _, k := range []string{"all", "default"} {
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+k+"/disable_ipv6", []byte("1"), 0o644)
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	mac, err := net.ParseMAC(c.MAC)
	if err != nil {
		return fmt.Errorf("hardware address %q: %w", c.MAC, err)
	}
	la := netlink.NewLinkAttrs()
	la.Name, la.HardwareAddr = "eth0", mac
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: c.HostIf, PeerNamespace: netlink.NsFd(c.HostNSFD)}); err != nil {
		return fmt.Errorf("create the veth pair: %w", err)
	}
	// The thread runs in this namespace; the host's is reached through
	// a handle of its own. /proc is still the host's here, where
	// thread-self names this thread (its pid here would be 1).
	self, err := netns.GetFromPath("/proc/thread-self/ns/net")
	if err != nil {
		return fmt.Errorf("open the dyno's network namespace: %w", err)
	}
	defer self.Close()
	h, err := netlink.NewHandleAtFrom(netns.NsHandle(c.HostNSFD), self)
	if err != nil {
		return fmt.Errorf("reach the host's network namespace: %w", err)
	}
	defer h.Close()
	peer, err := h.LinkByName(c.HostIf)
	if err != nil {
		return fmt.Errorf("find %s on the host: %w", c.HostIf, err)
	}
	if err := h.LinkSetMasterByIndex(peer, c.BridgeIndex); err != nil {
		return fmt.Errorf("join %s to the bridge: %w", c.HostIf, err)
	}
	if err := h.LinkSetIsolated(peer, true); err != nil {
		return fmt.Errorf("isolate bridge port %s: %w", c.HostIf, err)
	}
	if err := h.LinkSetUp(peer); err != nil {
		return fmt.Errorf("bring %s up: %w", c.HostIf, err)
	}
	eth0, err := netlink.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("find eth0: %w", err)
	}
	addr, err := netlink.ParseAddr(c.Addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", c.Addr, err)
	}
	if err := netlink.AddrAdd(eth0, addr); err != nil {
		return fmt.Errorf("give eth0 %s: %w", c.Addr, err)
	}
	if err := netlink.LinkSetUp(eth0); err != nil {
		return fmt.Errorf("bring eth0 up: %w", err)
	}
	if err := netlink.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: net.ParseIP(c.Gateway)}); err != nil {
		return fmt.Errorf("route through %s: %w", c.Gateway, err)
	}
	gw, err := netip.ParseAddr(c.Gateway)
	if err != nil {
		return fmt.Errorf("gateway %q: %w", c.Gateway, err)
	}
	return loopbackNAT(gw, c.AddonPorts, c.Resolvers)
}
