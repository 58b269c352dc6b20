// Package logs keeps the recent log lines of every app, as Heroku's
// Logplex does, so `hako logs` can show what a dyno or the platform said.
package logs

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"hako/engine"
)

// Capacity is how many lines are kept per app: Heroku keeps 1,500.
const Capacity = 1500

// Line is one log line.
type Line struct {
	Time   time.Time `json:"time"`
	Source string    `json:"source"` // "app" or "heroku"
	Proc   string    `json:"proc"`   // "web.1", "router", "api"
	Text   string    `json:"text"`
}

// String formats the line as Heroku does:
// 2026-11-21T23:43:09.123456+00:00 app[web.1]: message
func (l Line) String() string {
	return string(l.appendTo(make([]byte, 0, 48+len(l.Source)+len(l.Proc)+len(l.Text))))
}

// appendTo appends the line as String formats it; without fmt, as the
// router logs a line per request.
func (l Line) appendTo(b []byte) []byte {
	b = l.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000-07:00")
	b = append(b, ' ')
	b = append(b, l.Source...)
	b = append(b, '[')
	b = append(b, l.Proc...)
	b = append(b, "]: "...)
	return append(b, l.Text...)
}

// Buffer keeps the last Capacity lines of each app. Log never blocks on
// readers: it only takes a short lock to append to a ring.
type Buffer struct {
	// Mirror, when set, receives every line prefixed with the app name,
	// so the server's own output shows what its dynos do.
	Mirror io.Writer

	mirror mirror

	mu     sync.Mutex
	apps   map[string]*ring
	subs   map[string]map[*Tail]struct{}
	all    map[*AllTail]struct{}
	drains map[string][]*drain
}

var _ engine.LogSink = (*Buffer)(nil)

type ring struct {
	lines []Line
	next  int
	full  bool
}

// Log records one line.
func (b *Buffer) Log(app, source, proc, text string) {
	l := Line{Time: time.Now(), Source: source, Proc: proc, Text: text}
	b.mu.Lock()
	if b.apps == nil {
		b.apps = map[string]*ring{}
	}
	r := b.apps[app]
	if r == nil {
		r = &ring{lines: make([]Line, Capacity)}
		b.apps[app] = r
	}
	r.lines[r.next] = l
	r.next = (r.next + 1) % Capacity
	if r.next == 0 {
		r.full = true
	}
	for t := range b.subs[app] {
		t.offer(l)
	}
	for t := range b.all {
		select {
		case t.C <- AppLine{App: app, Line: l}:
		default:
			t.Dropped.Add(1)
		}
	}
	m := b.Mirror
	b.mu.Unlock()
	if m != nil {
		// The server's output is often a terminal: escape what the app
		// wrote.
		line := Escape(l.String())
		buf := make([]byte, 0, len(app)+len(line)+2)
		buf = append(append(append(buf, app...), ' '), line...)
		b.mirror.write(m, append(buf, '\n'))
	}
}

// Recent returns up to n of the app's latest lines, oldest first.
func (b *Buffer) Recent(app string, n int) []Line {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.apps[app]
	if r == nil {
		return nil
	}
	var all []Line
	if r.full {
		all = append(all, r.lines[r.next:]...)
	}
	all = append(all, r.lines[:r.next]...)
	if n > 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

// Forget drops an app's lines, when the app is destroyed.
func (b *Buffer) Forget(app string) {
	b.mu.Lock()
	delete(b.apps, app)
	b.mu.Unlock()
}

// TailBuffer is how many lines a tail session may fall behind before
// lines are dropped (and an L11 line says so): a slow reader never blocks
// a dyno.
const TailBuffer = 1024

// Tail is a live subscription to an app's new lines.
type Tail struct {
	// C delivers the lines.
	C       chan Line
	dropped int
	since   time.Time
	// overflow is the line, in Heroku's words, that reports dropped
	// lines (count, since): L11 for a tail session, L10 for a drain.
	overflow string
}

// offer hands l to the tail without blocking; it runs under the buffer's
// lock.
func (t *Tail) offer(l Line) {
	if t.dropped > 0 {
		format := t.overflow
		if format == "" {
			format = "Error L11 (Tail buffer overflow) -> This tail session dropped %d messages since %s."
		}
		note := Line{Time: l.Time, Source: "heroku", Proc: "logplex", Text: fmt.Sprintf(format, t.dropped, t.since.UTC().Format(time.RFC3339))}
		select {
		case t.C <- note:
			t.dropped = 0
		default:
			t.dropped++
			return
		}
	}
	select {
	case t.C <- l:
	default:
		if t.dropped == 0 {
			t.since = l.Time
		}
		t.dropped++
	}
}

// Subscribe starts a tail of app's new lines; call the returned function
// to end it.
func (b *Buffer) Subscribe(app string) (*Tail, func()) {
	t := &Tail{C: make(chan Line, TailBuffer)}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[string]map[*Tail]struct{}{}
	}
	if b.subs[app] == nil {
		b.subs[app] = map[*Tail]struct{}{}
	}
	b.subs[app][t] = struct{}{}
	b.mu.Unlock()
	return t, func() {
		b.mu.Lock()
		delete(b.subs[app], t)
		b.mu.Unlock()
	}
}

// Flush writes out the mirrored lines still held back (see mirror).
func (b *Buffer) Flush() { b.mirror.flush() }

// mirrorBatch is how long mirrored lines may wait to be written together
// when they come faster than one per mirrorBatch: a busy app's router
// lines then cost the server one write per batch rather than one each.
// A line after a quiet spell is written at once.
const mirrorBatch = 5 * time.Millisecond

// mirror writes lines to the Mirror in order, in batches under load.
type mirror struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	last  time.Time // when the last write went out
	armed bool      // a flush is due
}

func (m *mirror) write(w io.Writer, line []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.w = w
	now := time.Now()
	if !m.armed && now.Sub(m.last) >= mirrorBatch {
		m.last = now
		_, _ = w.Write(line)
		return
	}
	m.buf = append(m.buf, line...)
	if len(m.buf) >= 32<<10 {
		m.flushLocked()
		return
	}
	if !m.armed {
		m.armed = true
		time.AfterFunc(mirrorBatch, m.flush)
	}
}

func (m *mirror) flush() {
	m.mu.Lock()
	m.flushLocked()
	m.mu.Unlock()
}

func (m *mirror) flushLocked() {
	m.armed = false
	if len(m.buf) > 0 && m.w != nil {
		_, _ = m.w.Write(m.buf)
		m.last = time.Now()
	}
	m.buf = m.buf[:0]
	if cap(m.buf) > 256<<10 {
		m.buf = nil
	}
}

// AppLine is a line with the app it is of.
type AppLine struct {
	App string
	Line
}

// AllTail is a live subscription to every app's new lines, for a reader
// that watches them all (the dashboard). Like a Tail it never blocks a
// writer: lines it has no room for are counted in Dropped.
type AllTail struct {
	C       chan AppLine
	Dropped atomic.Int64
}

// AllTailBuffer is how many lines an AllTail may fall behind.
const AllTailBuffer = 8192

// SubscribeAll starts a tail of every app's new lines; call the returned
// function to end it.
func (b *Buffer) SubscribeAll() (*AllTail, func()) {
	t := &AllTail{C: make(chan AppLine, AllTailBuffer)}
	b.mu.Lock()
	if b.all == nil {
		b.all = map[*AllTail]struct{}{}
	}
	b.all[t] = struct{}{}
	b.mu.Unlock()
	return t, func() {
		b.mu.Lock()
		delete(b.all, t)
		b.mu.Unlock()
	}
}
