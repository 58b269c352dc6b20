package dnsd

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// serve starts a responder for class.test on loopback answering with
// 10.1.2.3 (only ever written into answers, never contacted).
func serve(t *testing.T) string {
	t.Helper()
	s, err := New("Class.Test.", netip.MustParseAddr("10.1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(pc) }()
	t.Cleanup(func() { s.Close(); pc.Close(); <-done })
	return pc.LocalAddr().String()
}

func query(t *testing.T, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	var r *dns.Msg
	var err error
	for i := 0; i < 20; i++ { // until the server reads its socket
		if r, _, err = c.Exchange(m, addr); err == nil {
			return r
		}
	}
	t.Fatalf("query %v: %v", m.Question, err)
	return nil
}

func TestAnswersItsZoneAndRefusesOthers(t *testing.T) {
	addr := serve(t)
	cases := []struct {
		name  string
		qtype uint16
		rcode int
		a     string // the one A answered, or "" for none
	}{
		{"class.test.", dns.TypeA, dns.RcodeSuccess, "10.1.2.3"},
		{"my-app.class.test.", dns.TypeA, dns.RcodeSuccess, "10.1.2.3"},
		{"My-App.CLASS.test.", dns.TypeA, dns.RcodeSuccess, "10.1.2.3"},
		{"a.b.class.test.", dns.TypeA, dns.RcodeSuccess, "10.1.2.3"},
		{"my-app.class.test.", dns.TypeAAAA, dns.RcodeSuccess, ""},
		{"my-app.class.test.", dns.TypeMX, dns.RcodeSuccess, ""},
		{"example.com.", dns.TypeA, dns.RcodeRefused, ""},
		{"notclass.test.", dns.TypeA, dns.RcodeRefused, ""},
		{"class.test.evil.com.", dns.TypeA, dns.RcodeRefused, ""},
		{"test.", dns.TypeA, dns.RcodeRefused, ""},
	}
	for _, c := range cases {
		m := new(dns.Msg)
		m.SetQuestion(c.name, c.qtype)
		m.RecursionDesired = true
		r := query(t, addr, m)
		if r.Rcode != c.rcode || r.RecursionAvailable {
			t.Errorf("%s %s: rcode %s, recursion available %v; want %s", c.name, dns.TypeToString[c.qtype], dns.RcodeToString[r.Rcode], r.RecursionAvailable, dns.RcodeToString[c.rcode])
		}
		got := ""
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				got += a.A.String()
				if a.Hdr.Ttl != TTL || a.Hdr.Name != c.name {
					t.Errorf("%s: answer %v", c.name, a)
				}
			}
		}
		if got != c.a || len(r.Answer) != len(c.a)/len("10.1.2.3") {
			t.Errorf("%s %s: answers %v, want %q", c.name, dns.TypeToString[c.qtype], r.Answer, c.a)
		}
	}
}

// TestRefusesOddQueries: several questions, an update, a response sent
// as a query get no answer of the zone.
func TestRefusesOddQueries(t *testing.T) {
	addr := serve(t)
	two := new(dns.Msg)
	two.SetQuestion("a.class.test.", dns.TypeA)
	two.Question = append(two.Question, dns.Question{Name: "b.class.test.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
	if r := query(t, addr, two); r.Rcode != dns.RcodeFormatError || len(r.Answer) != 0 {
		t.Errorf("two questions: %s, %v", dns.RcodeToString[r.Rcode], r.Answer)
	}
	upd := new(dns.Msg)
	upd.SetUpdate("class.test.")
	if r := query(t, addr, upd); r.Rcode != dns.RcodeNotImplemented {
		t.Errorf("update: %s", dns.RcodeToString[r.Rcode])
	}
	chaos := new(dns.Msg)
	chaos.SetQuestion("a.class.test.", dns.TypeA)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	if r := query(t, addr, chaos); r.Rcode != dns.RcodeRefused {
		t.Errorf("class CHAOS: %s", dns.RcodeToString[r.Rcode])
	}
}

func TestRateLimitPerClient(t *testing.T) {
	l := &limiter{clients: map[netip.Addr]*bucket{}}
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	now := time.Unix(1000, 0)
	allowed := 0
	for i := 0; i < 1000; i++ {
		if l.allow(a, now) {
			allowed++
		}
	}
	if allowed != Burst {
		t.Errorf("a burst of 1000 let %d through, want %d", allowed, Burst)
	}
	if !l.allow(b, now) {
		t.Error("another client was refused for the first one's burst")
	}
	if !l.allow(a, now.Add(time.Second/Rate)) {
		t.Error("a client was still refused once its bucket refilled")
	}
	for i := 0; i < maxClients+10; i++ {
		l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
	}
	if len(l.clients) > maxClients {
		t.Errorf("client table grew to %d", len(l.clients))
	}
}

func TestNewRefusesBadZones(t *testing.T) {
	for _, d := range []string{"", ".", "a..b", "x y"} {
		if _, err := New(d, netip.MustParseAddr("10.0.0.1")); err == nil {
			t.Errorf("New(%q) accepted", d)
		}
	}
	if _, err := New("class.test", netip.MustParseAddr("::1")); err == nil {
		t.Error("an IPv6 answer accepted")
	}
}
