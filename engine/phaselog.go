package engine

import (
	"sync"
)

// The output of release phases is kept for Heroku's releases:output (a
// release's output_stream_url): each release's up to maxPhaseLog bytes,
// for the last keptPhaseLogs releases of the server's life.
const (
	maxPhaseLog   = 1 << 20
	keptPhaseLogs = 100
)

// PhaseLog is the output of one release phase, growing while it runs.
type PhaseLog struct {
	mu      sync.Mutex
	buf     []byte
	done    bool
	changed chan struct{}
}

// Write appends output, dropping what passes maxPhaseLog.
func (p *PhaseLog) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if room := maxPhaseLog - len(p.buf); room > 0 {
		p.buf = append(p.buf, b[:min(len(b), room)]...)
	}
	p.wake()
	return len(b), nil
}

func (p *PhaseLog) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = true
	p.wake()
}

// wake tells readers something changed; the caller holds p.mu.
func (p *PhaseLog) wake() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Read returns the output from offset on, whether the phase has ended,
// and a channel closed at the next change.
func (p *PhaseLog) Read(offset int) (chunk []byte, done bool, changed <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if offset < len(p.buf) {
		chunk = append([]byte(nil), p.buf[offset:]...)
	}
	return chunk, p.done, p.changed
}

// phaseLogs are the kept PhaseLogs by release id.
type phaseLogs struct {
	mu    sync.Mutex
	m     map[string]*PhaseLog
	order []string
}

func (l *phaseLogs) start(releaseID string) *PhaseLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*PhaseLog{}
	}
	p := &PhaseLog{changed: make(chan struct{})}
	l.m[releaseID] = p
	l.order = append(l.order, releaseID)
	for len(l.order) > keptPhaseLogs {
		delete(l.m, l.order[0])
		l.order = l.order[1:]
	}
	return p
}

// ReleaseOutput returns the output of a release's release phase, while
// it runs or once it ran in this server's life; nil if none is kept.
func (e *Engine) ReleaseOutput(releaseID string) *PhaseLog {
	e.phaseLogs.mu.Lock()
	defer e.phaseLogs.mu.Unlock()
	return e.phaseLogs.m[releaseID]
}
