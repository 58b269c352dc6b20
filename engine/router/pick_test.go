package router

import (
	"sync"
	"testing"

	"hako/engine"
)

// leasingBackend counts its leases and refuses them once stopping, as a
// dyno does.
type leasingBackend struct {
	fakeBackend
	mu       sync.Mutex
	stopping bool
	leased   int
}

func (b *leasingBackend) Lease() (string, func(), bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopping {
		return "", nil, false
	}
	b.leased++
	return b.addr, func() {
		b.mu.Lock()
		b.leased--
		b.mu.Unlock()
	}, true
}

// TestPickLeases checks that the router leases the dyno it sends a
// request to, and that a request which read the table just before a
// preboot switch, and so holds only dynos that now refuse leases, reads
// the table again and goes to the new dynos.
func TestPickLeases(t *testing.T) {
	rt := New("localhost", newSink())
	old := &leasingBackend{fakeBackend: fakeBackend{addr: "127.0.0.1:1", up: true, name: "web.1", state: engine.DynoUp}}
	neu := &leasingBackend{fakeBackend: fakeBackend{addr: "127.0.0.1:2", up: true, name: "web.1", state: engine.DynoUp}}
	rt.SetBackends("app", []engine.Backend{old})

	_, stale, _, _ := rt.route("app.localhost")
	cands, addr, done := rt.pick("app.localhost", stale, nil)
	if addr != old.addr || len(cands) != 1 || old.leased != 1 {
		t.Fatalf("pick = %v %q, leases %d; want the old dyno leased", cands, addr, old.leased)
	}
	done()
	if old.leased != 0 {
		t.Errorf("leases after done: %d", old.leased)
	}

	// The switch: the table moves to the new dyno, the old one stops.
	rt.SetBackends("app", []engine.Backend{neu})
	old.stopping = true
	cands, addr, done = rt.pick("app.localhost", stale, nil)
	if addr != neu.addr || len(cands) != 1 || cands[0] != engine.Backend(neu) || neu.leased != 1 {
		t.Fatalf("pick with a stale table = %v %q; want the new dyno", cands, addr)
	}
	done()

	// No dyno takes it: nothing is picked.
	neu.stopping = true
	if _, addr, _ := rt.pick("app.localhost", stale, nil); addr != "" {
		t.Errorf("pick with every dyno stopping = %q, want none", addr)
	}
}
