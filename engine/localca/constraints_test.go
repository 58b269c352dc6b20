package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"net"
	"os"
	"slices"
	"testing"
	"time"
)

// oidNameConstraints is id-ce-nameConstraints (RFC 5280 4.2.1.10).
var oidNameConstraints = asn1.ObjectIdentifier{2, 5, 29, 30}

// readCA parses the CA certificate as a user would find it on disk.
func readCA(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(FilesIn(dir).CACert)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseCert(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCAConstraints: the CA certificate carries critical name
// constraints permitting the domain, localhost and loopback alone, and
// vouches for TLS servers only.
func TestCAConstraints(t *testing.T) {
	for _, tc := range []struct {
		domain string
		dns    []string
	}{
		{"localhost", []string{"localhost"}},
		{"apps.localhost", []string{"localhost"}},
		{"class.test", []string{"localhost", "class.test"}},
		{"10.0.0.5.nip.io", []string{"localhost", "10.0.0.5.nip.io"}},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			dir := t.TempDir()
			load(t, dir, tc.domain, time.Now())
			ca := readCA(t, dir)
			critical := false
			for _, ext := range ca.Extensions {
				if ext.Id.Equal(oidNameConstraints) {
					critical = ext.Critical
				}
			}
			if !critical || !ca.PermittedDNSDomainsCritical {
				t.Error("the name constraints are missing or not critical")
			}
			if !slices.Equal(ca.PermittedDNSDomains, tc.dns) {
				t.Errorf("permitted DNS %q, want %q", ca.PermittedDNSDomains, tc.dns)
			}
			var ips []string
			for _, r := range ca.PermittedIPRanges {
				ips = append(ips, r.String())
			}
			if want := []string{"127.0.0.1/32", "::1/128"}; !slices.Equal(ips, want) {
				t.Errorf("permitted IP ranges %q, want %q", ips, want)
			}
			if len(ca.ExcludedDNSDomains)+len(ca.ExcludedIPRanges)+len(ca.PermittedEmailAddresses)+len(ca.PermittedURIDomains) != 0 {
				t.Error("constraints beyond the permitted DNS names and IP ranges")
			}
			if !slices.Equal(ca.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("CA extended key usage %v, want serverAuth alone", ca.ExtKeyUsage)
			}
		})
	}
}

// forge signs a server certificate for the names directly with the CA's
// key, as whoever stole the key would, bypassing issue's check.
func forge(t *testing.T, a *Authority, dns []string, ips []net.IP) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "forged"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.CA(), &key.PublicKey, a.caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStolenKey: a certificate signed with the CA's key verifies for the
// names the CA permits, and fails because of the constraints for any
// other, even when it also names a permitted one.
func TestStolenKey(t *testing.T) {
	dir := t.TempDir()
	a := load(t, dir, "class.test", time.Now())
	roots := x509.NewCertPool()
	roots.AddCert(readCA(t, dir))
	for _, tc := range []struct {
		name   string
		dns    []string
		ips    []net.IP
		verify string // the name checked, as a client would
		ok     bool
	}{
		{"app under the domain", []string{"myapp.class.test"}, nil, "myapp.class.test", true},
		{"the domain", []string{"class.test"}, nil, "class.test", true},
		{"an app under localhost", []string{"myapp.localhost"}, nil, "myapp.localhost", true},
		{"loopback", nil, []net.IP{net.IPv4(127, 0, 0, 1)}, "127.0.0.1", true},
		{"another site", []string{"example.com"}, nil, "example.com", false},
		{"another site beside a permitted name", []string{"myapp.class.test", "example.com"}, nil, "myapp.class.test", false},
		{"a suffix that is not a subdomain", []string{"evilclass.test"}, nil, "evilclass.test", false},
		{"a wildcard for another site", []string{"*.example.com"}, nil, "www.example.com", false},
		{"another address", nil, []net.IP{net.IPv4(10, 0, 0, 1)}, "10.0.0.1", false},
		{"another loopback address", nil, []net.IP{net.IPv4(127, 0, 0, 2)}, "127.0.0.2", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := forge(t, a, tc.dns, tc.ips)
			_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: tc.verify, CurrentTime: time.Now()})
			if tc.ok {
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				return
			}
			var invalid x509.CertificateInvalidError
			if !errors.As(err, &invalid) || invalid.Reason != x509.CANotAuthorizedForThisName {
				t.Fatalf("verify: %v, want the CA not authorized for this name", err)
			}
		})
	}
}

// TestIssueRefuses: the CA signs nothing outside its constraints, and a
// custom domain outside them gets the server's certificate, not one of
// its own.
func TestIssueRefuses(t *testing.T) {
	a := load(t, t.TempDir(), "localhost", time.Now())
	for _, tc := range []struct {
		dns  []string
		ips  []net.IP
		want string
	}{
		{[]string{"example.com"}, nil, `local CA: refusing to sign a certificate for "example.com": the CA may only sign for localhost (and names under it), 127.0.0.1, ::1`},
		{[]string{"myapp.localhost", "*.example.com"}, nil, `local CA: refusing to sign a certificate for "*.example.com": the CA may only sign for localhost (and names under it), 127.0.0.1, ::1`},
		{[]string{"notlocalhost"}, nil, `local CA: refusing to sign a certificate for "notlocalhost": the CA may only sign for localhost (and names under it), 127.0.0.1, ::1`},
		{nil, []net.IP{net.ParseIP("192.168.1.5")}, `local CA: refusing to sign a certificate for 192.168.1.5: the CA may only sign for localhost (and names under it), 127.0.0.1, ::1`},
	} {
		c, err := a.issue(tc.dns, tc.ips, time.Now())
		if c != nil || err == nil || err.Error() != tc.want {
			t.Errorf("issue(%q, %v): %v, want %s", tc.dns, tc.ips, err, tc.want)
		}
	}
	a.Extra = func(string) bool { return true }
	if err := verify(a, "example.com", "example.com"); err == nil {
		t.Error("a custom domain outside the constraints got a certificate")
	}
	if len(a.minted) != 0 {
		t.Errorf("minted %d certificates for names outside the constraints", len(a.minted))
	}
}

// TestOlderCA: a CA with no name constraints, as older versions made, is
// replaced at start (its key overwritten), with a notice; the new CA is
// kept from then on.
func TestOlderCA(t *testing.T) {
	dir := t.TempDir()
	f := FilesIn(dir)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hako local CA old"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeKey(f.CAKey, key); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(f.CACert, pemBlock("CERTIFICATE", der), 0o644); err != nil {
		t.Fatal(err)
	}
	oldKey, _ := os.ReadFile(f.CAKey)

	a := load(t, dir, "localhost", time.Now())
	want := "local CA: the CA in " + f.CACert + " had no name constraints (made by an older hako), so it could sign for any site: " +
		"replaced it with a new CA for localhost (and names under it), 127.0.0.1, ::1; " +
		"trust the new ca.pem wherever you had copied the old one (settings that name the file by `hako ca:path` follow it)"
	if a.Replaced() != want {
		t.Errorf("notice:\n%s\nwant\n%s", a.Replaced(), want)
	}
	ca := readCA(t, dir)
	if !ca.PermittedDNSDomainsCritical || ca.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
		t.Fatal("the CA on disk is still the unconstrained one")
	}
	if newKey, _ := os.ReadFile(f.CAKey); string(newKey) == string(oldKey) {
		t.Error("the unconstrained CA's key is still in the home")
	}
	if err := verify(a, "myapp.localhost", "myapp.localhost"); err != nil {
		t.Errorf("the new CA's certificates: %v", err)
	}
	again := load(t, dir, "localhost", time.Now())
	if !again.CA().Equal(ca) || again.Replaced() != "" {
		t.Errorf("a restart replaced the constrained CA: %s", again.Replaced())
	}
}

// TestDomainChecked: a --domain that is no DNS name is refused before
// anything is written.
func TestDomainChecked(t *testing.T) {
	for _, d := range []string{"10.0.0.5", "::1", "under_score.test", "a..b", "-x.test", "*.test", "host:80", ""} {
		dir := t.TempDir()
		if _, err := Load(FilesIn(dir), d, time.Now()); err == nil {
			t.Errorf("--domain %q: loaded", d)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("--domain %q: wrote %d files", d, len(entries))
		}
	}
	for _, d := range []string{"localhost", "class.test", "10.0.0.5.nip.io", "Hako.Test."} {
		if _, err := Load(FilesIn(t.TempDir()), d, time.Now()); err != nil {
			t.Errorf("--domain %q: %v", d, err)
		}
	}
}
