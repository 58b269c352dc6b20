package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hako/engine/tether"
)

const (
	// startTimeout bounds the wait for a starting server to accept
	// connections; crash recovery after a kill usually takes seconds.
	startTimeout = 30 * time.Second
	// stopTimeout bounds a fast shutdown before an immediate one.
	stopTimeout = 30 * time.Second
	// maxLog is the size past which the server's log is set aside at the
	// next start, so that a long-lived server's log does not grow forever.
	maxLog = 16 << 20
)

// server is a running postmaster.
type server struct {
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed once the postmaster has exited
	err     error         // how it exited; set before done is closed
}

// ensure makes the cluster if needed and starts its server unless it
// runs. Callers hold p.mu.
func (p *Provider) ensure(ctx context.Context, portHint int) error {
	if p.srv != nil {
		select {
		case <-p.srv.done:
			p.srv = nil
		default:
			return nil
		}
	}
	if p.progs == nil {
		progs, err := findPrograms()
		if err != nil {
			return err
		}
		p.progs = progs
	}
	if err := p.prepare(portHint); err != nil {
		return err
	}
	if err := p.initdb(ctx); err != nil {
		return err
	}
	if err := p.stopStale(); err != nil {
		return err
	}
	srv, err := p.start(ctx)
	if err != nil {
		return err
	}
	if err := p.secure(ctx); err != nil {
		srv.stop(p.opts.Logf)
		return err
	}
	p.srv, p.wanted = srv, true
	p.opts.Logf("postgres: server running on 127.0.0.1:%d (pid %d)", p.lay.port, srv.cmd.Process.Pid)
	return nil
}

// start runs the postmaster and waits until it accepts connections.
//
// The postmaster gets a parent-death signal of SIGINT, PostgreSQL's fast
// shutdown, so that a hako killed without a chance to call Stop does not
// leave it running. Linux sends that signal when the thread that forked
// the child exits, not the process, so the fork happens on a goroutine
// that locks its thread and keeps it, waiting for the postmaster, until
// the postmaster exits; the thread is never unlocked, so the runtime
// discards it instead of handing it to other goroutines.
func (p *Provider) start(ctx context.Context) (*server, error) {
	if fi, err := os.Stat(p.lay.log); err == nil && fi.Size() > maxLog {
		os.Rename(p.lay.log, p.lay.log+".1")
	}
	logf, err := os.OpenFile(p.lay.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("postgres: opening the server log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(p.progs.postgres, "-D", p.lay.data, "-p", strconv.Itoa(p.lay.port), "-k", p.lay.sock,
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_permissions=0700")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + p.lay.sock}
	cmd.Dir = p.lay.sock
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = serverAttr(p.lay)

	srv := &server{cmd: cmd, started: time.Now(), done: make(chan struct{})}
	err = tether.Start(cmd, nil, func() {
		srv.err = cmd.Wait()
		close(srv.done)
		p.exited(srv)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: starting the server: %w", err)
	}

	deadline := time.Now().Add(startTimeout)
	for !p.ready(ctx) {
		select {
		case <-srv.done:
			return nil, fmt.Errorf("postgres: the server exited while starting (%v): %s", srv.err, logTail(p.lay.log))
		case <-ctx.Done():
			srv.stop(p.opts.Logf)
			return nil, fmt.Errorf("postgres: waiting for the server to start: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			srv.stop(p.opts.Logf)
			return nil, fmt.Errorf("postgres: the server did not accept connections within %v: %s", startTimeout, logTail(p.lay.log))
		}
	}
	return srv, nil
}

// ready reports whether the server accepts connections on its socket.
func (p *Provider) ready(ctx context.Context) bool {
	cmd := p.command(ctx, p.progs.isready, "-q", "-t", "2", "-h", p.lay.sock, "-p", strconv.Itoa(p.lay.port))
	return cmd.Run() == nil
}

// exited is told by a server's goroutine that the postmaster has exited.
// A server that was neither stopped nor replaced has died (killed, out of
// memory): it is restarted, with a growing delay while restarts fail.
func (p *Provider) exited(srv *server) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != srv {
		return // stopped on purpose, or it never came up
	}
	p.srv = nil
	if time.Since(srv.started) > time.Minute {
		p.restartDelay = 0
	}
	how := "exit status 0"
	if srv.err != nil {
		how = srv.err.Error()
	}
	p.opts.Logf("postgres: the server exited unexpectedly (%s), restarting it", how)
	p.scheduleRestart()
}

// scheduleRestart restarts a dead server after a delay. Callers hold p.mu.
func (p *Provider) scheduleRestart() {
	p.restartDelay = min(max(2*p.restartDelay, time.Second), time.Minute)
	time.AfterFunc(p.restartDelay, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.wanted || p.srv != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := p.ensure(ctx, 0); err != nil {
			p.opts.Logf("postgres: restarting the server: %v", err)
			p.scheduleRestart()
		}
	})
}

// stop shuts the postmaster down: fast shutdown first, then immediate
// shutdown, then a kill of its process group, so that it always returns.
func (s *server) stop(logf func(string, ...any)) {
	for _, step := range []struct {
		sig     syscall.Signal
		timeout time.Duration
	}{{syscall.SIGINT, stopTimeout}, {syscall.SIGQUIT, 10 * time.Second}} {
		s.cmd.Process.Signal(step.sig)
		select {
		case <-s.done:
			logf("postgres: server stopped")
			return
		case <-time.After(step.timeout):
			logf("postgres: the server did not stop within %v of %v", step.timeout, step.sig)
		}
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

// stopStale deals with the postmaster.pid of a server this provider did
// not start. PostgreSQL itself ignores the file of a server that is gone,
// but a server that still runs on the data directory (one a previous hako
// left, or whose shutdown has not finished) is stopped, and a file naming
// a process that is not PostgreSQL at all (a pid reused after a reboot)
// is removed, since PostgreSQL would refuse to start on it.
func (p *Provider) stopStale() error {
	pidfile := filepath.Join(p.lay.data, "postmaster.pid")
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return nil
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 || !alive(pid) {
		return nil
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil // no /proc: leave it to PostgreSQL
	}
	args := strings.Split(string(cmdline), "\x00")
	if name := filepath.Base(args[0]); name != "postgres" && name != "postmaster" {
		if err := os.Remove(pidfile); err != nil {
			return fmt.Errorf("postgres: removing a stale %s: %w", pidfile, err)
		}
		return nil
	}
	if !bytes.Contains(cmdline, []byte(p.lay.data)) {
		return nil // another cluster's: PostgreSQL will say so
	}
	p.opts.Logf("postgres: stopping a server left running (pid %d)", pid)
	for _, step := range []struct {
		sig     syscall.Signal
		timeout time.Duration
	}{{syscall.SIGINT, stopTimeout}, {syscall.SIGQUIT, 10 * time.Second}, {syscall.SIGKILL, 10 * time.Second}} {
		syscall.Kill(pid, step.sig)
		for end := time.Now().Add(step.timeout); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if !alive(pid) {
				return nil
			}
		}
	}
	return fmt.Errorf("postgres: a server left running (pid %d) did not stop", pid)
}

// alive reports whether a process with that pid exists and is not a
// zombie waiting for a parent to reap it.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if i := bytes.LastIndexByte(stat, ')'); err == nil && i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// logTail returns the end of the server's log, for errors to show why it
// failed.
func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > 2048 {
		f.Seek(-2048, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 6 {
		lines = lines[len(lines)-6:]
	}
	return strings.Join(lines, "; ")
}
