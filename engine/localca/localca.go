// Package localca is hako's own certificate authority, so that the API,
// git over HTTPS, the router and `heroku run`'s rendezvous speak TLS on a
// laptop with no certificate bought or configured: the user trusts one
// file (the CA certificate) once, as with mkcert, and every certificate
// hako serves chains to it.
//
// The CA is made on the server's first start and kept: its key (ECDSA
// P-256, mode 0600) never leaves HAKO_HOME, its certificate (0644) is what
// `hako ca:path` names. The server's leaf certificate covers 127.0.0.1,
// ::1, localhost, DOMAIN and *.DOMAIN; it is made again when it nears its
// end, when --domain changes or when the CA is new. Names one label under
// DOMAIN (APP.localhost) also get a certificate of their own, minted in
// memory when a client asks for one by SNI: OpenSSL and Node.js refuse a
// wildcard right under a top-level name such as *.localhost, which Go
// accepts. So do the apps' custom domains (Extra) under localhost or
// DOMAIN, as Heroku's ACM; the CA is name-constrained to those names and
// loopback (see constraints.go), so it signs for no other.
package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// caLifetime is long: a CA made again means trusting it again.
	caLifetime = 10 * 365 * 24 * time.Hour
	// leafLifetime stays under the 398 days clients accept for a
	// server certificate.
	leafLifetime = 365 * 24 * time.Hour
	// renewBefore is how long before its end a leaf is made again.
	renewBefore = 30 * 24 * time.Hour
	// maxMinted bounds the per-name certificates kept in memory; past it
	// the cache starts again (they are cheap to make).
	maxMinted = 1024
)

// Files are where the CA and the server's certificate live.
type Files struct {
	// CACert is the CA certificate, the file users trust (0644).
	CACert string
	// CAKey is the CA's private key (0600).
	CAKey string
	// Cert is the server's leaf certificate (0644), Key its key (0600).
	Cert, Key string
}

// FilesIn returns the files of a CA kept in dir (HAKO_HOME).
func FilesIn(dir string) Files {
	return Files{
		CACert: filepath.Join(dir, "ca.pem"), CAKey: filepath.Join(dir, "ca-key.pem"),
		Cert: filepath.Join(dir, "tls-cert.pem"), Key: filepath.Join(dir, "tls-key.pem"),
	}
}

// Authority holds the loaded CA and the server's leaf certificate.
type Authority struct {
	files  Files
	domain string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	leaf   tls.Certificate

	// Extra, when set, names hosts besides those under the domain that
	// get a certificate of their own by SNI: the apps' custom domains.
	// Only those within the CA's constraints get one.
	Extra func(host string) bool

	// replaced, when not empty, says why Load replaced the CA it found.
	replaced string

	mu     sync.Mutex
	minted map[string]*tls.Certificate
}

// Load reads the CA in files, creating it on first use, and a leaf
// certificate for domain, made again when needed (see the package doc).
// now is the time the leaf's validity is judged at.
func Load(files Files, domain string, now time.Time) (*Authority, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if err := checkDomain(domain); err != nil {
		return nil, err
	}
	a := &Authority{files: files, domain: domain, minted: map[string]*tls.Certificate{}}
	fresh, err := a.loadCA(now)
	if err != nil {
		return nil, err
	}
	if err := a.loadLeaf(fresh, now); err != nil {
		return nil, err
	}
	return a, nil
}

// Replaced is a one-line notice for the server's log when Load replaced
// the CA it found (one without name constraints, made by an older hako,
// or one whose constraints leave out the domain), so the user knows to
// trust the new one where they had copied the old; "" otherwise.
func (a *Authority) Replaced() string { return a.replaced }

// CAFile is the path of the CA certificate, for users to trust.
func (a *Authority) CAFile() string { return a.files.CACert }

// CA returns the CA certificate.
func (a *Authority) CA() *x509.Certificate { return a.caCert }

// TLSConfig is the configuration of every TLS port hako serves: the
// leaf, or a certificate minted for the SNI name when it is one label
// under the domain. Only HTTP/1.1 is offered: the API hijacks
// connections (hako-attach) and git speaks HTTP/1.1.
func (a *Authority) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"http/1.1"},
		GetCertificate: a.certificate,
	}
}

func (a *Authority) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	label, under := strings.CutSuffix(name, "."+a.domain)
	if !(under && isLabel(label) || a.Extra != nil && a.Extra(name)) || !a.permits(name) {
		return &a.leaf, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.minted[name]; ok && time.Now().Before(c.Leaf.NotAfter.Add(-renewBefore)) {
		return c, nil
	}
	c, err := a.issue([]string{name}, nil, time.Now())
	if err != nil {
		return nil, err
	}
	if len(a.minted) >= maxMinted {
		clear(a.minted)
	}
	a.minted[name] = c
	return c, nil
}

// isLabel reports whether s is one DNS label, the form of an app name.
func isLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// loadCA reads the CA, or creates it when neither of its files exists;
// fresh reports a new one. One file without the other is an error: a
// new CA would silently undo the user's trust in the old one.
func (a *Authority) loadCA(now time.Time) (fresh bool, err error) {
	certPEM, cerr := os.ReadFile(a.files.CACert)
	keyPEM, kerr := os.ReadFile(a.files.CAKey)
	if errors.Is(cerr, os.ErrNotExist) && errors.Is(kerr, os.ErrNotExist) {
		return true, a.createCA(now)
	}
	if cerr != nil || kerr != nil {
		return false, fmt.Errorf("local CA: read %s and %s (remove both to make a new CA): %w", a.files.CACert, a.files.CAKey, errors.Join(cerr, kerr))
	}
	if a.caCert, err = parseCert(certPEM); err != nil {
		return false, fmt.Errorf("local CA: %s: %w", a.files.CACert, err)
	}
	if a.caKey, err = parseKey(keyPEM); err != nil {
		return false, fmt.Errorf("local CA: %s: %w", a.files.CAKey, err)
	}
	if !a.caKey.PublicKey.Equal(a.caCert.PublicKey) {
		return false, fmt.Errorf("local CA: %s does not hold the key of %s (remove both to make a new CA)", a.files.CAKey, a.files.CACert)
	}
	if why := a.constrained(); why != "" {
		if err := a.createCA(now); err != nil {
			return false, err
		}
		a.replaced = fmt.Sprintf("local CA: the CA in %s %s: replaced it with a new CA for %s; trust the new %s wherever you had copied the old one (settings that name the file by `hako ca:path` follow it)",
			a.files.CACert, why, a.scope(), filepath.Base(a.files.CACert))
		return true, nil
	}
	return false, nil
}

// createCA makes a CA constrained to the names of the domain (see
// constraints.go) and writes it over any CA in the files.
func (a *Authority) createCA(now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("local CA: generate key: %w", err)
	}
	host, _ := os.Hostname()
	serial, err := newSerial()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"hako local CA"},
			CommonName:   "hako local CA " + host + " " + serial.Text(16)[:8],
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	tmpl.PermittedDNSDomains, tmpl.PermittedIPRanges = permittedFor(a.domain)
	tmpl.PermittedDNSDomainsCritical = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("local CA: create certificate: %w", err)
	}
	// The key first, so a crash between the two never leaves a
	// certificate whose key is lost.
	if err := writeKey(a.files.CAKey, key); err != nil {
		return err
	}
	if err := writeFile(a.files.CACert, pemBlock("CERTIFICATE", der), 0o644); err != nil {
		return err
	}
	a.caKey = key
	a.caCert, err = x509.ParseCertificate(der)
	return err
}

// loadLeaf reads the server's certificate and makes it again when it is
// not signed by the CA, nears its end or does not cover the names.
func (a *Authority) loadLeaf(freshCA bool, now time.Time) error {
	if !freshCA {
		if c, err := tls.LoadX509KeyPair(a.files.Cert, a.files.Key); err == nil && a.current(c, now) {
			a.leaf = c
			return nil
		}
	}
	dns, ips := a.names()
	c, err := a.issue(dns, ips, now)
	if err != nil {
		return err
	}
	key := c.PrivateKey.(*ecdsa.PrivateKey)
	if err := writeKey(a.files.Key, key); err != nil {
		return err
	}
	if err := writeFile(a.files.Cert, pemBlock("CERTIFICATE", c.Certificate[0]), 0o644); err != nil {
		return err
	}
	a.leaf = *c
	return nil
}

// names are what the server's leaf covers.
func (a *Authority) names() (dns []string, ips []net.IP) {
	dns = []string{"localhost"}
	if a.domain != "localhost" {
		dns = append(dns, a.domain)
	}
	dns = append(dns, "*."+a.domain)
	return dns, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
}

// current reports whether c can keep serving: signed by the CA, not
// near its end, for exactly the names.
func (a *Authority) current(c tls.Certificate, now time.Time) bool {
	if len(c.Certificate) == 0 {
		return false
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil || leaf.CheckSignatureFrom(a.caCert) != nil {
		return false
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter.Add(-renewBefore)) {
		return false
	}
	dns, ips := a.names()
	if !slices.Equal(leaf.DNSNames, dns) || len(leaf.IPAddresses) != len(ips) {
		return false
	}
	for i, ip := range ips {
		if !ip.Equal(leaf.IPAddresses[i]) {
			return false
		}
	}
	return true
}

// issue makes a server certificate for the names, signed by the CA; it
// refuses names outside the CA's constraints, which no client would
// accept anyway.
func (a *Authority) issue(dns []string, ips []net.IP, now time.Time) (*tls.Certificate, error) {
	if err := a.checkNames(dns, ips); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("local CA: generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	cn := "localhost"
	if len(dns) > 0 {
		cn = dns[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"hako"}, CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.caCert, &key.PublicKey, a.caKey)
	if err != nil {
		return nil, fmt.Errorf("local CA: sign certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("local CA: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func parseCert(data []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("not a PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

func parseKey(data []byte) (*ecdsa.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("not a PEM key")
	}
	return x509.ParseECPrivateKey(b.Bytes)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("local CA: encode key: %w", err)
	}
	return writeFile(path, pemBlock("EC PRIVATE KEY", der), 0o600)
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

// writeFile writes through a rename, so a reader (or a crash) never
// sees half a file, with mode set whatever the umask.
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("local CA: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("local CA: write %s: %w", path, err)
	}
	return nil
}
