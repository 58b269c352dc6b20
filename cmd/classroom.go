package cmd

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/dnsd"
	"hako/engine/dyno"
)

// A classroom server serves other machines: students' laptops push to
// it, run commands on it and open their apps on it. These are its flags
// and their checks.

// classroomFlags are `hako server`'s flags for serving other machines.
var classroomFlags = []cli.Flag{
	&cli.BoolFlag{Name: "public", Usage: "serve other machines: SSH, the router, HTTPS, the API and the rendezvous on every interface (0.0.0.0) unless their flag says otherwise; needs --isolation required", EnvVars: []string{"HAKO_PUBLIC"}},
	&cli.BoolFlag{Name: "i-know-it-is-unsafe", Usage: "serve other machines without --isolation required (their code then runs without full isolation)"},
	&cli.StringFlag{Name: "dns-addr", Usage: "address (UDP) of a DNS responder answering DOMAIN and *.DOMAIN with this machine's address, for rooms without internet, e.g. :5353", EnvVars: []string{"HAKO_DNS_ADDR"}},
}

// publicFlags are the addresses --public moves to every interface.
var publicFlags = []string{"ssh-addr", "http-addr", "https-addr", "api-addr", "rendezvous-addr"}

// applyClassroom reads the classroom flags into cfg: --public binds the
// addresses whose flag was not given to every interface. A server that
// other machines can reach (through --public or any address that is not
// loopback) runs students' code: it is refused unless that code is fully
// isolated (--isolation required) or the operator says they know.
func applyClassroom(c *cli.Context, cfg *serverConfig, mode dyno.Mode) error {
	addrs := map[string]*string{"ssh-addr": &cfg.SSHAddr, "http-addr": &cfg.HTTPAddr, "https-addr": &cfg.HTTPSAddr, "api-addr": &cfg.APIAddr, "rendezvous-addr": &cfg.RendezvousAddr}
	if c.Bool("public") {
		for _, f := range publicFlags {
			if c.IsSet(f) {
				continue
			}
			_, port, err := net.SplitHostPort(*addrs[f])
			if err != nil {
				return engine.Errorf(engine.EINVALID, "--%s %q is not HOST:PORT.", f, *addrs[f])
			}
			*addrs[f] = net.JoinHostPort("0.0.0.0", port)
		}
	}
	cfg.DNSAddr = c.String("dns-addr")
	if cfg.DNSAddr != "" {
		if cfg.Domain == "localhost" {
			return engine.Errorf(engine.EINVALID, "--dns-addr answers for --domain: set --domain to the name the class will use (e.g. --domain class.test), and point the students' DNS at this machine.")
		}
		addrs["dns-addr"] = &cfg.DNSAddr
	}
	var exposed []string
	for f, a := range addrs {
		if !loopbackAddr(*a) {
			exposed = append(exposed, "--"+f)
		}
	}
	if len(exposed) > 0 && mode != dyno.ModeNamespaces && !c.Bool("i-know-it-is-unsafe") {
		return engine.Errorf(engine.EINVALID, "Other machines could reach this server (%s), so their users' code must run fully isolated: add --isolation required (as root on Linux), or --i-know-it-is-unsafe to serve them without it.", exposed[0])
	}
	return nil
}

// loopbackAddr reports whether a HOST:PORT listens only on loopback.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false // listen refuses it later, naming the flag
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// publicHost is the name other machines reach this server by, for the
// URLs it shows (git remotes, the workshop's sheets): the domain when it
// is not localhost (a name such as 10.0.0.5.nip.io, or one the DNS
// responder answers), else this machine's address.
func publicHost(domain string) string {
	if domain != "localhost" {
		return domain
	}
	if ip, err := dnsd.OutboundIPv4(); err == nil {
		return ip.String()
	}
	return "127.0.0.1"
}

// shownAddr is addr as others should dial it: a listener on every
// interface is shown as host (for this machine's own clients, 127.0.0.1;
// for other machines', publicHost).
func shownAddr(addr net.Addr, host string) string {
	h, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip, err := netip.ParseAddr(h); err == nil && ip.IsUnspecified() {
		return net.JoinHostPort(host, port)
	}
	return addr.String()
}

// startDNS binds the DNS responder's address, answering with the
// address it is bound to, or this machine's when it is bound to every
// interface.
func (s *Server) startDNS() error {
	if s.cfg.DNSAddr == "" {
		return nil
	}
	pc, err := net.ListenPacket("udp4", s.cfg.DNSAddr)
	if err != nil {
		return engine.Errorf(engine.EINVALID, "Cannot listen on %s for --dns-addr: %v. Choose another address with --dns-addr.", s.cfg.DNSAddr, err)
	}
	ip := netip.MustParseAddr("127.0.0.1")
	if u, ok := pc.LocalAddr().(*net.UDPAddr); ok {
		ip, _ = netip.AddrFromSlice(u.IP)
		ip = ip.Unmap()
	}
	if ip.IsUnspecified() {
		if ip, err = dnsd.OutboundIPv4(); err != nil {
			pc.Close()
			return fmt.Errorf("--dns-addr: find the address to answer with: %w", err)
		}
	}
	srv, err := dnsd.New(s.cfg.Domain, ip)
	if err != nil {
		pc.Close()
		return engine.Errorf(engine.EINVALID, "--dns-addr: %v.", err)
	}
	srv.Logf = s.logger.Printf
	s.dns, s.dnsPC = srv, pc
	return nil
}
