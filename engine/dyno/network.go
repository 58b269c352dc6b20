package dyno

import (
	"fmt"
	"log"
	"net/netip"
	"sync"
)

// shared holds the networks of this process by subnet: supervisors of
// one process on one subnet (tests make many) share its bridge, table
// and addresses, which the last Close removes.
var shared = struct {
	sync.Mutex
	nets map[netip.Prefix]*sharedNet
}{nets: map[netip.Prefix]*sharedNet{}}

type sharedNet struct {
	n    *network
	refs int
}

// acquireNetwork returns the process's network on subnet p, set up on
// first use.
func acquireNetwork(p netip.Prefix, untracked []int, resolvConf string) (*network, error) {
	shared.Lock()
	defer shared.Unlock()
	if sn, ok := shared.nets[p]; ok {
		sn.refs++
		return sn.n, nil
	}
	n, err := openNetwork(p, untracked, resolvConf)
	if err != nil {
		return nil, err
	}
	shared.nets[p] = &sharedNet{n: n, refs: 1}
	return n, nil
}

// releaseNetwork drops one use of the network on p, removing it after
// the last.
func releaseNetwork(p netip.Prefix) {
	shared.Lock()
	defer shared.Unlock()
	sn, ok := shared.nets[p]
	if !ok {
		return
	}
	if sn.refs--; sn.refs == 0 {
		sn.n.close()
		delete(shared.nets, p)
	}
}

// setupNetwork gives isolated dynos their network (see network), or
// records why they share the host's: the operator's choice, or a host
// that refuses, which --isolation required turns into a refusal. Called
// by New once dynos are known to be isolated.
func (s *Supervisor) setupNetwork() {
	if s.opts.Network == NetworkHost {
		s.noNet = "--dyno-network host"
		return
	}
	subnet := s.opts.Subnet
	if !subnet.IsValid() {
		subnet = DefaultSubnet
	}
	err := probeNetworkNamespace(s.opts.Exe)
	if err == nil {
		resolv := s.opts.ResolvConf
		if resolv == "" {
			resolv = DefaultResolvConf
		}
		s.net, err = acquireNetwork(subnet, s.opts.UntrackedPorts, resolv)
	}
	if err == nil {
		return
	}
	s.noNet = err.Error()
	if s.opts.Isolate == ModeNamespaces {
		s.refusal = refused("--isolation required, but dynos cannot get a network namespace here: %v", err)
		return
	}
	log.Printf("dynos: warning: no network namespaces, dynos share the host's network: %v", err)
}

// networkText says, for Isolation, how dynos are networked.
func (s *Supervisor) networkText() string {
	if s.net == nil {
		return "NO network namespace (" + s.noNet + "): dynos share the host's network and reach its loopback services"
	}
	return fmt.Sprintf("each in its own network namespace on %s (bridge %s), reaching only its add-ons and, through NAT, the outside", s.net.prefix, s.net.bridge)
}

// Expose lets dynos and build steps reach port on the host's address in
// their subnet (Gateway): an add-on server's. It does nothing when they
// share the host's network.
func (s *Supervisor) Expose(port int) error {
	if s.net == nil {
		return nil
	}
	return s.net.expose(port)
}

// SetAddonReach tells the supervisor which add-on ports each app's
// dynos may reach (those of the add-ons attached to the app), asked as
// each dyno starts: a dyno then reaches those and no other app's add-ons.
// Until it is called every dyno reaches every exposed port; build steps,
// of no app, reach none once it is.
func (s *Supervisor) SetAddonReach(reach func(app string) []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reach = reach
}

// NarrowAddonReach takes from app's running processes (dynos, one-off
// dynos, build steps) the reach of the add-ons no longer attached to it,
// as SetAddonReach's function now answers: new connections to them are
// dropped. New processes get the new reach as they start.
func (s *Supervisor) NarrowAddonReach(app string) error {
	if s.net == nil || app == "" {
		return nil
	}
	return s.net.narrow(app, s.reachOf(app))
}

// reachOf is the add-on ports a new process of app may reach.
func (s *Supervisor) reachOf(app string) []int {
	s.mu.Lock()
	reach := s.reach
	s.mu.Unlock()
	if reach == nil {
		var all []int
		for p := range s.net.exposed() {
			all = append(all, p)
		}
		return all
	}
	if app == "" {
		return nil
	}
	return reach(app)
}

// Gateway is the host's address as dynos reach it, where add-on servers
// listen for them: "" when dynos share the host's network (and reach
// add-ons on 127.0.0.1).
func (s *Supervisor) Gateway() string {
	if s.net == nil {
		return ""
	}
	return s.net.gateway.String()
}

// Subnet is the dynos' subnet, "" when they share the host's network.
func (s *Supervisor) Subnet() string {
	if s.net == nil {
		return ""
	}
	return s.net.prefix.String()
}

// Close removes what the host holds for the dynos' network (the bridge
// and the firewall table), once every dyno and build step is gone. It
// may be called more than once.
func (s *Supervisor) Close() {
	s.closeNet.Do(func() {
		if s.net != nil {
			releaseNetwork(s.net.prefix)
		}
	})
}
