// Package localproc runs the local servers behind add-ons (PostgreSQL,
// Redis, ...): it starts one tethered to hako, waits until it answers,
// stops it in steps, quotes the end of its log, picks free ports and says
// when to restart one that died. What is an add-on's own (its command
// line, configuration, readiness probe, data) stays in its package.
package localproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"hako/engine/tether"
)

// Proc is one running server process.
type Proc struct {
	pid     int
	started time.Time
	done    chan struct{} // closed once the process is reaped
	err     error         // how it exited, set before done is closed

	mu sync.Mutex
	// exited is set once the process is dead: from then on its pid may
	// name another process and must not be signalled.
	exited bool
}

// Start starts cmd and supervises it until it ends, then calls onExit on
// its own goroutine. cmd.SysProcAttr should make the server lead a
// process group of its own (so that a ^C at hako's terminal does not
// reach it, and its children go with it) and carry a Pdeathsig, so that
// a killed hako does not leave it holding its port: package tether makes
// sure that signal comes only when hako dies.
func Start(cmd *exec.Cmd, onExit func(*Proc)) (*Proc, error) {
	p := &Proc{started: time.Now(), done: make(chan struct{})}
	err := tether.Start(cmd, func(pid int) { p.pid = pid }, func() {
		// Learn of the exit before reaping, while the pid still names the
		// dead server, to take any leftover of its group with it.
		if waitExited(p.pid) {
			p.mu.Lock()
			_ = signal(-p.pid, syscall.SIGKILL)
			p.exited = true
			p.mu.Unlock()
		}
		err := cmd.Wait()
		p.mu.Lock()
		p.exited = true
		p.mu.Unlock()
		p.err = err
		close(p.done)
		if onExit != nil {
			onExit(p)
		}
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Pid is the server's process id.
func (p *Proc) Pid() int { return p.pid }

// Done is closed once the server has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is how the server exited; it is meaningful once Done is closed.
func (p *Proc) Err() error { return p.err }

// Running reports whether the server has not exited yet.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Uptime is how long ago the server started.
func (p *Proc) Uptime() time.Duration { return time.Since(p.started) }

// Signal sends sig to the server, unless it has already ended.
func (p *Proc) Signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.exited {
		_ = signal(p.pid, sig)
	}
}

// Step is one step of a stop: a signal, and how long to wait for the
// server to exit after it.
type Step struct {
	Signal syscall.Signal
	Wait   time.Duration
}

// Stop stops the server and waits for it: each step's signal in turn
// (each server has its own orderly shutdowns), then SIGKILL to its whole
// process group, so that Stop always returns. logf, if not nil, is told
// of each step that did not stop it.
func (p *Proc) Stop(logf func(string, ...any), steps ...Step) {
	for _, step := range steps {
		p.Signal(step.Signal)
		t := time.NewTimer(step.Wait)
		select {
		case <-p.done:
			t.Stop()
			return
		case <-t.C:
		}
		if logf != nil {
			logf("the server (pid %d) did not stop within %v of %v", p.pid, step.Wait, step.Signal)
		}
	}
	p.mu.Lock()
	if !p.exited {
		_ = signal(-p.pid, syscall.SIGKILL)
	}
	p.mu.Unlock()
	<-p.done
}

// ErrExited and ErrTimeout are why WaitReady gave up, besides ctx.
var (
	ErrExited  = errors.New("the server exited while starting")
	ErrTimeout = errors.New("the server did not answer in time")
)

// pollEvery is how often WaitReady asks.
const pollEvery = 100 * time.Millisecond

// WaitReady asks ready until it succeeds, the server exits (ErrExited),
// timeout passes (ErrTimeout, with ready's last error) or ctx ends. It
// does not stop the server.
func WaitReady(ctx context.Context, p *Proc, timeout time.Duration, ready func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (%v): %w", ErrTimeout, timeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the server to start: %w", ctx.Err())
		case <-p.done:
			return fmt.Errorf("%w (%v)", ErrExited, p.err)
		case <-time.After(pollEvery):
		}
	}
}

// FreePort returns a loopback port free at the time of the call; the
// server may still find it taken when it binds it, and should try another.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// maxLog is the size past which a server's log is set aside at the next
// start, so that a long-lived server's log does not grow forever.
const maxLog = 16 << 20

// OpenLog opens a server's log for appending, first setting aside (as
// path.1) a log grown past 16 MiB, and returns the offset at which this
// start's lines begin, for LogTail. It refuses to follow a link the
// server's user may have put in its place.
func OpenLog(path string, perm os.FileMode) (*os.File, int64, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && fi.Size() > maxLog {
		_ = os.Rename(path, path+".1")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|openNoFollow, perm)
	if err != nil {
		return nil, 0, fmt.Errorf("open the server log: %w", err)
	}
	var offset int64
	if fi, err := f.Stat(); err == nil {
		offset = fi.Size()
	}
	return f, offset, nil
}

// tailBytes and tailLines bound what LogTail quotes.
const (
	tailBytes = 2048
	tailLines = 6
)

// LogTail returns the last lines the server logged from offset on, joined
// by "; ", for an error to say why it failed; it refuses to follow a link.
func LogTail(path string, offset int64) string {
	f, err := os.OpenFile(path, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > tailBytes {
		offset = fi.Size() - tailBytes
	}
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, tailBytes))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > tailLines {
		lines = lines[len(lines)-tailLines:]
	}
	return strings.Join(lines, "; ")
}
