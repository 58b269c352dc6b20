package localproc

import (
	"sync"
	"time"
)

// Restarts is the one restart policy of local servers: a server that
// died on its own is started again after a delay that doubles, from a
// second up to a minute, while it keeps dying young or failing to start;
// one that ran for a minute starts the count again. The zero value is
// ready; keep one per server.
type Restarts struct {
	mu    sync.Mutex
	delay time.Duration
}

// healthy is how long a server must have run for its death to be taken
// as a new trouble rather than the same one again.
const healthy = time.Minute

// Died is told that a server died on its own after running for uptime.
// After the delay it calls restart on a goroutine of its own; restart
// takes the add-on's lock, does nothing and reports true when the server
// is no longer wanted or already runs again, and reports false when it
// failed, to be tried again after a longer delay.
func (r *Restarts) Died(uptime time.Duration, restart func() bool) {
	r.mu.Lock()
	if uptime > healthy {
		r.delay = 0
	}
	r.mu.Unlock()
	r.schedule(restart)
}

func (r *Restarts) schedule(restart func() bool) {
	r.mu.Lock()
	r.delay = min(max(2*r.delay, time.Second), time.Minute)
	d := r.delay
	r.mu.Unlock()
	time.AfterFunc(d, func() {
		if !restart() {
			r.schedule(restart)
		}
	})
}
