package postgres

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// The server's certificate and key, in its data directory, where
// PostgreSQL resolves the relative names given to ssl_cert_file and
// ssl_key_file.
const (
	tlsCert = "hako-server.crt"
	tlsKey  = "hako-server.key"
)

// tlsSettings turn TLS on with the files ensureTLS writes: Heroku's
// databases take only TLS connections, and clients written for them
// (the heroku CLI's pg:psql sets PGSSLMODE=require for any host but
// localhost) insist on it. Plain connections stay allowed, for apps that
// never asked for TLS.
var tlsSettings = []string{"-c", "ssl=on", "-c", "ssl_cert_file=" + tlsCert, "-c", "ssl_key_file=" + tlsKey}

// ensureTLS writes a self-signed certificate for the server, once, into
// its data directory: the key readable by the server's user only, as
// PostgreSQL demands. sslmode=require, which Heroku's clients use,
// encrypts without checking the certificate; a client wanting
// verify-full may trust this one (hako-server.crt in the data directory).
func (p *Provider) ensureTLS() error {
	crtPath, keyPath := filepath.Join(p.lay.data, tlsCert), filepath.Join(p.lay.data, tlsKey)
	if isFile(crtPath) && isFile(keyPath) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("postgres: TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("postgres: TLS serial: %w", err)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if ip := net.ParseIP(p.opts.Host); ip != nil {
		ips = append(ips, ip)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"hako"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("postgres: TLS certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("postgres: TLS key: %w", err)
	}
	if err := p.writeOwned(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return p.writeOwned(crtPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeOwned writes a file of the data directory, owned by the server's
// user when hako runs the server as that user.
func (p *Provider) writeOwned(path string, b []byte, mode os.FileMode) error {
	// The directory is the server's user's: what it may have left there
	// (a link) is removed, and the new file made, never followed.
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("postgres: %w", err)
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, mode)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("postgres: %w", err)
	}
	if p.lay.asUser {
		if err := os.Chown(tmp, p.lay.uid, p.lay.gid); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("postgres: %w", err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}
