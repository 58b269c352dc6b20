package e2e

import (
	"strings"
	"testing"
)

// TestDomains routes a custom hostname to an app through the router.
func TestDomains(t *testing.T) {
	need(t, "python3")
	s := startServer(t)
	s.hako(t, "apps:create", "shop")
	s.hako(t, "apps:create", "other-shop")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "shop", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "shop", "hello from procfile")
	if out := s.hako(t, "domains:add", "www.shop.test", "-a", "shop"); !strings.Contains(out, "Adding www.shop.test to ⬢ shop... done") {
		t.Errorf("domains:add:\n%s", out)
	}
	req := func(host string) int {
		code, _, _ := s.getHost(host, "/")
		return code
	}
	if code := req("www.shop.test"); code != 200 {
		t.Errorf("custom domain: status %d, want 200", code)
	}
	if out, err := s.run("domains:add", "www.shop.test", "-a", "other-shop"); err == nil || !strings.Contains(out, "already a domain of another app") {
		t.Errorf("duplicate domain: %v\n%s", err, out)
	}
	if out := s.hako(t, "domains", "-a", "shop"); !strings.Contains(out, "=== ⬢ shop Custom Domains\nwww.shop.test") {
		t.Errorf("domains:\n%s", out)
	}
	s.stop()
	s.start()
	s.waitBody(t, "shop", "hello from procfile")
	if code := req("www.shop.test"); code != 200 {
		t.Errorf("custom domain after a restart: status %d, want 200", code)
	}
	s.hako(t, "domains:remove", "www.shop.test", "-a", "shop")
	if code := req("www.shop.test"); code != 404 {
		t.Errorf("removed domain: status %d, want 404", code)
	}
}
