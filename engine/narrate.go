package engine

import (
	"bytes"
	"io"
)

// The steps of a deploy Narrate is told, in order. Between StepPush and
// StepSlug come the build's output lines (StepOutput), from which a
// reader learns what the buildpacks detected and compiled.
const (
	StepPush   = "push"   // detail: the commit, or "source" for an upload
	StepOutput = "output" // detail: one line of the build's output
	StepSlug   = "slug"   // detail: "SIZE SHA256"
	// StepLive is told for every release that goes live (config
	// changes and rollbacks too); detail: "vN": the router serves it.
	StepLive   = "live"
	StepFailed = "failed" // detail: why
)

// narrate tells Narrate one step of app's deploy, if anyone listens.
func (e *Engine) narrate(app, step, detail string) {
	if e.Narrate != nil {
		e.Narrate(app, step, detail)
	}
}

// narrating returns out, also telling Narrate each whole line written to
// it (as StepOutput), when anyone listens.
func (e *Engine) narrating(app string, out io.Writer) io.Writer {
	if e.Narrate == nil {
		return out
	}
	return &lineTee{out: out, line: func(l string) { e.Narrate(app, StepOutput, l) }}
}

// maxNarratedLine bounds a narrated line; longer ones are cut.
const maxNarratedLine = 512

// lineTee writes to out and hands each line to line.
type lineTee struct {
	out  io.Writer
	line func(string)
	buf  []byte
}

func (t *lineTee) Write(p []byte) (int, error) {
	n, err := t.out.Write(p)
	rest := p[:n]
	for len(rest) > 0 {
		i := bytes.IndexAny(rest, "\r\n")
		if i < 0 {
			if len(t.buf) < maxNarratedLine {
				t.buf = append(t.buf, rest[:min(len(rest), maxNarratedLine-len(t.buf))]...)
			}
			break
		}
		if len(t.buf) < maxNarratedLine {
			t.buf = append(t.buf, rest[:min(i, maxNarratedLine-len(t.buf))]...)
		}
		if len(bytes.TrimSpace(t.buf)) > 0 {
			t.line(string(t.buf))
		}
		t.buf = t.buf[:0]
		rest = rest[i+1:]
	}
	return n, err
}
