package dyno

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseSubnet(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{"10.213.0.0/16", "10.213.0.0/16", ""},
		{"10.213.7.9/24", "10.213.7.0/24", ""},
		{"100.64.0.0/10", "100.64.0.0/10", ""},
		{"10.0.0.0/29", "", "between /8 and /28"},
		{"10.0.0.0/7", "", "between /8 and /28"},
		{"fd00::/64", "", "not an IPv4 subnet"},
		{"10.213.0.0", "", "not an IPv4 subnet"},
	} {
		got, err := ParseSubnet(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSubnet(%q) = %v, %v; want an error saying %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ParseSubnet(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestPoolGivesEachAddressOnce(t *testing.T) {
	p := newPool(netip.MustParsePrefix("10.9.8.0/28"))
	if p.gateway.String() != "10.9.8.1" {
		t.Fatalf("gateway = %s, want 10.9.8.1", p.gateway)
	}
	var got []string
	for range 13 { // .2 to .14: not the network, gateway or broadcast address
		a, err := p.get()
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, a.String())
	}
	if got[0] != "10.9.8.2" || got[12] != "10.9.8.14" || slices.Contains(got, "10.9.8.15") {
		t.Errorf("addresses = %v, want 10.9.8.2 to 10.9.8.14", got)
	}
	if a, err := p.get(); err == nil {
		t.Fatalf("a full pool gave %s", a)
	}
	// Round-robin: a freed address comes back only once the others have
	// been handed out.
	p.put(netip.MustParseAddr("10.9.8.5"))
	p.put(netip.MustParseAddr("10.9.8.9"))
	a, _ := p.get()
	b, _ := p.get()
	if a.String() != "10.9.8.5" || b.String() != "10.9.8.9" {
		t.Errorf("after freeing .5 and .9 got %s, %s", a, b)
	}
}

func TestNetNamesFitInterfaceNames(t *testing.T) {
	a, ta := netNames(netip.MustParsePrefix("10.213.0.0/16"))
	b, _ := netNames(netip.MustParsePrefix("10.214.0.0/24"))
	if len(a) > 15 || a == b || !strings.HasPrefix(ta, "hako_") || strings.TrimPrefix(ta, "hako_") != strings.TrimPrefix(a, "hako") {
		t.Errorf("names %q, %q, table %q", a, b, ta)
	}
}

func TestMacForIsLocalUnicast(t *testing.T) {
	if got := macFor(netip.MustParseAddr("10.213.1.2")); got != "0a:58:0a:d5:01:02" {
		t.Errorf("macFor = %s", got)
	}
}

func TestLoopbackNameservers(t *testing.T) {
	for _, c := range []struct {
		conf string
		want []string
	}{
		{"nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n", []string{"127.0.0.53"}},
		{"# dnsmasq\nnameserver 127.0.0.1\nnameserver 10.0.0.2\nnameserver ::1\nnameserver 127.0.0.1\n", []string{"127.0.0.1"}},
		{"nameserver 192.168.1.1\n", nil},
		{"nameserver\nnameserver not-an-address\n  nameserver 127.1.2.3  # comment\n", []string{"127.1.2.3"}},
	} {
		path := filepath.Join(t.TempDir(), "resolv.conf")
		if err := os.WriteFile(path, []byte(c.conf), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := loopbackNameservers(path)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, a := range got {
			s = append(s, a.String())
		}
		if !slices.Equal(s, c.want) {
			t.Errorf("loopbackNameservers(%q) = %q, want %q", c.conf, s, c.want)
		}
	}
	if got, err := loopbackNameservers(filepath.Join(t.TempDir(), "none")); err != nil || got != nil {
		t.Errorf("a missing file: %v, %v", got, err)
	}
}

func TestParseNetworkMode(t *testing.T) {
	for in, want := range map[string]NetworkMode{"isolated": NetworkIsolated, "host": NetworkHost} {
		if got, err := ParseNetworkMode(in); err != nil || got != want {
			t.Errorf("ParseNetworkMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseNetworkMode("bridge"); err == nil {
		t.Error("ParseNetworkMode(bridge) succeeded")
	}
}

// hostOf is the host part of addr.
func hostOf(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	return host
}
