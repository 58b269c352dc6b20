package redis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"hako/engine/dyno"
	"hako/engine/tether"
)

const (
	// readyTimeout bounds the wait for a new server to answer; loading a
	// large appendonly file may take a while.
	readyTimeout = 10 * time.Second
	// stopTimeout bounds the wait for a server to save and exit after
	// SIGTERM, before SIGKILL.
	stopTimeout = 10 * time.Second
	// logTail is how much of the server's log an error quotes.
	logTail = 1024
)

// errPortBusy marks a server that could not bind its port.
var errPortBusy = errors.New("port already in use")

// credential is the user the servers run as.
type credential struct{ uid, gid int }

// server is one running redis-server.
type server struct {
	pid  int
	done chan struct{} // closed once the process is reaped
	err  error         // how it exited, set before done is closed

	mu sync.Mutex
	// exited is set once the process is dead: from then on its pid may
	// name another process and must not be signalled.
	exited bool
}

// signal sends SIGTERM, or SIGKILL, to the server's process group, which
// holds its background saves too.
func (s *server) signal(kill bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.exited {
		_ = signalGroup(s.pid, kill)
	}
}

// stop stops the server and waits for it: SIGTERM first, for Redis to
// write its data, then SIGKILL after stopTimeout.
func (s *server) stop() {
	s.signal(false)
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-s.done:
		return
	case <-t.C:
	}
	s.signal(true)
	<-s.done
}

// start runs the server of r and waits until it answers. The caller holds
// p.mu.
func (p *Provider) start(ctx context.Context, bin string, r resource) error {
	if err := p.prepareDirs(r); err != nil {
		return err
	}
	conf := config(r)
	if err := p.writeConfig(r, conf); err != nil {
		return err
	}
	logPath := filepath.Join(r.data, "redis.log")
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE|openNoFollow, 0o640)
	if err != nil {
		return fmt.Errorf("open the server log: %w", err)
	}
	var offset int64
	if fi, err := logFile.Stat(); err == nil {
		offset = fi.Size()
	}
	cmd := exec.Command(bin, "-")
	cmd.Stdin = strings.NewReader(conf)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = r.data
	cmd.Env = []string{} // nothing of hako's environment
	setProcAttr(cmd, p.cred)
	// The server's memory is bounded like a dyno's: a dyno filling its
	// Redis must not take the host's memory.
	cg, cgErr := dyno.NewMemoryCgroup(r.plan.cgroupMemory())
	s, err := launch(cmd, func(s *server) {
		if cg != nil {
			cg.Remove()
		}
		p.exited(r.name, s)
	})
	logFile.Close() // the server has its own descriptor
	if err != nil {
		if cg != nil {
			cg.Remove()
		}
		return fmt.Errorf("run redis-server: %w", err)
	}
	if cgErr == nil {
		cgErr = cg.Enter(s.pid)
	}
	if cgErr != nil && p.cred != nil {
		p.opts.Logf("redis add-on %s: no memory cgroup, bounded by maxmemory only: %v", r.name, cgErr)
	}
	if err := waitReady(ctx, s, r); err != nil {
		s.stop()
		tail := readTail(logPath, offset)
		if strings.Contains(tail, "Address already in use") {
			return fmt.Errorf("%w: %d", errPortBusy, r.port)
		}
		return fmt.Errorf("%w; the server log ends with:\n%s", err, tail)
	}
	p.servers[r.name] = s
	p.opts.Logf("redis add-on %s started on %s (pid %d)", r.name, r.addr(), s.pid)
	return nil
}

// exited forgets a server that ended, so that Start may run it again, and
// says so when nobody stopped it.
func (p *Provider) exited(name string, s *server) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.servers[name] == s {
		delete(p.servers, name)
		p.opts.Logf("redis add-on %s: redis-server exited on its own: %v", name, s.err)
	}
}

// launch starts cmd and supervises it until it ends, then calls onExit.
//
// The server must die with hako, or a killed hako would leave it holding
// its port: its Pdeathsig does that, and package tether makes sure the
// signal comes only when hako dies.
func launch(cmd *exec.Cmd, onExit func(*server)) (*server, error) {
	s := &server{done: make(chan struct{})}
	err := tether.Start(cmd, func(pid int) { s.pid = pid }, func() {
		// Learn of the exit before reaping, while the pid still names the
		// dead server, to take any leftover of its group with it.
		if waitExited(s.pid) {
			s.mu.Lock()
			_ = signalGroup(s.pid, true)
			s.exited = true
			s.mu.Unlock()
		}
		err := cmd.Wait()
		s.mu.Lock()
		s.exited = true
		s.mu.Unlock()
		s.err = err
		close(s.done)
		onExit(s)
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// waitReady polls the server until it answers PING after AUTH, it exits,
// readyTimeout passes or ctx ends.
func waitReady(ctx context.Context, s *server, r resource) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := ping(ctx, r.addr(), r.password)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server did not answer on %s within %v: %w", r.addr(), readyTimeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for redis-server: %w", ctx.Err())
		case <-s.done:
			return fmt.Errorf("redis-server exited at start: %v", s.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ping authenticates and sends PING, in RESP: both must succeed.
func ping(ctx context.Context, addr, password string) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return err
	}
	req := "*2\r\n$4\r\nAUTH\r\n$" + strconv.Itoa(len(password)) + "\r\n" + password + "\r\n*1\r\n$4\r\nPING\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	for _, want := range []string{"+OK", "+PONG"} {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if line = strings.TrimRight(line, "\r\n"); line != want {
			return fmt.Errorf("redis-server answered %q", line)
		}
	}
	return nil
}

// freePort returns a loopback port free at the time of the call.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// readTail returns the end of what the server logged from offset on,
// refusing to follow a link its user may have put in its place.
func readTail(path string, offset int64) string {
	f, err := os.OpenFile(path, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > logTail {
		offset = fi.Size() - logTail
	}
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, logTail))
	return strings.TrimSpace(string(b))
}
