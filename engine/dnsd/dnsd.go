// Package dnsd is hako's tiny DNS responder for a classroom without
// internet: it answers A queries for DOMAIN and every name under it with
// the server's address, so that students' machines pointed at it reach
// http://APP.DOMAIN:8080/ and ssh://git@DOMAIN:2222/APP.git, and refuses
// everything else. It is authoritative for one zone and resolves nothing:
// it cannot be used to look names up elsewhere, and it answers no more
// than it is asked (no amplification) at a bounded rate per client.
package dnsd

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Limits on what one responder serves.
const (
	// TTL of every answer: short, so a class can move to another
	// machine within a minute.
	TTL = 60
	// MaxQuery is the size of the largest query read (a question is far
	// smaller); a larger datagram is dropped.
	MaxQuery = 512
	// Rate and Burst bound the queries each client address may make, per
	// second and at once; past them, queries are dropped unanswered.
	Rate  = 50
	Burst = 100
	// maxClients bounds the table of clients the rate is counted for; a
	// full table is cleared (a flood of spoofed sources cannot grow it).
	maxClients = 4096
)

// hostnameRe matches a hostname of letters, digits and hyphens.
var hostnameRe = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Server answers for one zone.
type Server struct {
	zone string
	ip   netip.Addr
	srv  *dns.Server
	rate *limiter
	// Logf receives what is worth telling the operator; nil drops it.
	Logf func(format string, args ...any)
}

// New returns a responder for domain (and every name under it) answering
// A queries with ip, an IPv4 address.
func New(domain string, ip netip.Addr) (*Server, error) {
	if !ip.Is4() {
		return nil, fmt.Errorf("the DNS responder answers with an IPv4 address, not %s", ip)
	}
	domain = strings.Trim(strings.ToLower(domain), ".")
	if !hostnameRe.MatchString(domain) || len(domain) > 253 {
		return nil, fmt.Errorf("%q is not a domain the DNS responder can answer for", domain)
	}
	return &Server{zone: dns.Fqdn(domain), ip: ip, rate: &limiter{clients: map[netip.Addr]*bucket{}}}, nil
}

// Serve answers queries on pc until Close.
func (s *Server) Serve(pc net.PacketConn) error {
	s.srv = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.answer), UDPSize: MaxQuery,
		MsgAcceptFunc: accept, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second}
	return s.srv.ActivateAndServe()
}

// Close stops serving.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown()
}

// accept lets in only plain queries of one question; the rest is refused
// before it is parsed further (notify, update, several questions).
func accept(dh dns.Header) dns.MsgAcceptAction {
	if dh.Bits&(1<<15) != 0 { // a response, not a query
		return dns.MsgIgnore
	}
	if opcode := int(dh.Bits>>11) & 0xF; opcode != dns.OpcodeQuery {
		return dns.MsgRejectNotImplemented
	}
	if dh.Qdcount != 1 || dh.Ancount != 0 || dh.Nscount != 0 || dh.Arcount > 1 {
		return dns.MsgReject
	}
	return dns.MsgAccept
}

func (s *Server) answer(w dns.ResponseWriter, q *dns.Msg) {
	if addr, ok := clientAddr(w.RemoteAddr()); ok && !s.rate.allow(addr, time.Now()) {
		return // dropped: a reply would be what a flood wants
	}
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	m.RecursionAvailable = false
	question := q.Question[0]
	name := strings.ToLower(question.Name)
	if question.Qclass != dns.ClassINET || !dns.IsSubDomain(s.zone, name) {
		m.Authoritative = false
		m.Rcode = dns.RcodeRefused
		_ = w.WriteMsg(m)
		return
	}
	if question.Qtype == dns.TypeA || question.Qtype == dns.TypeANY {
		m.Answer = append(m.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: TTL},
			A:   s.ip.AsSlice(),
		})
	}
	// Any other type of a name of the zone: no data (NOERROR, no answer).
	_ = w.WriteMsg(m)
}

func clientAddr(a net.Addr) (netip.Addr, bool) {
	if u, ok := a.(*net.UDPAddr); ok {
		ip, ok := netip.AddrFromSlice(u.IP)
		return ip.Unmap(), ok
	}
	return netip.Addr{}, false
}

// limiter is a token bucket per client address.
type limiter struct {
	mu      sync.Mutex
	clients map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (l *limiter) allow(addr netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.clients[addr]
	if b == nil {
		if len(l.clients) >= maxClients {
			clear(l.clients)
		}
		b = &bucket{tokens: Burst, last: now}
		l.clients[addr] = b
	}
	b.tokens = min(Burst, b.tokens+now.Sub(b.last).Seconds()*Rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// OutboundIPv4 returns the address this machine's other hosts most
// likely reach it at: the source address of its route to the outside
// (a UDP "connection" sends nothing), else the first IPv4 address of an
// interface that is up and not loopback.
func OutboundIPv4() (netip.Addr, error) {
	if c, err := net.Dial("udp4", "192.0.2.1:9"); err == nil {
		defer c.Close()
		if u, ok := c.LocalAddr().(*net.UDPAddr); ok {
			if ip, ok := netip.AddrFromSlice(u.IP); ok && !ip.Unmap().IsLoopback() {
				return ip.Unmap(), nil
			}
		}
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("list network interfaces: %w", err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() {
					return ip.Unmap(), nil
				}
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("this machine has no IPv4 address besides loopback")
}
