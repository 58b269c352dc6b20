package logs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"hako/engine"
)

// DrainBuffer is how many lines a drain may fall behind before lines are
// dropped, with an L10 line saying so: a slow drain never blocks a dyno.
const DrainBuffer = 1024

// drain ships one app's lines to one URL until its context ends.
type drain struct {
	app    string
	d      engine.Drain
	tail   *Tail
	cancel func()
	done   chan struct{}
}

// SetDrains replaces the app's drains: new ones start shipping lines
// logged from now on, removed ones stop.
func (b *Buffer) SetDrains(app string, drains []engine.Drain) {
	b.mu.Lock()
	if b.drains == nil {
		b.drains = map[string][]*drain{}
	}
	old := b.drains[app]
	keep := map[string]*drain{}
	for _, d := range old {
		keep[d.d.ID] = d
	}
	var next []*drain
	for _, d := range drains {
		if cur, ok := keep[d.ID]; ok {
			next = append(next, cur)
			delete(keep, d.ID)
			continue
		}
		next = append(next, b.startDrain(app, d))
	}
	b.drains[app] = next
	b.mu.Unlock()
	for _, d := range keep {
		d.cancel()
		<-d.done
	}
}

// startDrain subscribes a new drain; it runs under b.mu.
func (b *Buffer) startDrain(app string, d engine.Drain) *drain {
	t := &Tail{C: make(chan Line, DrainBuffer), overflow: "Error L10 (output buffer overflow): %d messages dropped since %s."}
	if b.subs == nil {
		b.subs = map[string]map[*Tail]struct{}{}
	}
	if b.subs[app] == nil {
		b.subs[app] = map[*Tail]struct{}{}
	}
	b.subs[app][t] = struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	dr := &drain{app: app, d: d, tail: t, done: make(chan struct{})}
	dr.cancel = func() {
		b.mu.Lock()
		delete(b.subs[app], t)
		b.mu.Unlock()
		cancel()
	}
	go func() {
		defer close(dr.done)
		dr.run(ctx)
	}()
	return dr
}

// CloseDrains stops every drain, for a server exit, and writes out the
// mirrored lines held back.
func (b *Buffer) CloseDrains() {
	b.Flush()
	b.mu.Lock()
	var all []*drain
	for _, ds := range b.drains {
		all = append(all, ds...)
	}
	b.drains = nil
	b.mu.Unlock()
	for _, d := range all {
		d.cancel()
		<-d.done
	}
}

func (dr *drain) run(ctx context.Context) {
	u, err := url.Parse(dr.d.URL)
	if err != nil {
		return
	}
	if u.Scheme == "syslog" {
		dr.syslog(ctx, u.Host)
		return
	}
	dr.http(ctx, dr.d.URL)
}

// Frame formats a line as a syslog message (RFC 5424) with octet
// counting (RFC 6587), as Logplex sends it:
// "83 <40>1 2026-11-21T06:45:29.123456+00:00 host heroku web.3 - State changed…".
func Frame(app string, l Line) string {
	pri := 190 // local7.info: the app's own output
	if l.Source == "heroku" {
		pri = 40
	}
	msg := fmt.Sprintf("<%d>1 %s host %s %s - %s", pri, l.Time.UTC().Format("2006-01-02T15:04:05.000000-07:00"), l.Source, l.Proc, l.Text)
	return strconv.Itoa(len(msg)) + " " + msg
}

// syslog keeps a TCP connection to addr and writes each line to it,
// reconnecting with a growing pause when it drops.
func (dr *drain) syslog(ctx context.Context, addr string) {
	var conn net.Conn
	pause := time.Second
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		var l Line
		select {
		case <-ctx.Done():
			return
		case l = <-dr.tail.C:
		}
		for conn == nil {
			c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
			if err == nil {
				conn, pause = c, time.Second
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, time.Minute)
		}
		_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte(Frame(dr.app, l))); err != nil {
			conn.Close()
			conn = nil
		}
	}
}

// http posts batches of frames (at most 100 lines, or what came within
// half a second) with Logplex's headers.
func (dr *drain) http(ctx context.Context, target string) {
	client := &http.Client{Timeout: 30 * time.Second}
	for {
		var batch []Line
		select {
		case <-ctx.Done():
			return
		case l := <-dr.tail.C:
			batch = append(batch, l)
		}
		deadline := time.After(500 * time.Millisecond)
	collect:
		for len(batch) < 100 {
			select {
			case l := <-dr.tail.C:
				batch = append(batch, l)
			case <-deadline:
				break collect
			case <-ctx.Done():
				break collect
			}
		}
		var body bytes.Buffer
		for _, l := range batch {
			body.WriteString(Frame(dr.app, l))
		}
		req, err := http.NewRequestWithContext(ctx, "POST", target, &body)
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/logplex-1")
		req.Header.Set("Logplex-Msg-Count", strconv.Itoa(len(batch)))
		req.Header.Set("Logplex-Frame-Id", frameID())
		req.Header.Set("Logplex-Drain-Token", dr.d.Token)
		req.Header.Set("User-Agent", "Logplex/v72")
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}

func frameID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
