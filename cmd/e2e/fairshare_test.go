package e2e

import (
	"bufio"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestAPIFairShare: clients at four addresses (127.0.0.2 to .5, real
// connections over loopback) each hold as many keep-alive connections to
// the API as it lets them; together they cannot take its whole share of
// 64 (a server with 1,024 descriptors): each holds at most a quarter, the
// later ones less, and a fifth address and the server's own CLI still get
// answers. With a plain quarter each, the four would hold it all.
func TestAPIFairShare(t *testing.T) {
	s := startServerWithFileLimit(t, 1024)
	// hold opens a connection from addr and sends a request: true when
	// the API answered it (401: no token) and the connection stays open,
	// false when it was refused for the share (503).
	hold := func(addr string) bool {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", "127.0.0.1:"+s.apiPort)
		if err != nil {
			t.Fatalf("dial from %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("GET /account HTTP/1.1\r\nHost: api\r\n\r\n")); err != nil {
			t.Fatalf("write from %s: %v", addr, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("read from %s: %v", addr, err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			return true
		case http.StatusServiceUnavailable:
			return false
		}
		t.Fatalf("a connection from %s got %s", addr, resp.Status)
		return false
	}
	held, total := map[string]int{}, 0
	for _, host := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"} {
		for range 40 {
			if hold(host) {
				held[host]++
				total++
			}
		}
	}
	t.Logf("held: %v", held)
	for h, n := range held {
		if n > 16 {
			t.Errorf("%s holds %d connections, past a quarter of 64", h, n)
		}
	}
	if held["127.0.0.5"] > 8 || total > 56 {
		t.Errorf("the fourth address holds %d, the four %d: want at most 8 and 56", held["127.0.0.5"], total)
	}
	if !hold("127.0.0.6") {
		t.Errorf("a fifth address was refused while four held %d of 64", total)
	}
	s.hako(t, "apps")
}
