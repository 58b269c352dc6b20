package localca

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// The CA is name-constrained (RFC 5280 4.2.1.10), so that trusting it
// trusts it for hako's own names and nothing else: its key, were it
// stolen, or a bug that signs an arbitrary name could otherwise
// impersonate any site to the user who trusted it. Its certificate
// carries critical NameConstraints permitting the DNS names localhost
// and DOMAIN (each with every name under it) and the IP addresses
// 127.0.0.1 and ::1, the only addresses the server's certificate names,
// and an extended key usage of serverAuth alone, so that it vouches for
// TLS servers and for no mail, code or client. Go, OpenSSL (curl, git,
// psql), Node.js and browsers refuse a certificate of a name outside
// the constraints, whoever signed it with the key; issue refuses to
// sign one in the first place.
//
// Constraints are fixed when the CA is made, so a CA that does not
// permit what the server now serves (a CA made by an older hako with no
// constraints, or --domain moved outside them) is replaced at start,
// and Replaced says so: the documented ways of trusting the CA
// (NODE_EXTRA_CA_CERTS, git's http.sslCAInfo, curl --cacert) name the
// file, so they follow; a copy in a system store must be made again.

// permittedFor returns the names a CA for domain may sign.
func permittedFor(domain string) (dns []string, ips []*net.IPNet) {
	dns = []string{"localhost"}
	if domain != "localhost" && !strings.HasSuffix(domain, ".localhost") {
		dns = append(dns, domain)
	}
	return dns, []*net.IPNet{
		{IP: net.IPv4(127, 0, 0, 1).To4(), Mask: net.CIDRMask(32, 32)},
		{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
	}
}

// checkDomain refuses a --domain that is not a DNS name: the CA's
// constraints and the certificates' names are made of it.
func checkDomain(domain string) error {
	if domain == "" {
		return errors.New("local CA: no domain")
	}
	if net.ParseIP(domain) != nil {
		return fmt.Errorf("local CA: domain %q is an IP address, not a DNS name", domain)
	}
	if len(domain) > 253 {
		return fmt.Errorf("local CA: domain %q is longer than a DNS name may be", domain)
	}
	for _, label := range strings.Split(domain, ".") {
		if !isLabel(label) {
			return fmt.Errorf("local CA: domain %q is not a DNS name (letters, digits and hyphens, in labels joined by dots)", domain)
		}
	}
	return nil
}

// permits reports whether the CA's constraints allow name, a DNS name
// (a wildcard included) or an IP address. A CA with no constraints of
// the name's kind permits nothing of that kind: Load never keeps one.
func (a *Authority) permits(name string) bool {
	if ip := net.ParseIP(name); ip != nil {
		for _, r := range a.caCert.PermittedIPRanges {
			if r.Contains(ip) {
				return true
			}
		}
		return false
	}
	name = strings.ToLower(name)
	for _, c := range a.caCert.PermittedDNSDomains {
		c = strings.ToLower(c)
		if strings.HasPrefix(c, ".") && strings.HasSuffix(name, c) ||
			name == c || strings.HasSuffix(name, "."+c) {
			return true
		}
	}
	return false
}

// constrained reports why the loaded CA cannot keep serving, or ""
// when its critical constraints permit every name the server's
// certificate carries.
func (a *Authority) constrained() string {
	c := a.caCert
	if !c.PermittedDNSDomainsCritical || len(c.PermittedDNSDomains) == 0 || len(c.PermittedIPRanges) == 0 {
		return "had no name constraints (made by an older hako), so it could sign for any site"
	}
	dns, ips := a.names()
	for _, name := range dns {
		if !a.permits(name) {
			return fmt.Sprintf("may only sign for %s, not for %s", a.scope(), a.domain)
		}
	}
	for _, ip := range ips {
		if !a.permits(ip.String()) {
			return fmt.Sprintf("may only sign for %s, not for %s", a.scope(), ip)
		}
	}
	return ""
}

// scope names what the CA may sign for, for messages.
func (a *Authority) scope() string {
	var names []string
	for _, d := range a.caCert.PermittedDNSDomains {
		names = append(names, d+" (and names under it)")
	}
	for _, r := range a.caCert.PermittedIPRanges {
		ones, bits := r.Mask.Size()
		if ones == bits {
			names = append(names, r.IP.String())
		} else {
			names = append(names, r.String())
		}
	}
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, ", ")
}

// checkNames refuses names outside the CA's constraints, before any
// certificate is signed for them.
func (a *Authority) checkNames(dns []string, ips []net.IP) error {
	for _, name := range dns {
		if !a.permits(name) {
			return fmt.Errorf("local CA: refusing to sign a certificate for %q: the CA may only sign for %s", name, a.scope())
		}
	}
	for _, ip := range ips {
		if !a.permits(ip.String()) {
			return fmt.Errorf("local CA: refusing to sign a certificate for %s: the CA may only sign for %s", ip, a.scope())
		}
	}
	return nil
}
