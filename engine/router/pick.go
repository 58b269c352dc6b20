package router

import (
	"math/rand/v2"

	"hako/engine"
)

// pick chooses the dyno for one request among all, the app's dynos as the
// table was read: a random up one, leased when it counts its requests
// (engine.Leaser) so that a dyno being replaced stops only once its
// requests are done. It returns the candidates in the order they are
// tried (the leased one first), where the lease sends the request, and
// the function that ends the lease; addr is "" when no dyno can take it.
//
// A dyno refuses a lease once it is stopping, which happens only after
// the table was switched away from it (preboot): then the table is read
// once more, so a request that read the table just before the switch
// goes to the new dynos rather than failing.
//
// The candidates are appended to buf[:0] (nil: a new slice).
func (rt *Router) pick(host string, all []engine.Backend, buf []engine.Backend) (candidates []engine.Backend, addr string, done func()) {
	for attempt := 0; attempt < 2; attempt++ {
		if attempt > 0 {
			_, all, _, _ = rt.route(host)
		}
		up := buf[:0]
		for _, b := range all {
			if b.Up() {
				up = append(up, b)
			}
		}
		rand.Shuffle(len(up), func(i, j int) { up[i], up[j] = up[j], up[i] })
		for i, b := range up {
			l, ok := b.(engine.Leaser)
			if !ok {
				return up[i:], b.Addr(), func() {}
			}
			if addr, done, ok := l.Lease(); ok {
				return up[i:], addr, done
			}
		}
		if len(up) == 0 {
			return nil, "", nil
		}
	}
	return nil, "", nil
}
