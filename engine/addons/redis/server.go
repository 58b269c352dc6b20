package redis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hako/engine/addons/localproc"
	"hako/engine/dyno"
)

const (
	// readyTimeout bounds the wait for a new server to answer; loading a
	// large appendonly file may take a while.
	readyTimeout = 10 * time.Second
	// stopTimeout bounds the wait for a server to save and exit after
	// SIGTERM, before SIGKILL.
	stopTimeout = 10 * time.Second
)

// errPortBusy marks a server that could not bind its port.
var errPortBusy = errors.New("port already in use")

// credential is the user the servers run as.
type credential struct{ uid, gid int }

// server is one running redis-server and what it serves.
type server struct {
	proc *localproc.Proc
	r    resource
}

// stop stops the server and waits for it: SIGTERM first, for Redis to
// write its data, then SIGKILL after stopTimeout.
func (s *server) stop() {
	s.proc.Stop(nil, localproc.Step{Signal: syscall.SIGTERM, Wait: stopTimeout})
}

// start runs the server of r and waits until it answers. The caller holds
// p.mu.
func (p *Provider) start(ctx context.Context, bin string, r resource) error {
	if err := p.prepareDirs(r); err != nil {
		return err
	}
	conf := config(r, p.opts.Host)
	if err := p.writeConfig(r, conf); err != nil {
		return err
	}
	logPath := filepath.Join(r.data, "redis.log")
	logFile, offset, err := localproc.OpenLog(logPath, 0o640)
	if err != nil {
		return err
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
	s := &server{r: r}
	s.proc, err = localproc.Start(cmd, func(*localproc.Proc) {
		if cg != nil {
			cg.Remove()
		}
		p.exited(s)
	})
	logFile.Close() // the server has its own descriptor
	if err != nil {
		if cg != nil {
			cg.Remove()
		}
		return fmt.Errorf("run redis-server: %w", err)
	}
	if cgErr == nil {
		cgErr = cg.Enter(s.proc.Pid())
	}
	if cgErr != nil && p.cred != nil {
		p.opts.Logf("redis add-on %s: no memory cgroup, bounded by maxmemory only: %v", r.name, cgErr)
	}
	ready := func(ctx context.Context) error { return ping(ctx, r.addr(), r.password) }
	if err := localproc.WaitReady(ctx, s.proc, readyTimeout, ready); err != nil {
		s.stop()
		tail := localproc.LogTail(logPath, offset)
		if strings.Contains(tail, "Address already in use") {
			return fmt.Errorf("%w: %d", errPortBusy, r.port)
		}
		return fmt.Errorf("redis-server on %s: %w; the server log ends with: %s", r.addr(), err, tail)
	}
	p.servers[r.name] = s
	p.opts.Logf("redis add-on %s started on %s (pid %d)", r.name, r.addr(), s.proc.Pid())
	return nil
}

// exited is told that a server ended. One that nobody stopped has died
// (killed, out of memory): it is restarted as localproc.Restarts says,
// unless its add-on is stopped or gone by then.
func (p *Provider) exited(s *server) {
	p.mu.Lock()
	defer p.mu.Unlock()
	name := s.r.name
	if p.servers[name] != s {
		return // stopped on purpose, or it never came up
	}
	delete(p.servers, name)
	p.opts.Logf("redis add-on %s: redis-server exited on its own (%v), restarting it", name, s.proc.Err())
	rs := p.restarts[name]
	if rs == nil {
		rs = &localproc.Restarts{}
		p.restarts[name] = rs
	}
	rs.Died(s.proc.Uptime(), func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.restarts[name] != rs || p.servers[name] != nil {
			return true // stopped, deprovisioned or started again meanwhile
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		bin, err := lookRedis()
		if err == nil {
			err = p.start(ctx, bin, s.r)
		}
		if err != nil {
			p.opts.Logf("redis add-on %s: restarting redis-server: %v", name, err)
			return false
		}
		return true
	})
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
