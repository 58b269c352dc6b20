package dyno

import (
	"fmt"
	"math/rand/v2"
	"time"

	"hako/engine"
)

// memoryPollInterval is how often a dyno's memory use is checked against
// its quota.
const memoryPollInterval = 2 * time.Second

// r14Interval is how often, at most, R14 is logged for a dyno that stays
// above its quota.
const r14Interval = time.Minute

// outcome is how the watch over one process of a dyno ended.
type outcome int

const (
	crashed  outcome = iota // it exited, or was killed for an error: restart with back-off
	stopped                 // the dyno was stopped: no restart
	cycled                  // it was cycled: start a new one at once
	replaced                // preboot replaced it with a new process, already serving
	kept                    // preboot's new process failed: it serves on
)

// cycleDelay is how long a new process of a dyno runs before it is
// cycled, jitter included; zero means never.
func (s *Supervisor) cycleDelay() time.Duration {
	after := s.opts.CycleAfter
	if after <= 0 {
		return 0
	}
	if j := s.opts.CycleJitter; j > 0 {
		after += rand.N(j + 1)
	}
	return after
}

// cycle restarts a dyno's process the way Heroku's daily restart does:
// the dyno goes back to starting, its process is stopped (SIGTERM, grace,
// SIGKILL) and, unless the dyno is being stopped, a new one starts at
// once.
func (d *dyno) cycle(p *process) outcome {
	d.heroku("Cycling")
	d.setState(engine.DynoStarting)
	d.sup.stopProcess(p, d.heroku)
	d.drain(p)
	d.setPID(0)
	d.heroku(fmt.Sprintf("Process exited with status %d", p.status))
	return cycled
}

// preboot cycles a web dyno the way Heroku's preboot replaces one, so
// that no request finds it down: a new process starts on a port of its
// own next to the serving one; once the new one accepts connections the
// dyno's address moves to it (the router sends new requests there), the
// requests the old one took are answered, and only then is it stopped.
// The dyno stays up throughout. It returns replaced and the new process,
// kept when the new process failed to come up (it is gone, old serves
// on), or stopped when the dyno was stopped meanwhile (both are gone).
func (d *dyno) preboot(old *process) (outcome, *process) {
	d.heroku("Cycling")
	port, err := freePort()
	if err != nil {
		d.heroku("Error: the replacement could not be started: " + err.Error())
		return kept, nil
	}
	next, err := d.launch(port)
	if err != nil {
		d.heroku("Error: the replacement could not be started: " + err.Error())
		d.setPID(old.pid)
		return kept, nil
	}
	poll := newProbeTimer()
	defer poll.Stop()
	boot := time.NewTimer(d.sup.opts.BootTimeout)
	defer boot.Stop()
	for {
		select {
		case <-poll.C:
			if !listening(hostPort(next.host, port)) {
				poll.again()
				continue
			}
			oldAddr := d.Addr()
			d.serve(next, port)
			d.waitIdle(oldAddr, d.sup.opts.StopGrace)
			d.sup.stopProcess(old, d.heroku)
			d.drain(old)
			d.heroku(fmt.Sprintf("Process exited with status %d", old.status))
			return replaced, next
		case <-next.exited:
			d.drain(next)
			d.heroku(fmt.Sprintf("Process exited with status %d", next.status))
			d.heroku("The replacement crashed before it came up; the running process serves on")
			d.setPID(old.pid)
			return kept, nil
		case <-boot.C:
			d.heroku("Error R10 (Boot timeout) -> Web process failed to bind to $PORT within " +
				humanDuration(d.sup.opts.BootTimeout) + " of launch")
			d.heroku("Stopping process with SIGKILL")
			next.kill()
			<-next.exited
			d.drain(next)
			d.heroku(fmt.Sprintf("Process exited with status %d", next.status))
			d.setPID(old.pid)
			return kept, nil
		case <-old.exited:
			// The serving process died while its replacement boots: the
			// replacement is all there is, and serves once it is up.
			d.drain(old)
			d.heroku(fmt.Sprintf("Process exited with status %d", old.status))
			d.setState(engine.DynoStarting)
			d.serve(next, port)
			return replaced, next
		case <-d.stopCh:
			d.sup.stopProcess(next, d.heroku)
			d.drain(next)
			d.stop(old)
			return stopped, nil
		}
	}
}

// overMemory checks a process's memory use against the quota. Above the
// quota it logs R14 (once a minute at most) and lets the process run; it
// reports true, having logged R15, once the process reached twice the
// quota or the kernel killed one of its processes at that hard limit.
func (d *dyno) overMemory(p *process) bool {
	cg, quota := p.box.cgroupOf(), d.sup.opts.MemoryLimit
	if cg == nil || quota <= 0 {
		return false
	}
	used := cg.usage()
	if cg.oomKills() > 0 || used >= 2*quota {
		d.r15(p)
		return true
	}
	if used > quota && (d.lastR14.IsZero() || time.Since(d.lastR14) >= r14Interval) {
		d.lastR14 = time.Now()
		d.heroku(fmt.Sprintf("Process running mem=%dM(%.1f%%)", used>>20, 100*float64(used)/float64(quota)))
		d.heroku("Error R14 (Memory quota exceeded)")
	}
	return false
}

// r15 logs, once per process, that it was killed for its memory use.
func (d *dyno) r15(p *process) {
	if !p.r15 {
		p.r15 = true
		d.heroku("Error R15 (Memory quota vastly exceeded)")
	}
}
