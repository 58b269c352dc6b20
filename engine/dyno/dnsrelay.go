package dyno

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

// DefaultResolvConf is where the host's resolver configuration is read:
// the nameservers dynos use are the host's.
const DefaultResolvConf = "/etc/resolv.conf"

// A dnsRelay carries DNS between dynos and one nameserver on the host's
// loopback (127.0.0.53 of systemd-resolved, a dnsmasq on 127.0.0.1),
// which dynos cannot reach from their own namespaces. It listens on the
// gateway, on a port of its own (UDP and TCP alike), where each dyno's
// namespace sends what it addresses to that nameserver (see
// loopbackNAT), and passes each query to port 53 of the nameserver and
// the answer back, unread: it forwards to nothing else, so a dyno gets
// no more of the host's loopback than that resolver.
//
// Why a relay rather than translating the dynos' packets on the host to
// the loopback address: that needs route_localnet on the bridge, which
// makes the host accept packets from dynos addressed to any of its
// loopback services and leaves their safety to the filter alone.
type dnsRelay struct {
	upstream netip.AddrPort // the nameserver, port 53
	udp      *net.UDPConn
	tcp      *net.TCPListener
	port     int

	slots chan struct{} // bounds the queries and connections in flight
	wg    sync.WaitGroup
}

// relayTimeout bounds a UDP query's wait for its answer, and a TCP
// connection's idle time.
const relayTimeout = 5 * time.Second

// relaySlots bounds what one relay handles at once: a dyno flooding it
// gets its extra queries dropped, as a busy resolver drops them.
const relaySlots = 256

// loopbackNameservers returns the IPv4 loopback nameservers of the
// resolver configuration at path, in its order (dynos have no IPv6, so
// ::1 is left out; a missing file lists none).
func loopbackNameservers(path string) ([]netip.Addr, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the resolver configuration: %w", err)
	}
	defer f.Close()
	var out []netip.Addr
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(fields[1])
		if err != nil || !a.Is4() || !a.IsLoopback() {
			continue
		}
		dup := false
		for _, b := range out {
			dup = dup || b == a
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out, sc.Err()
}

// startRelay starts a relay to nameserver ns, listening on gw.
func startRelay(gw, ns netip.Addr) (*dnsRelay, error) {
	r := &dnsRelay{upstream: netip.AddrPortFrom(ns, 53), slots: make(chan struct{}, relaySlots)}
	// One port for both protocols: UDP picks it, TCP must get the same,
	// which another program may hold meanwhile.
	var err error
	for range 10 {
		if r.udp, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(gw, 0))); err != nil {
			return nil, fmt.Errorf("listen for DNS on %s: %w", gw, err)
		}
		r.port = r.udp.LocalAddr().(*net.UDPAddr).Port
		if r.tcp, err = net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(gw, uint16(r.port)))); err == nil {
			break
		}
		r.udp.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("listen for DNS on %s: %w", gw, err)
	}
	r.wg.Add(2)
	go r.serveUDP()
	go r.serveTCP()
	return r, nil
}

// close stops the relay and waits for what it handles.
func (r *dnsRelay) close() {
	r.udp.Close()
	r.tcp.Close()
	r.wg.Wait()
}

func (r *dnsRelay) serveUDP() {
	defer r.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := r.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		select {
		case r.slots <- struct{}{}:
		default:
			continue // too many in flight: dropped, the client asks again
		}
		q := append([]byte(nil), buf[:n]...)
		r.wg.Add(1)
		go func() {
			defer func() { <-r.slots; r.wg.Done() }()
			r.answerUDP(q, from)
		}()
	}
}

// answerUDP passes one query to the nameserver and its answer back.
func (r *dnsRelay) answerUDP(q []byte, from netip.AddrPort) {
	up, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(r.upstream))
	if err != nil {
		return
	}
	defer up.Close()
	up.SetDeadline(time.Now().Add(relayTimeout))
	if _, err := up.Write(q); err != nil {
		return
	}
	ans := make([]byte, 65535)
	n, err := up.Read(ans)
	if err != nil {
		return
	}
	r.udp.WriteToUDPAddrPort(ans[:n], from)
}

func (r *dnsRelay) serveTCP() {
	defer r.wg.Done()
	for {
		c, err := r.tcp.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		select {
		case r.slots <- struct{}{}:
		default:
			c.Close()
			continue
		}
		r.wg.Add(1)
		go func() {
			defer func() { <-r.slots; r.wg.Done() }()
			r.relayTCP(c)
		}()
	}
}

// relayTCP joins a dyno's connection to one of the nameserver's, until
// either side ends or stays idle too long.
func (r *dnsRelay) relayTCP(c *net.TCPConn) {
	defer c.Close()
	up, err := net.DialTimeout("tcp4", r.upstream.String(), relayTimeout)
	if err != nil {
		return
	}
	defer up.Close()
	idle := func(conn net.Conn) io.Reader { return &idleReader{conn} }
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, idle(c)); up.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, idle(up)); c.CloseWrite(); done <- struct{}{} }()
	<-done
	// One side is done: the other gets relayTimeout to finish.
	c.SetDeadline(time.Now().Add(relayTimeout))
	up.SetDeadline(time.Now().Add(relayTimeout))
	<-done
}

// idleReader reads from a connection, failing once it has been idle for
// relayTimeout.
type idleReader struct{ c net.Conn }

func (r *idleReader) Read(p []byte) (int, error) {
	r.c.SetReadDeadline(time.Now().Add(relayTimeout))
	return r.c.Read(p)
}
