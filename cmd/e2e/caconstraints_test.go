package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"
)

// writeOldCA puts a CA with no name constraints in home, as hako made
// before its CA was constrained.
func writeOldCA(t *testing.T, home string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"hako local CA"}, CommonName: "hako local CA old"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "ca-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// forgedServer serves HTTPS on loopback with certificates signed by the
// key in home's ca-key.pem, one per name, as whoever stole that key
// would: the answer is the body "forged".
func forgedServer(t *testing.T, home string, names ...string) string {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(home, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(home, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(caPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		t.Fatal("the home's CA files are not PEM")
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	certs := map[string]*tls.Certificate{}
	for i, name := range names {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
			SerialNumber: big.NewInt(int64(100 + i)), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames: []string{name},
		}, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		certs[name] = &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("forged")) }),
		TLSConfig: &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c, ok := certs[h.ServerName]; ok {
				return c, nil
			}
			return nil, errors.New("no certificate for " + h.ServerName)
		}},
	}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// curlTLS fetches https://host:port/ from 127.0.0.1 with curl (OpenSSL)
// trusting ca alone; it returns curl's output and exit code.
func curlTLS(ca, host, port string) (string, int) {
	out, err := exec.Command("curl", "-sS", "--cacert", ca, "--resolve", host+":"+port+":127.0.0.1", "https://"+host+":"+port+"/").CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		return err.Error(), -1
	}
	return string(out), 0
}

// TestCANameConstraints: a CA made by an older hako (no name
// constraints) is replaced at start with one limited to localhost and
// loopback, said in one line of the server's log; the router's
// certificates chain to it for curl, and a certificate signed with its
// key for another site, as a thief of the key would make, is refused by
// curl (OpenSSL) because of the constraints, while one for a permitted
// name signed the same way is accepted.
func TestCANameConstraints(t *testing.T) {
	need(t, "curl")
	home := t.TempDir()
	writeOldCA(t, home)
	old, err := os.ReadFile(filepath.Join(home, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	s := startServerWith(t, &server{home: home})
	ca := s.caFile(t)
	notice := "local CA: the CA in " + ca + " had no name constraints (made by an older hako), so it could sign for any site: " +
		"replaced it with a new CA for localhost (and names under it), 127.0.0.1, ::1; " +
		"trust the new ca.pem wherever you had copied the old one (settings that name the file by `hako ca:path` follow it)"
	if !hasLineMatch(s.out.String(), `\d{4}/\d\d/\d\d \d\d:\d\d:\d\d `+regexp.QuoteMeta(notice)) {
		t.Errorf("no notice of the replaced CA in the server's output:\n%s", s.out.String())
	}
	now, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	if string(now) == string(old) {
		t.Fatal("the CA without name constraints is still in the home")
	}
	b, _ := pem.Decode(now)
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.PermittedDNSDomainsCritical || !slices.Equal(cert.PermittedDNSDomains, []string{"localhost"}) || len(cert.PermittedIPRanges) != 2 {
		t.Errorf("CA constraints: critical %v, DNS %q, IP %v", cert.PermittedDNSDomainsCritical, cert.PermittedDNSDomains, cert.PermittedIPRanges)
	}

	// The router's certificate for an app name chains to the new CA (no
	// app is needed for the handshake: the router answers 404).
	if out, code := curlTLS(ca, "nosuchapp.localhost", s.httpsPort); code != 0 {
		t.Errorf("curl https://nosuchapp.localhost: exit %d: %s", code, out)
	}
	// A restart keeps the constrained CA and says nothing of it.
	s.stop()
	s.out = &syncBuffer{}
	s.start()
	if again, _ := os.ReadFile(ca); string(again) != string(now) {
		t.Error("a restart replaced the constrained CA")
	}
	if hasLineMatch(s.out.String(), `.*local CA: .*`) {
		t.Errorf("a restart spoke of the CA:\n%s", s.out.String())
	}

	// The stolen key: curl takes its certificate for a permitted name and
	// refuses the one for another site, for the constraint.
	port := forgedServer(t, home, "forged.localhost", "example.com")
	if out, code := curlTLS(ca, "forged.localhost", port); code != 0 || out != "forged" {
		t.Errorf("curl https://forged.localhost: exit %d: %s", code, out)
	}
	out, code := curlTLS(ca, "example.com", port)
	if code != 60 || !hasLineMatch(out, `curl: \(60\) SSL certificate problem: permitted subtree violation`) {
		t.Errorf("curl https://example.com with a certificate from the stolen key: exit %d: %s", code, out)
	}
}
