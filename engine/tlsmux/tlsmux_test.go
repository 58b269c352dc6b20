package tlsmux

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"hako/engine/localca"
	"hako/engine/netlimit"
)

// serve runs an HTTP server on a sniffing listener over a budget of
// limit connections; it answers with the scheme it saw.
func serve(t *testing.T, limit int, timeout time.Duration) (addr string, roots *x509.CertPool, budget *netlimit.Listener) {
	t.Helper()
	ca, err := localca.Load(localca.FilesIn(t.TempDir()), "localhost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	budget = netlimit.Listen(inner, limit, []byte("busy\n"))
	l := Listen(budget, ca.TLSConfig(), timeout)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			fmt.Fprint(w, "tls")
		} else {
			fmt.Fprint(w, "plain")
		}
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	roots = x509.NewCertPool()
	roots.AddCert(ca.CA())
	return inner.Addr().String(), roots, budget
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestBoth serves HTTP and HTTPS on one port, the TLS side with a
// certificate a client trusting the CA accepts.
func TestBoth(t *testing.T) {
	addr, roots, _ := serve(t, 16, 5*time.Second)
	if got := get(t, &http.Client{}, "http://"+addr+"/"); got != "plain" {
		t.Errorf("http: %q", got)
	}
	secure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	if got := get(t, secure, "https://"+addr+"/"); got != "tls" {
		t.Errorf("https: %q", got)
	}
	// A client that does not trust the CA is refused by its own check.
	if _, err := (&http.Client{Transport: &http.Transport{}}).Get("https://" + addr + "/"); err == nil {
		t.Error("a client without the CA accepted the certificate")
	}
}

// TestSilentClients: connections that never send their first byte hold
// up neither the others nor, past the sniff deadline, the budget.
func TestSilentClients(t *testing.T) {
	addr, _, budget := serve(t, 4, 300*time.Millisecond)
	var silent []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		silent = append(silent, c)
	}
	// The fourth place of the budget still answers while three wait.
	if got := get(t, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, "http://"+addr+"/"); got != "plain" {
		t.Errorf("beside silent clients: %q", got)
	}
	// Each silent connection is closed at the deadline...
	for _, c := range silent {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil || n != 0 {
			t.Fatalf("silent connection: read %d, %v; want it closed", n, err)
		}
	}
	// ...and gives its place back.
	deadline := time.Now().Add(5 * time.Second)
	for budget.Open() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still counted", budget.Open())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBudget: connections being sniffed count against the budget, so
// a flood of silent ones gets refusals, not a queue.
func TestBudget(t *testing.T) {
	addr, _, _ := serve(t, 2, 5*time.Second)
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		b, _ := io.ReadAll(c)
		c.Close()
		if string(b) == "busy\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("third connection read %q, want the refusal", b)
		}
	}
}

// TestCloseEndsSniffing: closing the listener closes the connections
// still waiting for their first byte at once, not at their deadline.
func TestCloseEndsSniffing(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	budget := netlimit.Listen(inner, 4, nil)
	l := Listen(budget, &tls.Config{}, time.Hour)
	c, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for budget.Open() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the connection was never accepted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("read %d, %v; want the connection closed", n, err)
	}
	for budget.Open() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still counted", budget.Open())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
