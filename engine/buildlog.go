package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// A build's output is kept on disk, in Paths.Builds/APP_ID/BUILD_ID.log,
// so that its output_stream_url serves it after a restart. A build keeps
// at most MaxBuildOutput bytes of it: the first buildHead bytes are
// written as they come (and stream live), and once those are full only
// the last buildTail bytes are held, in memory, and written after a line
// saying how much was left out when the build ends. A build printing
// without end thus costs a fixed memory and disk, and its end (the error
// that failed it, or "Released vN") is still read.
const (
	MaxBuildOutput = 1 << 20
	buildTail      = 256 << 10
	buildHead      = MaxBuildOutput - buildTail
	// buildReadChunk bounds what one read of the output returns.
	buildReadChunk = 64 << 10
)

// InterruptedBuildLine ends the output of a build the server stopped
// during (a crash, a Ctrl-C, an upgrade), written by the next start.
const InterruptedBuildLine = "-----> Build failed: the server stopped while this build was running; push again."

// buildRun is a build under way: its record and its output file, which
// readers follow until it ends.
type buildRun struct {
	e *Engine

	mu  sync.Mutex
	rec Build
	// f is the output file; nil when none could be made (the output is
	// then lost, the build goes on).
	f    *os.File
	size int64 // bytes written to f
	// ring holds the last buildTail bytes once the head is full: next is
	// where the next byte goes, full whether it wrapped; over counts
	// every byte past the head.
	ring    []byte
	next    int
	full    bool
	over    int64
	ended   bool
	changed chan struct{}
}

// Write keeps p in the build's output (see MaxBuildOutput). It never
// fails: losing output must not fail a build.
func (r *buildRun) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended || r.f == nil {
		return len(p), nil
	}
	n := len(p)
	if room := buildHead - r.size; room > 0 {
		head := p[:min(int64(len(p)), room)]
		if w, err := r.f.Write(head); err != nil {
			r.e.logf("build %s of %s: write its output: %v", r.rec.ID, r.rec.App, err)
			r.f.Close()
			r.f = nil
		} else {
			r.size += int64(w)
		}
		p = p[len(head):]
	}
	if len(p) > 0 {
		r.over += int64(len(p))
		if r.ring == nil {
			r.ring = make([]byte, buildTail)
		}
		if len(p) > buildTail {
			p = p[len(p)-buildTail:]
		}
		for len(p) > 0 {
			c := copy(r.ring[r.next:], p)
			p, r.next = p[c:], r.next+c
			if r.next == buildTail {
				r.next, r.full = 0, true
			}
		}
	}
	r.wake()
	return n, nil
}

// wake tells readers something changed; the caller holds r.mu.
func (r *buildRun) wake() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// finish ends the build's output with the kept tail, after a line saying
// how much was left out, then line (when not ""), and closes the file.
func (r *buildRun) finish(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	r.ended = true
	defer r.wake()
	if r.f == nil {
		return
	}
	var tail []byte
	if r.full {
		tail = append(append(tail, r.ring[r.next:]...), r.ring[:r.next]...)
	} else {
		tail = r.ring[:r.next]
	}
	var out []byte
	if skipped := r.over - int64(len(tail)); skipped > 0 {
		out = fmt.Appendf(out, "\n !     %d bytes of this build's output were left out here: a build keeps its first %d KiB and its last %d KiB.\n",
			skipped, buildHead>>10, buildTail>>10)
	}
	out = append(out, tail...)
	if line != "" {
		out = append(out, line+"\n"...)
	}
	r.ring = nil
	if _, err := r.f.Write(out); err != nil {
		r.e.logf("build %s of %s: write its output: %v", r.rec.ID, r.rec.App, err)
	}
	if err := r.f.Close(); err != nil {
		r.e.logf("build %s of %s: write its output: %v", r.rec.ID, r.rec.App, err)
	}
	r.f = nil
}

// buildRuns are the builds under way, by id.
type buildRuns struct {
	mu sync.Mutex
	m  map[string]*buildRun
}

func (t *buildRuns) add(r *buildRun) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*buildRun{}
	}
	t.m[r.rec.ID] = r
}

func (t *buildRuns) get(id string) *buildRun {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[id]
}

func (t *buildRuns) remove(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, id)
}

// buildOutputPath is where a build's output lies; "" when the layout
// keeps none.
func (e *Engine) buildOutputPath(b *Build) string {
	dir := e.Paths.AppBuilds(b.AppID)
	if dir == "" || !isBuildID(b.ID) {
		return ""
	}
	return filepath.Join(dir, b.ID+".log")
}

// isBuildID reports whether id is a UUID as NewID makes them, and so
// safe as a file name.
func isBuildID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, c := range id {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		default:
			return false
		}
	}
	return true
}

// BuildOutput is a build's output, read from its file while the build
// runs and after.
type BuildOutput struct {
	e    *Engine
	id   string
	path string
}

// closedChan is a channel always closed: a reader of a finished build's
// output reads on at once.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Read returns the output from offset on (at most 64 KiB), whether the
// build has ended and nothing is left past the chunk, and a channel
// closed when there may be more.
func (o *BuildOutput) Read(offset int64) (chunk []byte, done bool, changed <-chan struct{}) {
	ended, changed := true, (<-chan struct{})(closedChan)
	if r := o.e.buildRuns.get(o.id); r != nil {
		r.mu.Lock()
		ended, changed = r.ended, r.changed
		r.mu.Unlock()
	}
	if o.path == "" {
		return nil, ended, changed
	}
	f, err := os.Open(o.path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			o.e.logf("build %s: read its output: %v", o.id, err)
		}
		return nil, ended, changed
	}
	defer f.Close()
	buf := make([]byte, buildReadChunk)
	n, err := f.ReadAt(buf, offset)
	if err != nil && err != io.EOF {
		o.e.logf("build %s: read its output: %v", o.id, err)
		return nil, true, changed
	}
	return buf[:n], ended && err == io.EOF, changed
}

// BuildOutputBySecret returns the output of the build whose
// output_stream_url holds secret. Returns ENOTFOUND.
func (e *Engine) BuildOutputBySecret(secret string) (*BuildOutput, error) {
	b, err := e.builds().BuildBySecret(secret)
	if err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return nil, Errorf(ENOTFOUND, "This build output URL is unknown.")
		}
		return nil, err
	}
	return &BuildOutput{e: e, id: b.ID, path: e.buildOutputPath(b)}, nil
}

// endInterruptedBuilds ends the builds a stopped server left pending.
// One whose release went live (the stop came after the switch, during
// app.json's postdeploy, say) succeeded; the others are marked failed,
// with InterruptedBuildLine at the end of their output. The release such
// a build staged never went live (reconcile settles it, and may yet roll
// it forward: see buildWentLive), their build directories are swept
// (Sweep), and the app's current release keeps serving.
func (e *Engine) endInterruptedBuilds() error {
	pending, err := e.builds().PendingBuilds()
	if err != nil {
		return err
	}
	if len(pending) == 0 {
		return nil
	}
	apps, err := e.Store.Apps()
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, a := range apps {
		names[a.ID] = a.Name
	}
	for _, b := range pending {
		line := InterruptedBuildLine
		b.Status, b.UpdatedAt = BuildFailed, time.Now().UTC()
		if rel := e.releaseOfBuild(names[b.AppID], b.ID); rel != nil && rel.Status == ReleaseSucceeded {
			b.Status, b.ReleaseID, b.SlugID = BuildSucceeded, rel.ID, rel.SlugID
			line = fmt.Sprintf("-----> The server stopped after v%d went live, before this build's end was written.", rel.Version)
		}
		if path := e.buildOutputPath(b); path != "" {
			if err := appendLine(path, line); err != nil {
				e.logf("start: end the output of build %s of %s: %v", b.ID, b.App, err)
			}
		}
		if err := e.builds().UpdateBuild(b); err != nil && ErrorCode(err) != ENOTFOUND {
			return err
		}
		e.logf("start: build %s of %s marked %s: the server stopped while it ran", b.ID, b.App, b.Status)
	}
	return nil
}

// releaseOfBuild returns the release the build made, nil if none.
func (e *Engine) releaseOfBuild(app, buildID string) *Release {
	if app == "" {
		return nil
	}
	rels, err := e.Store.Releases(app)
	if err != nil {
		return nil
	}
	for _, r := range rels {
		if r.BuildID == buildID {
			return r
		}
	}
	return nil
}

// buildWentLive records that the build of r succeeded after all, when a
// start rolled r forward, saying so with line at the end of its output.
func (e *Engine) buildWentLive(app *App, r *Release, line string) {
	if r.BuildID == "" {
		return
	}
	builds, err := e.builds().Builds(app.ID)
	if err != nil {
		e.logf("restore %s: the build of v%d: %v", app.Name, r.Version, err)
		return
	}
	for _, b := range builds {
		if b.ID != r.BuildID {
			continue
		}
		if path := e.buildOutputPath(b); path != "" {
			if err := appendLine(path, line); err != nil {
				e.logf("restore %s: end the output of build %s: %v", app.Name, b.ID, err)
			}
		}
		b.Status, b.ReleaseID, b.SlugID, b.UpdatedAt = BuildSucceeded, r.ID, r.SlugID, time.Now().UTC()
		if err := e.builds().UpdateBuild(b); err != nil && ErrorCode(err) != ENOTFOUND {
			e.logf("restore %s: record the build of v%d: %v", app.Name, r.Version, err)
		}
	}
}

// appendLine adds line at the end of the file at path, on a line of its
// own, making the file if need be.
func appendLine(path, line string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	prefix := ""
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			prefix = "\n"
		}
	}
	if _, err := f.WriteString(prefix + line + "\n"); err != nil {
		return err
	}
	return f.Close()
}
