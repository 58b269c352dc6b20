package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hako/engine/addons/localproc"
)

const (
	// startTimeout bounds the wait for a starting server to accept
	// connections; crash recovery after a kill usually takes seconds.
	startTimeout = 30 * time.Second
	// stopTimeout bounds a fast shutdown before an immediate one.
	stopTimeout = 30 * time.Second
)

// stopSteps are PostgreSQL's orderly shutdowns: fast, then immediate.
var stopSteps = []localproc.Step{{Signal: syscall.SIGINT, Wait: stopTimeout}, {Signal: syscall.SIGQUIT, Wait: 10 * time.Second}}

// ensure makes the cluster if needed and starts its server unless it
// runs. Callers hold p.mu.
func (p *Provider) ensure(ctx context.Context, portHint int) error {
	if p.srv != nil {
		if p.srv.Running() {
			return nil
		}
		p.srv = nil
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
	if err := p.allowDynos(); err != nil {
		return err
	}
	if err := p.ensureTLS(); err != nil {
		return err
	}
	srv, err := p.start(ctx)
	if err != nil {
		return err
	}
	if err := p.secure(ctx); err != nil {
		p.stopServer(srv)
		return err
	}
	p.srv, p.wanted = srv, true
	p.opts.Logf("postgres: server running on 127.0.0.1:%d (pid %d)", p.lay.port, srv.Pid())
	return nil
}

// start runs the postmaster and waits until it accepts connections.
//
// The postmaster gets a parent-death signal of SIGINT, PostgreSQL's fast
// shutdown, so that a hako killed without a chance to call Stop does not
// leave it running (see serverAttr and localproc.Start).
func (p *Provider) start(ctx context.Context) (*localproc.Proc, error) {
	logf, offset, err := localproc.OpenLog(p.lay.log, 0o600)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(p.progs.postgres, "-D", p.lay.data, "-p", strconv.Itoa(p.lay.port), "-k", p.lay.sock,
		"-c", "listen_addresses="+strings.Join(append([]string{"127.0.0.1"}, nonEmpty(p.opts.Host)...), ","), "-c", "unix_socket_permissions=0700")
	cmd.Args = append(cmd.Args, tlsSettings...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + p.lay.sock}
	cmd.Dir = p.lay.sock
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = serverAttr(p.lay)

	srv, err := localproc.Start(cmd, p.exited)
	if err != nil {
		return nil, fmt.Errorf("postgres: starting the server: %w", err)
	}
	if err := localproc.WaitReady(ctx, srv, startTimeout, p.ready); err != nil {
		p.stopServer(srv)
		return nil, fmt.Errorf("postgres: %w: %s", err, localproc.LogTail(p.lay.log, offset))
	}
	return srv, nil
}

// stopServer stops the postmaster: fast shutdown first, then immediate
// shutdown, then a kill of its process group, so that it always returns.
func (p *Provider) stopServer(srv *localproc.Proc) {
	srv.Stop(func(format string, args ...any) { p.opts.Logf("postgres: "+format, args...) }, stopSteps...)
	p.opts.Logf("postgres: server stopped")
}

// ready is nil once the server accepts connections on its socket.
func (p *Provider) ready(ctx context.Context) error {
	cmd := p.command(ctx, p.progs.isready, "-q", "-t", "2", "-h", p.lay.sock, "-p", strconv.Itoa(p.lay.port))
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pg_isready: %w", err)
	}
	return nil
}

// exited is told that the postmaster has exited. A server that was
// neither stopped nor replaced has died (killed, out of memory): it is
// restarted as localproc.Restarts says.
func (p *Provider) exited(srv *localproc.Proc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != srv {
		return // stopped on purpose, or it never came up
	}
	p.srv = nil
	how := "exit status 0"
	if srv.Err() != nil {
		how = srv.Err().Error()
	}
	p.opts.Logf("postgres: the server exited unexpectedly (%s), restarting it", how)
	p.restarts.Died(srv.Uptime(), func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.wanted || p.srv != nil {
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := p.ensure(ctx, 0); err != nil {
			p.opts.Logf("postgres: restarting the server: %v", err)
			return false
		}
		return true
	})
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

// nonEmpty is s as a list, empty when s is.
func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
