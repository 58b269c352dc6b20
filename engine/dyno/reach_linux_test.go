package dyno

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"hako/engine"
)

// TestAddonReachPerApp runs one-off dynos of two apps, each given one of
// two add-on servers on the gateway by SetAddonReach: each reaches its
// own at 127.0.0.1 (its URL) and at the gateway, and the other's at
// neither; build steps, of no app, reach none. Once they end, the table
// lets no address reach anything.
func TestAddonReachPerApp(t *testing.T) {
	needRoot(t)
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces, StopGrace: time.Second})
	if s.net == nil {
		t.Fatalf("no network: %s", s.Isolation())
	}
	ports := map[string]int{}
	for _, app := range []string{"first", "second"} {
		l, err := net.Listen("tcp", net.JoinHostPort(s.net.gateway.String(), "0"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		ports[app] = l.Addr().(*net.TCPAddr).Port
		if err := s.Expose(ports[app]); err != nil {
			t.Fatal(err)
		}
	}
	s.SetAddonReach(func(app string) []int {
		if p, ok := ports[app]; ok {
			return []int{p}
		}
		return nil
	})
	probe := fmt.Sprintf(`python3 -c '
import socket
for name, port in (("first", %d), ("second", %d)):
    for host in ("127.0.0.1", %q):
        s = socket.socket(); s.settimeout(1)
        print(name, "loopback" if host == "127.0.0.1" else "gateway", "reached" if s.connect_ex((host, port)) == 0 else "unreached")
'`, ports["first"], ports["second"], s.net.gateway.String())
	for _, c := range []struct{ app, mine, other string }{{"first", "first", "second"}, {"second", "second", "first"}} {
		sp := spec(t, "run", "run.1", probe)
		sp.App = c.app
		var out bytes.Buffer
		if code, err := s.RunOnce(context.Background(), sp, nil, &out); err != nil || code != 0 {
			t.Fatalf("%s: exit %d, %v\n%s", c.app, code, err, out.String())
		}
		for _, want := range []string{c.mine + " loopback reached", c.mine + " gateway reached", c.other + " loopback unreached", c.other + " gateway unreached"} {
			if !strings.Contains("\n"+out.String(), "\n"+want+"\n") {
				t.Errorf("a dyno of %s: no line %q in:\n%s", c.app, want, out.String())
			}
		}
	}
	// A build step reaches the add-ons of the app it builds, as a dyno
	// does, and a step of no app's reaches none.
	build := func(app string) string {
		w := t.TempDir()
		cmd, done, err := s.Command(context.Background(), engine.SandboxSpec{
			Name: "reach", Argv: []string{"sh", "-c", probe},
			Env: []string{"PATH=" + os.Getenv("PATH"), "HAKO_TEST_RUN=" + testRun, "GORACE=atexit_sleep_ms=0"},
			Dir: w, Writable: []string{w}, App: app,
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.CombinedOutput()
		done()
		if err != nil {
			t.Fatalf("a build step of %q: %v\n%s", app, err, out)
		}
		return "\n" + string(out)
	}
	if out := build(""); strings.Contains(out, " reached") || !strings.Contains(out, "\nfirst gateway unreached\n") {
		t.Errorf("a build step of no app reached an add-on:%s", out)
	}
	out := build("first")
	for _, want := range []string{"first loopback reached", "first gateway reached", "second loopback unreached", "second gateway unreached"} {
		if !strings.Contains(out, "\n"+want+"\n") {
			t.Errorf("a build step of first: no line %q in:%s", want, out)
		}
	}
	set, err := exec.Command("nft", "list", "set", "inet", s.net.table, "addon_reach").CombinedOutput()
	if err != nil || strings.Contains(string(set), "elements") {
		t.Errorf("addon_reach after every process ended: %v\n%s", err, set)
	}
}

// BenchmarkLeaseAddonReach measures what a dyno's reach of its app's
// add-ons costs its start and end: the addon_reach elements added as its
// address is leased and removed as it is given back, one nft run each;
// BenchmarkLeaseNoAddons is the baseline of a dyno without add-ons.
//
//	go test ./engine/dyno -run '^$' -bench Lease -benchtime 200x
func BenchmarkLeaseAddonReach(b *testing.B) { benchLease(b, []int{5432, 6379}) }

func BenchmarkLeaseNoAddons(b *testing.B) { benchLease(b, nil) }

func benchLease(b *testing.B, ports []int) {
	if os.Geteuid() != 0 {
		b.Skip("the dynos' network needs root")
	}
	n, err := acquireNetwork(DefaultSubnet, nil, DefaultResolvConf)
	if err != nil {
		b.Fatal(err)
	}
	defer releaseNetwork(DefaultSubnet)
	for _, p := range ports {
		if err := n.expose(p); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		l, err := n.lease("bench", ports)
		if err != nil {
			b.Fatal(err)
		}
		l.release()
	}
}
