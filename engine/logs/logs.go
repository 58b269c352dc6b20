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
	b = appendTime(b, l.Time)
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
	b.LogAt(time.Now(), app, source, proc, text)
}

// LogAt records one line written at at: the router, which has just read
// the clock for the request's times, logs a line per request.
func (b *Buffer) LogAt(at time.Time, app, source, proc, text string) {
	l := Line{Time: at, Source: source, Proc: proc, Text: text}
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
		t.offer(app, l)
	}
	m := b.Mirror
	b.mu.Unlock()
	if m != nil {
		b.mirror.add(m, app, l)
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

// add formats "APP LINE\n" into the batch, escaped: the server's output
// is often a terminal. It formats in place rather than through Escape
// and String, as the router logs a line per request.
func (m *mirror) add(w io.Writer, app string, l Line) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.w = w
	start := len(m.buf)
	m.buf = appendEscaped(m.buf, app)
	m.buf = append(m.buf, ' ')
	m.buf = appendTime(m.buf, l.Time)
	m.buf = append(m.buf, ' ')
	m.buf = appendEscaped(m.buf, l.Source)
	m.buf = append(m.buf, '[')
	m.buf = appendEscaped(m.buf, l.Proc)
	m.buf = append(m.buf, "]: "...)
	m.buf = appendEscaped(m.buf, l.Text)
	m.buf = append(m.buf, '\n')
	now := l.Time
	if !m.armed && now.Sub(m.last) >= mirrorBatch && start == 0 {
		m.last = now
		_, _ = w.Write(m.buf)
		m.buf = m.buf[:0]
		return
	}
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
//
// Lines are queued, not sent one by one on a channel: a busy app's router
// writes a line per request, and waking the reader for each cost the
// router a goroutine hand-off per request. The reader takes the queue
// in batches (Take) when Ready says that a line it asked to hear of at
// once came, or on a clock of its own for the rest.
type AllTail struct {
	// Ready receives when an urgent line (see SubscribeAll) is queued.
	Ready   chan struct{}
	Dropped atomic.Int64

	urgent  func(app string, l Line) bool
	mu      sync.Mutex
	pending []AppLine
	spare   []AppLine
}

// AllTailBuffer is how many lines an AllTail may fall behind.
const AllTailBuffer = 8192

// offer queues a line without blocking; it runs under the buffer's lock.
func (t *AllTail) offer(app string, l Line) {
	t.mu.Lock()
	if len(t.pending) >= AllTailBuffer {
		t.mu.Unlock()
		t.Dropped.Add(1)
		return
	}
	t.pending = append(t.pending, AppLine{App: app, Line: l})
	t.mu.Unlock()
	if t.urgent == nil || t.urgent(app, l) {
		select {
		case t.Ready <- struct{}{}:
		default:
		}
	}
}

// Take returns the queued lines, oldest first, and empties the queue.
// The slice is the tail's until the next Take.
func (t *AllTail) Take() []AppLine {
	t.mu.Lock()
	defer t.mu.Unlock()
	got := t.pending
	t.pending = t.spare[:0]
	t.spare = got
	return got
}

// SubscribeAll starts a tail of every app's new lines; call the returned
// function to end it. urgent tells which lines signal Ready as they come
// (nil: every line); the others wait for the reader's next Take.
func (b *Buffer) SubscribeAll(urgent func(app string, l Line) bool) (*AllTail, func()) {
	t := &AllTail{Ready: make(chan struct{}, 1), urgent: urgent}
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

// lineSecond caches the part of a line's time before the fraction,
// "2006-01-02T15:04:05.", for the second being logged.
type lineSecond struct {
	sec int64
	b   []byte
}

var lastSecond atomic.Pointer[lineSecond]

// appendTime appends t as "2006-01-02T15:04:05.000000+00:00" (UTC), the
// time of Heroku's log lines, formatting the date and clock once a
// second.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	sec := t.Unix()
	ls := lastSecond.Load()
	if ls == nil || ls.sec != sec {
		ls = &lineSecond{sec: sec, b: t.AppendFormat(nil, "2006-01-02T15:04:05.")}
		lastSecond.Store(ls)
	}
	b = append(b, ls.b...)
	us := t.Nanosecond() / 1000
	var frac [6]byte
	for i := 5; i >= 0; i-- {
		frac[i] = byte('0' + us%10)
		us /= 10
	}
	b = append(b, frac[:]...)
	return append(b, "+00:00"...)
}
