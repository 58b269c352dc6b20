package dyno

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"hako/engine"
)

// pollInterval is how often a booting web dyno's port is tried once it
// has been booting a while.
const pollInterval = 25 * time.Millisecond

// firstProbe is when a booting web dyno's port is first tried; each wait
// after doubles, up to pollInterval. Most apps bind within a few tens of
// milliseconds of starting, and a fixed 25 ms made every deploy and
// scale wait 12 ms for the probe on average.
const firstProbe = 2 * time.Millisecond

// probeTimer ticks the tries of a booting dyno's port.
type probeTimer struct {
	*time.Timer
	wait time.Duration
}

func newProbeTimer() *probeTimer {
	return &probeTimer{Timer: time.NewTimer(firstProbe), wait: firstProbe}
}

// again schedules the next try, after twice the last wait.
func (p *probeTimer) again() {
	p.wait = min(2*p.wait, pollInterval)
	p.Reset(p.wait)
}

// idlePollInterval is how often a stopping web dyno checks whether its
// last requests are answered.
const idlePollInterval = 5 * time.Millisecond

// drainTimeout bounds the wait for the last output lines of a process
// that exited: a daemon it left behind holding the pipe must not stall
// the supervisor.
const drainTimeout = time.Second

// dyno is one running dyno. A single goroutine (run) owns its processes
// and makes every state change, so Stop, crashes and restarts never race:
// Stop only asks, and waits for run to finish.
type dyno struct {
	sup    *Supervisor
	spec   engine.DynoSpec
	web    bool // it has a PORT and takes requests
	script string

	mu           sync.Mutex
	port         int            // where the serving process listens; changes when a web dyno is cycled
	host         string         // the serving process's address: its network namespace's, or loopback
	inflight     map[string]int // requests leased (see Lease) per address
	draining     bool           // Stop was called: no new leases
	state        string
	since        time.Time
	pid          int
	everUp       bool
	crashedEarly bool          // crashed before it first came up
	changed      chan struct{} // closed at each state change, for WaitUp

	lastR14 time.Time // when R14 was last logged; owned by run
	next    *process  // the process preboot replaced the serving one with; owned by run

	stopOnce sync.Once
	stopCh   chan struct{} // closed by Stop
	done     chan struct{} // closed when run has returned
}

var _ engine.Dyno = (*dyno)(nil)
var _ engine.Backend = (*dyno)(nil)

func newDyno(s *Supervisor, spec engine.DynoSpec) *dyno {
	return &dyno{
		sup:      s,
		spec:     spec,
		script:   WrapperScript(spec.Command),
		state:    engine.DynoStarting,
		since:    time.Now(),
		changed:  make(chan struct{}),
		inflight: map[string]int{},
		stopCh:   make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// Status returns a snapshot of the dyno, as `ps` shows it.
func (d *dyno) Status() engine.DynoStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	return engine.DynoStatus{
		Name:    d.spec.Name,
		Type:    d.spec.Type,
		App:     d.spec.App,
		Release: d.spec.Release,
		Command: d.spec.Command,
		State:   d.state,
		Since:   d.since,
		Port:    d.port,
		PID:     d.pid,
	}
}

// Addr is where the router sends requests to a web dyno: the address of
// its network namespace (127.0.0.1 without one) and its PORT.
// Name is the dyno's name (web.1), fixed for its life: the router's log
// line reads it per request.
func (d *dyno) Name() string { return d.spec.Name }

func (d *dyno) Addr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return hostPort(d.host, d.port)
}

// hostPort joins a process's address and port; "" for no port.
func hostPort(host string, port int) string {
	if port == 0 {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// serve records the address of the process that now serves the dyno.
func (d *dyno) serve(p *process, port int) {
	d.mu.Lock()
	d.host, d.port = p.host, port
	d.mu.Unlock()
}

// Lease gives the router the address for one request and counts the
// request until done is called, so that the process serving it is stopped
// only once it has answered (see waitIdle). A dyno that is not up, or is
// stopping, takes no lease.
func (d *dyno) Lease() (string, func(), bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.draining || d.state != engine.DynoUp || d.port == 0 {
		return "", nil, false
	}
	addr := hostPort(d.host, d.port)
	d.inflight[addr]++
	var once sync.Once
	return addr, func() {
		once.Do(func() {
			d.mu.Lock()
			if d.inflight[addr]--; d.inflight[addr] <= 0 {
				delete(d.inflight, addr)
			}
			d.mu.Unlock()
		})
	}, true
}

// waitIdle waits, at most limit, until no leased request is left on
// addr: the router no longer sends new ones there, and those it sent are
// answered before their process is stopped.
func (d *dyno) waitIdle(addr string, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		d.mu.Lock()
		n := d.inflight[addr]
		d.mu.Unlock()
		if n == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(idlePollInterval)
	}
}

// Up reports whether the dyno can take requests now.
func (d *dyno) Up() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state == engine.DynoUp
}

// WaitUp returns nil once the dyno is up. It fails as soon as the dyno
// crashes before ever coming up, or is stopped, so that a deploy does not
// wait out its whole timeout on a broken release.
func (d *dyno) WaitUp(ctx context.Context) error {
	for {
		d.mu.Lock()
		state, early, changed := d.state, d.crashedEarly, d.changed
		d.mu.Unlock()
		switch {
		case state == engine.DynoUp:
			return nil
		case state == engine.DynoDown:
			return fmt.Errorf("dyno %s of %s was stopped before it came up", d.spec.Name, d.spec.App)
		case early:
			return fmt.Errorf("dyno %s of %s crashed before it came up", d.spec.Name, d.spec.App)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("wait for dyno %s of %s to come up: %w", d.spec.Name, d.spec.App, ctx.Err())
		}
	}
}

// Stop ends every process of the dyno (SIGTERM, then SIGKILL after the
// grace period) and returns once they are gone. The dyno never restarts
// afterwards. Stop may be called many times and from many goroutines.
func (d *dyno) Stop() error {
	d.mu.Lock()
	d.draining = true
	d.mu.Unlock()
	d.stopOnce.Do(func() { close(d.stopCh) })
	<-d.done
	return nil
}

func (d *dyno) stopRequested() bool {
	select {
	case <-d.stopCh:
		return true
	default:
		return false
	}
}

// heroku logs a platform line for this dyno.
func (d *dyno) heroku(line string) {
	d.sup.log(d.spec.App, "heroku", d.spec.Name, line)
}

// setState records and logs a state change.
func (d *dyno) setState(state string) {
	d.mu.Lock()
	old := d.state
	if old == state {
		d.mu.Unlock()
		return
	}
	d.state, d.since = state, time.Now()
	switch state {
	case engine.DynoUp:
		d.everUp = true
	case engine.DynoCrashed:
		d.crashedEarly = d.crashedEarly || !d.everUp
	}
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
	d.heroku("State changed from " + old + " to " + state)
}

func (d *dyno) setPID(pid int) {
	d.mu.Lock()
	d.pid = pid
	d.mu.Unlock()
}

// launch starts one process of the dyno, listening on port for a web
// dyno, with its output going to the log.
func (d *dyno) launch(port int) (*process, error) {
	d.heroku("Starting process with command `" + d.spec.Command + "`")
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create output pipe: %w", err)
	}
	p, err := d.sup.spawn(procConfig{
		spec:   d.spec,
		port:   port,
		exe:    d.sup.opts.Exe,
		script: d.script,
		out:    w,
	})
	w.Close() // the child holds its own copy
	if err != nil {
		r.Close()
		return nil, err
	}
	p.outDone = make(chan struct{})
	go func() {
		defer r.Close()
		copyLines(r, func(line string) {
			d.sup.log(d.spec.App, "app", d.spec.Name, line)
		}, p.outDone)
	}()
	d.setPID(p.pid)
	return p, nil
}

// run keeps the dyno alive from its first process until Stop.
func (d *dyno) run(p *process) {
	defer close(d.done)
	defer d.sup.forget(d)
	crashes := 0
	for {
		started := time.Now()
		out := crashed
		if p != nil {
			out = d.supervise(p)
		}
		switch out {
		case stopped:
			return
		case cycled:
			crashes = 0
		case replaced:
			// Preboot left a new process serving in place of p.
			crashes = 0
			p, d.next = d.next, nil
			continue
		default:
			if time.Since(started) >= stableAfter {
				crashes = 0
			}
			crashes++
			if delay := backoff(crashes, d.sup.opts.RestartBackoff, d.sup.opts.MaxBackoff); delay > 0 {
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-d.stopCh:
					t.Stop()
				}
			}
		}
		if d.stopRequested() {
			d.setState(engine.DynoDown)
			return
		}
		if out != cycled {
			d.heroku("Restarting")
			d.setState(engine.DynoStarting)
		}
		var err error
		if p, err = d.launch(d.currentPort()); err != nil {
			d.heroku("Error: the process could not be started: " + err.Error())
			d.setState(engine.DynoCrashed)
		} else {
			d.serve(p, d.currentPort())
		}
	}
}

// supervise watches one process until it exits, is cycled or is killed
// for its memory use, and says how it ended.
func (d *dyno) supervise(p *process) outcome {
	var poll, boot, cycle, mem <-chan time.Time
	var probe *probeTimer
	if d.web {
		probe = newProbeTimer()
		defer probe.Stop()
		timer := time.NewTimer(d.sup.opts.BootTimeout)
		defer timer.Stop()
		poll, boot = probe.C, timer.C
	} else {
		d.setState(engine.DynoUp)
	}
	if after := d.sup.cycleDelay(); after > 0 {
		timer := time.NewTimer(after)
		defer timer.Stop()
		cycle = timer.C
	}
	if p.box.cgroupOf() != nil && d.sup.opts.MemoryLimit > 0 {
		ticker := time.NewTicker(memoryPollInterval)
		defer ticker.Stop()
		mem = ticker.C
	}
	for {
		select {
		case <-p.exited:
			return d.exited(p, d.stopRequested())
		case <-poll:
			if d.listening() {
				d.setState(engine.DynoUp)
				poll, boot = nil, nil
			} else {
				probe.again()
			}
		case <-boot:
			d.heroku("Error R10 (Boot timeout) -> Web process failed to bind to $PORT within " +
				humanDuration(d.sup.opts.BootTimeout) + " of launch")
			return d.killed(p)
		case <-mem:
			if d.overMemory(p) {
				return d.killed(p)
			}
		case <-cycle:
			if !d.web {
				return d.cycle(p)
			}
			out, next := d.preboot(p)
			if out != kept {
				d.next = next
				return out
			}
			// The replacement failed: p serves on, and is cycled again
			// later.
			cycle = time.After(d.sup.cycleDelay())
		case <-d.stopCh:
			d.stop(p)
			return stopped
		}
	}
}

// killed ends a process at once for a platform error, logged already.
func (d *dyno) killed(p *process) outcome {
	d.heroku("Stopping process with SIGKILL")
	p.kill()
	<-p.exited
	return d.exited(p, d.stopRequested())
}

// currentPort is the port of the serving process, 0 for a dyno without.
func (d *dyno) currentPort() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.port
}

// listening reports whether the web dyno's port accepts connections.
func (d *dyno) listening() bool {
	return listening(d.Addr())
}

// listening reports whether addr accepts connections.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// exited logs the end of a process that is gone and sets the state that
// follows: down when the dyno is being stopped, crashed otherwise (even
// for status 0: a dyno is meant to run until told to stop).
// A process the kernel killed at its hard memory limit gets its R15
// first: the limit acts between two checks of the memory use.
func (d *dyno) exited(p *process, stopping bool) outcome {
	d.drain(p)
	d.setPID(0)
	if p.oomKilled {
		d.r15(p)
	}
	d.heroku(fmt.Sprintf("Process exited with status %d", p.status))
	if stopping {
		d.setState(engine.DynoDown)
		return stopped
	}
	d.setState(engine.DynoCrashed)
	return crashed
}

// stop ends a running process the Heroku way, once the dyno is down and
// the requests it took are answered.
func (d *dyno) stop(p *process) {
	d.setState(engine.DynoDown)
	d.waitIdle(d.Addr(), d.sup.opts.StopGrace)
	d.sup.stopProcess(p, d.heroku)
	d.drain(p)
	d.setPID(0)
	d.heroku(fmt.Sprintf("Process exited with status %d", p.status))
}

// drain waits, briefly, for the last output of an exited process so that
// its lines come before the platform's verdict in the log.
func (d *dyno) drain(p *process) {
	waitOrTimeout(p.outDone, drainTimeout)
}

// waitOrTimeout reports whether ch closed before the timeout.
func waitOrTimeout(ch <-chan struct{}, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}
