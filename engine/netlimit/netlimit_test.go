package netlimit

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestLimit holds max connections open, refuses the next ones with the
// refusal and closes them, and takes a connection again once one closes.
func TestLimit(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listen(inner, 3, []byte("busy\n"))
	t.Cleanup(func() { l.Close() })
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var held []net.Conn
	for i := 0; i < 3; i++ {
		dial()
		select {
		case c := <-accepted:
			held = append(held, c)
		case <-time.After(5 * time.Second):
			t.Fatalf("connection %d within the limit not accepted", i+1)
		}
	}
	for i := 0; i < 5; i++ {
		c := dial()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "busy\n" {
			t.Fatalf("connection past the limit read %q, %v; want the refusal then EOF", got, err)
		}
	}
	if l.Open() != 3 || l.Refused() != 5 {
		t.Errorf("Open() = %d, Refused() = %d; want 3 and 5", l.Open(), l.Refused())
	}
	held[0].Close()
	held[0].Close() // a second close gives nothing back twice
	if l.Open() != 2 {
		t.Errorf("Open() after a close = %d, want 2", l.Open())
	}
	dial()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("connection not accepted after a place freed")
	}
	if l.Open() != 3 {
		t.Errorf("Open() = %d, want 3", l.Open())
	}
}

// TestWarn checks that refusals are reported at once, then not again
// within warnEvery however many follow.
func TestWarn(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listen(inner, 1, nil)
	t.Cleanup(func() { l.Close() })
	warned := make(chan [2]int, 10)
	l.Warn = func(refused, limit int) { warned <- [2]int{refused, limit} }
	go func() {
		for {
			if _, err := l.Accept(); err != nil {
				return
			}
		}
	}()
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i > 0 {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadAll(c); err != nil {
				t.Fatalf("refused connection %d: %v", i, err)
			}
		}
	}
	select {
	case w := <-warned:
		if w != [2]int{1, 1} {
			t.Errorf("Warn(%d, %d), want Warn(1, 1)", w[0], w[1])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no warning for refused connections")
	}
	if len(warned) != 0 {
		t.Errorf("%d more warnings within a minute, want none", len(warned))
	}
}

// TestShare: two listeners sharing a budget hold at most its limit
// together; the second refuses once the first holds it all.
func TestShare(t *testing.T) {
	a, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	la := Listen(a, 1, []byte("busy\n"))
	lb := la.Share(b)
	t.Cleanup(func() { la.Close(); lb.Close() })
	ca, err := net.Dial("tcp", a.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	held, err := la.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	cb, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	go func() {
		if c, err := lb.Accept(); err == nil {
			c.Close()
		}
	}()
	_ = cb.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(cb)
	if string(got) != "busy\n" {
		t.Fatalf("second address past the shared limit read %q, want the refusal", got)
	}
	if lb.Refused() != 1 || la.Open() != 1 {
		t.Errorf("refused %d, open %d; want 1 and 1", lb.Refused(), la.Open())
	}
}

// fakeListener hands out one end of a pipe for each address sent on
// from, as if a client at that address had connected.
type fakeListener struct {
	from chan string
	done chan struct{}
}

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

func (f *fakeListener) Accept() (net.Conn, error) {
	select {
	case a := <-f.from:
		server, client := net.Pipe()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		return addrConn{Conn: server, remote: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(a))}, nil
	case <-f.done:
		return nil, net.ErrClosed
	}
}
func (f *fakeListener) Close() error   { close(f.done); return nil }
func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

// TestPerHost: one remote address holds at most its share of the budget,
// the others still get theirs; a closed connection gives its place back;
// loopback clients are not bounded.
func TestPerHost(t *testing.T) {
	f := &fakeListener{from: make(chan string), done: make(chan struct{})}
	l := Listen(f, 12, nil)
	l.LimitPerHost(3)
	// Refused connections are not returned by Accept: a sentinel
	// address from a client that always fits tells each one's fate.
	accept := func(addr string) net.Conn {
		t.Helper()
		got := make(chan net.Conn, 1)
		go func() {
			c, err := l.Accept()
			if err == nil {
				got <- c
			}
		}()
		f.from <- addr
		select {
		case c := <-got:
			return c
		case <-time.After(100 * time.Millisecond):
			f.from <- "192.0.2.99:1" // unblocks the Accept past a refusal
			c := <-got
			c.Close()
			return nil
		}
	}
	var held []net.Conn
	for i := range 3 {
		c := accept("198.51.100.7:" + string(rune('1'+i)) + "000")
		if c == nil {
			t.Fatalf("connection %d of the host refused within its share", i+1)
		}
		held = append(held, c)
	}
	if c := accept("198.51.100.7:5000"); c != nil {
		t.Fatal("a 4th connection of the host was accepted past its share of 3")
	}
	if c := accept("203.0.113.5:1000"); c == nil {
		t.Error("another host was refused")
	}
	for i := range 5 {
		if c := accept("127.0.0.1:" + string(rune('1'+i)) + "000"); c == nil {
			t.Errorf("loopback connection %d refused", i+1)
		}
	}
	held[0].Close()
	if c := accept("198.51.100.7:6000"); c == nil {
		t.Error("the host was refused after one of its connections closed")
	}
	if l.Refused() != 1 {
		t.Errorf("Refused() = %d, want 1", l.Refused())
	}
}

// TestHostOf: a host is an IPv4 address or an IPv6 /64; the server's
// own clients (127.0.0.1, ::1) are none, other loopback addresses are.
func TestHostOf(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"198.51.100.7:1000", "198.51.100.7"},
		{"[::ffff:198.51.100.7]:1000", "198.51.100.7"},
		{"127.0.0.1:1000", ""},
		{"[::ffff:127.0.0.1]:1000", ""},
		{"[::1]:1000", ""},
		{"127.0.0.2:1000", "127.0.0.2"},
		{"[2001:db8::1]:1000", "2001:db8::/64"},
		{"[2001:db8::dead:beef]:1000", "2001:db8::/64"},
		{"[2001:db8:0:1::1]:1000", "2001:db8:0:1::/64"},
		{"[fe80::1%eth0]:1000", "fe80::/64"},
	} {
		if got := HostOf(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(tc.addr))); got != tc.want {
			t.Errorf("HostOf(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestFairShareOverTCP: real clients at four loopback addresses
// (127.0.0.2 to .5; all of 127/8 is this machine's) each open all the
// connections they can and hold them; together they cannot fill the
// budget: a fifth address, and then the server's own client at
// 127.0.0.1, still get in. With a quarter each, the four would hold it
// all.
func TestFairShareOverTCP(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listen(inner, 16, []byte("busy\n"))
	l.LimitPerHost(4)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			_, _ = c.Write([]byte("ok\n"))
		}
	}()
	// dial connects from addr and returns whether it was taken.
	dial := func(addr string) bool {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatalf("dial from %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line := make([]byte, 5)
		n, _ := io.ReadAtLeast(c, line, 3)
		switch string(line[:n]) {
		case "ok\n":
			return true
		case "busy\n":
			return false
		}
		t.Fatalf("a connection from %s read %q", addr, line[:n])
		return false
	}
	held := map[string]int{}
	total := 0
	for _, host := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"} {
		for range 10 {
			if dial(host) {
				held[host]++
				total++
			}
		}
	}
	want := map[string]int{"127.0.0.2": 4, "127.0.0.3": 4, "127.0.0.4": 4, "127.0.0.5": 2}
	for h, n := range want {
		if held[h] != n {
			t.Errorf("%s holds %d connections, want %d (all: %v)", h, held[h], n, held)
		}
	}
	if !dial("127.0.0.6") {
		t.Errorf("a fifth address was refused while four held %d of 16 places", total)
	}
	if !dial("127.0.0.1") {
		t.Error("the server's own client was refused")
	}
	if got := l.Open(); got != total+2 {
		t.Errorf("Open() = %d, want %d", got, total+2)
	}
}
