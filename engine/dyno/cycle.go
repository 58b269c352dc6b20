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
	crashed outcome = iota // it exited, or was killed for an error: restart with back-off
	stopped                // the dyno was stopped: no restart
	cycled                 // it was cycled: start a new one at once
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
