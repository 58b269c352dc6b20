package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// The output of release phases is kept for Heroku's releases:output (a
// release's output_stream_url): each release's first maxPhaseLog bytes,
// on disk beside the app's builds' output
// (Paths.Builds/APP_ID/releases/RELEASE_ID.log), so that the URL serves
// it after a restart too. An app keeps the output of its last
// keptPhaseLogs release phases, and loses it with the app; the server
// holds the last keptPhaseLogs of its life in memory besides, while they
// run and to answer them without a look on disk.
const (
	maxPhaseLog   = 1 << 20
	keptPhaseLogs = 100
)

// PhaseLog is the output of one release phase, growing while it runs.
type PhaseLog struct {
	mu sync.Mutex
	// path is the output's file, written through f while the phase
	// runs; "" when the layout keeps none, the output then lies in buf.
	path string
	f    *os.File
	// running is the file that stands while the phase runs (see
	// phaseRunningSuffix); "" when none is kept.
	running string
	size    int
	buf     []byte
	done    bool
	changed chan struct{}
}

// Write appends output, dropping what passes maxPhaseLog. It never
// fails: losing output must not fail a release.
func (p *PhaseLog) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if room := maxPhaseLog - p.size; room > 0 && !p.done {
		kept := b[:min(len(b), room)]
		switch {
		case p.f != nil:
			if _, err := p.f.Write(kept); err != nil {
				p.f.Close()
				p.f = nil
			}
		case p.path == "":
			p.buf = append(p.buf, kept...)
		}
		p.size += len(kept)
	}
	p.wake()
	return len(b), nil
}

func (p *PhaseLog) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
	if p.running != "" {
		_ = os.Remove(p.running)
		p.running = ""
	}
	p.done = true
	p.wake()
}

// wake tells readers something changed; the caller holds p.mu.
func (p *PhaseLog) wake() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Read returns the output from offset on (at most 64 KiB from a file),
// whether the phase has ended and nothing is left past the chunk, and a
// channel closed at the next change.
func (p *PhaseLog) Read(offset int) (chunk []byte, done bool, changed <-chan struct{}) {
	p.mu.Lock()
	done, changed, path := p.done, p.changed, p.path
	if path == "" {
		if offset < len(p.buf) {
			chunk = append([]byte(nil), p.buf[offset:]...)
		}
		p.mu.Unlock()
		return chunk, done, changed
	}
	p.mu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return nil, true, changed
	}
	defer f.Close()
	buf := make([]byte, buildReadChunk)
	n, err := f.ReadAt(buf, int64(offset))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, true, changed
	}
	return buf[:n], done && errors.Is(err, io.EOF), changed
}

// phaseLogs are the PhaseLogs of this server's life by release id, the
// last keptPhaseLogs of them.
type phaseLogs struct {
	mu    sync.Mutex
	m     map[string]*PhaseLog
	order []string
}

func (l *phaseLogs) start(releaseID string, p *PhaseLog) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*PhaseLog{}
	}
	l.m[releaseID] = p
	l.order = append(l.order, releaseID)
	for len(l.order) > keptPhaseLogs {
		delete(l.m, l.order[0])
		l.order = l.order[1:]
	}
}

// phaseLogDir holds the release phases' output of the app with id
// appID; "" when the layout keeps none.
func (e *Engine) phaseLogDir(appID string) string {
	if dir := e.Paths.AppBuilds(appID); dir != "" {
		return filepath.Join(dir, "releases")
	}
	return ""
}

// startPhaseLog opens the output of rel's release phase, on disk when
// the layout keeps it, and forgets the app's oldest past keptPhaseLogs.
func (e *Engine) startPhaseLog(app string, rel *Release) *PhaseLog {
	p := &PhaseLog{changed: make(chan struct{})}
	defer e.phaseLogs.start(rel.ID, p)
	a, err := e.Store.App(app)
	if err != nil || !isBuildID(rel.ID) {
		return p
	}
	dir := e.phaseLogDir(a.ID)
	if dir == "" {
		return p
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		e.logf("keep the release phase output of %s v%d: %v", app, rel.Version, err)
		return p
	}
	path := filepath.Join(dir, rel.ID+".log")
	// The mark first: output without it reads as a phase that ended.
	if err := os.WriteFile(path+phaseRunningSuffix, nil, 0o600); err != nil {
		e.logf("keep the release phase output of %s v%d: %v", app, rel.Version, err)
		return p
	}
	p.running = path + phaseRunningSuffix
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		e.logf("keep the release phase output of %s v%d: %v", app, rel.Version, err)
		return p
	}
	p.path, p.f = path, f
	prunePhaseLogs(dir, rel.ID+".log", keptPhaseLogs)
	return p
}

// phaseRunningSuffix names, after a release phase's output file, the
// empty file that stands while the phase runs: one left at a server's
// start tells that the server stopped during the phase (see
// endInterruptedPhase).
const phaseRunningSuffix = ".running"

// endInterruptedPhase ends the output of rel's release phase, which the
// server's stop cut, with a line saying so, when the phase was running
// then; reconcile has marked rel failed, and current keeps serving.
func (e *Engine) endInterruptedPhase(app *App, rel *Release) {
	dir := e.phaseLogDir(app.ID)
	if dir == "" || !isBuildID(rel.ID) {
		return
	}
	path := filepath.Join(dir, rel.ID+".log")
	if _, err := os.Stat(path + phaseRunningSuffix); err != nil {
		return
	}
	if err := appendLine(path, InterruptedPhaseLine(rel.Version, app.CurrentRelease)); err != nil {
		e.logf("start: end the release phase output of %s v%d: %v", app.Name, rel.Version, err)
		return
	}
	if err := os.Remove(path + phaseRunningSuffix); err != nil {
		e.logf("start: end the release phase output of %s v%d: %v", app.Name, rel.Version, err)
	}
}

// InterruptedPhaseLine closes the output of release v's release phase
// when the server stopped while it ran: v was marked failed at the next
// start, and current (the release then current) keeps serving.
func InterruptedPhaseLine(v, current int) string {
	if current == 0 {
		return fmt.Sprintf(" !     Release v%d failed: the server stopped during its release phase. Push or release again.", v)
	}
	return fmt.Sprintf(" !     Release v%d failed: the server stopped during its release phase; v%d keeps serving. Push or release again.", v, current)
}

// prunePhaseLogs removes the oldest outputs in dir past keep, never
// current's.
func prunePhaseLogs(dir, current string, keep int) {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) <= keep {
		return
	}
	type log struct {
		name string
		mod  time.Time
	}
	var logs []log
	for _, en := range entries {
		if fi, err := en.Info(); err == nil && en.Name() != current && strings.HasSuffix(en.Name(), ".log") {
			logs = append(logs, log{en.Name(), fi.ModTime()})
		}
	}
	slices.SortFunc(logs, func(a, b log) int {
		if c := a.mod.Compare(b.mod); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	for len(logs) > keep-1 {
		_ = os.Remove(filepath.Join(dir, logs[0].name))
		logs = logs[1:]
	}
}

// ReleaseOutputKept reports whether the output of the release phase of
// app's release releaseID is kept on disk, as ReleaseOutput would find
// it, with one look in the app's own directory.
func (e *Engine) ReleaseOutputKept(app *App, releaseID string) bool {
	dir := e.phaseLogDir(app.ID)
	if dir == "" || !isBuildID(releaseID) {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, releaseID+".log"))
	return err == nil
}

// ReleaseOutput returns the output of a release's release phase, while
// it runs or once it ran, from disk after a restart; nil if none is
// kept.
func (e *Engine) ReleaseOutput(releaseID string) *PhaseLog {
	e.phaseLogs.mu.Lock()
	p := e.phaseLogs.m[releaseID]
	e.phaseLogs.mu.Unlock()
	if p != nil {
		p.mu.Lock()
		path, done := p.path, p.done
		p.mu.Unlock()
		if _, err := os.Stat(path); path != "" && done && err != nil {
			return nil // pruned, or gone with its app
		}
		return p
	}
	if e.Paths.Builds == "" || !isBuildID(releaseID) {
		return nil
	}
	found, _ := filepath.Glob(filepath.Join(e.Paths.Builds, "*", "releases", releaseID+".log"))
	if len(found) != 1 {
		return nil
	}
	return &PhaseLog{path: found[0], done: true, changed: closedChan}
}
