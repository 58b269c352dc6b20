package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// freeUDPPort returns a UDP port on loopback that nothing holds.
func freeUDPPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	_, p, _ := net.SplitHostPort(pc.LocalAddr().String())
	return p
}

// TestDNSResponder: `hako server --dns-addr` answers A queries for
// DOMAIN and every name under it with the address it is bound to, and
// refuses other zones; the server's banner says where it listens.
func TestDNSResponder(t *testing.T) {
	addr := "127.0.0.1:" + freeUDPPort(t)
	s := startServer(t, "--domain", "class.test", "--dns-addr", addr)
	if !hasLineMatch(s.out.String(), `\s+DNS for \*\.class\.test\s+`+strings.ReplaceAll(addr, ".", `\.`)+` \(UDP\)`) {
		t.Errorf("banner lacks the DNS line:\n%s", s.out.String())
	}
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	ask := func(name string, qtype uint16) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatalf("query %s: %v", name, err)
		}
		return r
	}
	for _, name := range []string{"my-app.class.test.", "class.test."} {
		r := ask(name, dns.TypeA)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "127.0.0.1" {
			t.Errorf("%s A: %v", name, r)
		}
	}
	if r := ask("example.com.", dns.TypeA); r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
		t.Errorf("example.com A: %v", r)
	}
	// The app's URL uses the domain the responder answers for.
	if out := s.hako(t, "apps:create", "my-app"); !strings.Contains(out, "http://my-app.class.test:"+s.httpPort+"/") {
		t.Errorf("apps:create:\n%s", out)
	}
}

// TestPublicRefusedWithoutIsolation: a server other machines could reach
// refuses to start unless students' code runs fully isolated, before it
// binds anything.
func TestPublicRefusedWithoutIsolation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	loop := func() string { return "127.0.0.1:" + freePort(t) }
	// Every address but the router's is pinned to loopback, so that even
	// a server that wrongly started would expose one port, for seconds.
	c := exec.CommandContext(ctx, bin, "server", "--public", "--isolation", "auto", "--ssh-addr", loop(), "--api-addr", loop(),
		"--https-addr", loop(), "--rendezvous-addr", loop(), "--dyno-subnet", reserveSubnet(t))
	c.Env = append(os.Environ(), "HAKO_HOME="+t.TempDir(), "HAKO_WARM_GO=false")
	out, err := c.CombinedOutput()
	want := " ▸    Other machines could reach this server (--http-addr), so their users' code must run fully isolated: add --isolation required (as root on Linux), or --i-know-it-is-unsafe to serve them without it."
	if err == nil || !hasLine(string(out), want) {
		t.Errorf("--public without isolation: %v\n%s", err, out)
	}
}
