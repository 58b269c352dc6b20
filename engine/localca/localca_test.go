package localca

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func load(t *testing.T, dir, domain string, now time.Time) *Authority {
	t.Helper()
	a, err := Load(FilesIn(dir), domain, now)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// verify checks that the leaf a serves for sni chains to the CA and
// covers name.
func verify(a *Authority, sni, name string) error {
	c, err := a.certificate(&tls.ClientHelloInfo{ServerName: sni})
	if err != nil {
		return err
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(a.CA())
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: time.Now()})
	return err
}

// TestFirstStart makes the CA with its key private and its certificate
// readable, and a leaf for the loopback names and the domain.
func TestFirstStart(t *testing.T) {
	dir := t.TempDir()
	a := load(t, dir, "localhost", time.Now())
	f := FilesIn(dir)
	for path, mode := range map[string]os.FileMode{f.CACert: 0o644, f.CAKey: 0o600, f.Cert: 0o644, f.Key: 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", filepath.Base(path), st.Mode().Perm(), mode)
		}
	}
	if a.CAFile() != filepath.Join(dir, "ca.pem") {
		t.Errorf("CAFile = %s", a.CAFile())
	}
	if !a.CA().IsCA || a.CA().PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("CA: IsCA %v, algorithm %v", a.CA().IsCA, a.CA().PublicKeyAlgorithm)
	}
	for _, tc := range []struct {
		sni, name string
		ok        bool
	}{
		{"", "127.0.0.1", true},
		{"", "::1", true},
		{"localhost", "localhost", true},
		{"", "myapp.localhost", true},                // the wildcard (Go accepts *.localhost)
		{"myapp.localhost", "myapp.localhost", true}, // minted for the name
		{"", "example.com", false},
		{"example.com", "example.com", false}, // never minted for other names
		{"a.b.localhost", "a.b.localhost", false},
		{"../x.localhost", "../x.localhost", false},
	} {
		err := verify(a, tc.sni, tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("sni %q, name %q: err %v, want ok=%v", tc.sni, tc.name, err, tc.ok)
		}
	}
	// A custom domain under the domain gets one when Extra knows it;
	// one outside the CA's constraints never does, known or not.
	a.Extra = func(host string) bool { return host == "www.myapp.localhost" || host == "www.example.test" }
	if err := verify(a, "www.myapp.localhost", "www.myapp.localhost"); err != nil {
		t.Errorf("custom domain: %v", err)
	}
	if err := verify(a, "other.myapp.localhost", "other.myapp.localhost"); err == nil {
		t.Error("minted for a host Extra does not know")
	}
	if err := verify(a, "www.example.test", "www.example.test"); err == nil {
		t.Error("minted for a custom domain outside the CA's constraints")
	}
	minted, _ := a.certificate(&tls.ClientHelloInfo{ServerName: "myapp.localhost"})
	if got := minted.Leaf.DNSNames; len(got) != 1 || got[0] != "myapp.localhost" {
		t.Errorf("minted names %v, want exactly myapp.localhost", got)
	}
}

// TestRestart keeps the CA and the leaf; a new domain or a leaf near its
// end gets a new leaf from the same CA.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	first := load(t, dir, "localhost", now)
	serial := func(a *Authority) string { return a.leaf.Leaf.SerialNumber.String() }
	if first.leaf.Leaf == nil {
		first.leaf.Leaf, _ = x509.ParseCertificate(first.leaf.Certificate[0])
	}
	again := load(t, dir, "localhost", now)
	if !again.CA().Equal(first.CA()) {
		t.Fatal("a restart made a new CA")
	}
	if again.leaf.Leaf == nil {
		again.leaf.Leaf, _ = x509.ParseCertificate(again.leaf.Certificate[0])
	}
	if serial(again) != serial(first) {
		t.Error("a restart made a new leaf though the old one was good")
	}
	// A domain under localhost is within the CA's constraints: same CA.
	under := load(t, dir, "apps.localhost", now)
	if !under.CA().Equal(first.CA()) || under.Replaced() != "" {
		t.Fatalf("--domain apps.localhost made a new CA: %s", under.Replaced())
	}
	if err := verify(under, "myapp.apps.localhost", "myapp.apps.localhost"); err != nil {
		t.Errorf("after --domain apps.localhost: %v", err)
	}
	// One outside them needs a CA that may sign for it, said at start.
	moved := load(t, dir, "hako.test", now)
	if moved.CA().Equal(first.CA()) {
		t.Fatal("--domain hako.test kept a CA limited to localhost")
	}
	want := "local CA: the CA in " + FilesIn(dir).CACert + " may only sign for localhost (and names under it), 127.0.0.1, ::1, not for hako.test: " +
		"replaced it with a new CA for localhost (and names under it), hako.test (and names under it), 127.0.0.1, ::1; " +
		"trust the new ca.pem wherever you had copied the old one (settings that name the file by `hako ca:path` follow it)"
	if moved.Replaced() != want {
		t.Errorf("notice:\n%s\nwant\n%s", moved.Replaced(), want)
	}
	if back := load(t, dir, "localhost", now); !back.CA().Equal(moved.CA()) {
		t.Error("going back to localhost replaced a CA that permits it")
	}
	moved = load(t, dir, "hako.test", now)
	if err := verify(moved, "", "www.hako.test"); err != nil {
		t.Errorf("after --domain hako.test: %v", err)
	}
	if err := verify(moved, "", "hako.test"); err != nil {
		t.Errorf("after --domain hako.test: %v", err)
	}
	if err := verify(moved, "", "x.localhost"); err == nil {
		t.Error("the leaf still covers the old domain")
	}
	late := load(t, dir, "hako.test", now.Add(leafLifetime-renewBefore+time.Hour))
	if late.leaf.Leaf == nil {
		late.leaf.Leaf, _ = x509.ParseCertificate(late.leaf.Certificate[0])
	}
	if serial(late) == serial(moved) {
		t.Error("a leaf near its end was not renewed")
	}
}

// TestHalfCA refuses to start with one of the CA's two files: a new CA
// would silently undo the trust the user gave the old one.
func TestHalfCA(t *testing.T) {
	dir := t.TempDir()
	load(t, dir, "localhost", time.Now())
	if err := os.Remove(FilesIn(dir).CAKey); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(FilesIn(dir), "localhost", time.Now()); err == nil {
		t.Fatal("loaded a CA without its key")
	}
	if _, err := os.Stat(FilesIn(dir).CAKey); !os.IsNotExist(err) {
		t.Fatal("a key was written for the old certificate")
	}
}
