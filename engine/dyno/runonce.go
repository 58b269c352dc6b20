package dyno

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"

	"hako/engine"
)

// oneoff is a running one-off dyno, tracked so that StopAll ends it too
// and waits until its sandbox is gone.
type oneoff struct {
	once sync.Once
	stop chan struct{} // closed to stop it
	done chan struct{} // closed when RunOnce has returned and the process is reaped
}

// Stop ends the one-off dyno and waits until RunOnce has returned and its
// sandbox is removed.
func (o *oneoff) Stop() error {
	o.once.Do(func() { close(o.stop) })
	<-o.done
	return nil
}

// RunOnce runs a one-off dyno (the release phase, `hako run`) with the
// same isolation and environment as any dyno, and never restarts it.
// stdin (nil for none) feeds it; its stdout and stderr go to out as they
// come, and line by line to the log like any dyno's. It returns the exit
// status (128+signal when killed). Cancelling ctx, StopAll, or but for
// a release phase its daily cycle (Options.CycleAfter: a one-off is not
// restarted after it) stops it the usual way (SIGTERM, grace, SIGKILL); RunOnce then returns
// the status along with an error.
//
// A stdin that blocks in Read keeps one goroutine reading it until it
// returns, after RunOnce has: an io.Reader cannot be interrupted.
func (s *Supervisor) RunOnce(ctx context.Context, spec engine.DynoSpec, stdin io.Reader, out io.Writer) (int, error) {
	if err := s.Refusal(); err != nil {
		return -1, err
	}
	port, err := prepare(spec)
	if err != nil {
		return -1, err
	}
	heroku := func(line string) { s.log(spec.App, "heroku", spec.Name, line) }
	outR, outW, inR, closeOut, err := runStreams(spec, stdin)
	if err != nil {
		return -1, fmt.Errorf("run %s of %s: %w", spec.Name, spec.App, err)
	}
	defer closeOut()

	heroku("Starting process with command `" + spec.Command + "`")
	p, err := s.spawn(procConfig{
		spec:   spec,
		port:   port,
		exe:    s.opts.Exe,
		script: WrapperScript(spec.Command),
		stdin:  inR,
		out:    outW,
		tty:    spec.Terminal != nil,
	})
	outW.Close() // the child holds its own copies
	if inR != nil {
		inR.Close()
	}
	if err != nil {
		return -1, fmt.Errorf("run %s of %s: %w", spec.Name, spec.App, err)
	}
	o := &oneoff{stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.oneoffs[o] = struct{}{}
	s.mu.Unlock()
	// RunOnce returns with the exit status, which may come before the
	// kernel and the supervisor are done tearing the dyno down: the
	// one-off stays listed (StopAll waits for it) until they are. Its
	// slug directory may go meanwhile (DirsInUse leaves it out): no
	// process is left to read it.
	defer func() {
		go func() {
			<-p.exited
			s.mu.Lock()
			delete(s.oneoffs, o)
			s.mu.Unlock()
			close(o.done)
		}()
	}()
	heroku("State changed from starting to up")

	p.outDone = make(chan struct{})
	go copyLines(io.TeeReader(outR, &lenientWriter{w: out}), func(line string) {
		s.log(spec.App, "app", spec.Name, line)
	}, p.outDone)

	// A one-off is cycled like any dyno, as Heroku's are: a detached one
	// (or a terminal left open) runs at most CycleAfter, plus jitter. A
	// release phase is not: its deploy waits for it, and ends it when the
	// client that asked for the release goes away.
	var cycle <-chan time.Time
	if d := s.cycleDelay(); d > 0 && spec.Type != engine.ReleasePhaseType {
		t := time.NewTimer(d)
		defer t.Stop()
		cycle = t.C
	}
	var stopErr error
	select {
	case <-p.known:
	case <-cycle:
		heroku("Cycling")
		stopErr = fmt.Errorf("run %s of %s: cycled after running its longest", spec.Name, spec.App)
		s.stopProcess(p, heroku)
	case <-ctx.Done():
		stopErr = fmt.Errorf("run %s of %s: %w", spec.Name, spec.App, ctx.Err())
		s.stopProcess(p, heroku)
	case <-o.stop:
		stopErr = fmt.Errorf("run %s of %s: stopped by the server shutting down", spec.Name, spec.App)
		s.stopProcess(p, heroku)
	}
	// Output must not reach out after RunOnce returns: past the drain
	// timeout (a daemon the dyno left holding the pipe), cut it off.
	if !waitOrTimeout(p.outDone, drainTimeout) {
		closeOut()
		<-p.outDone
	}
	heroku(fmt.Sprintf("Process exited with status %d", p.knownStatus))
	heroku("State changed from up to complete")
	return p.knownStatus, stopErr
}

// lenientWriter passes writes on until the first error, then drops them,
// so that a client gone away does not stall the dyno on a full pipe.
type lenientWriter struct {
	w      io.Writer
	failed bool
}

func (l *lenientWriter) Write(p []byte) (int, error) {
	if l.w != nil && !l.failed {
		if _, err := l.w.Write(p); err != nil {
			l.failed = true
		}
	}
	return len(p), nil
}

// runStreams returns the one-off dyno's streams: the read end of its
// output, the ends it gets as stdout/stderr and stdin (nil for none), and
// the function that closes the read end. With a Terminal they are a
// pseudo-terminal, sized as the user's and resized with it, so that
// shells and editors behave as they would locally; otherwise pipes. The
// copy from stdin ends when stdin does or the dyno is gone.
func runStreams(spec engine.DynoSpec, stdin io.Reader) (outR, outW, inR *os.File, closeOut func(), err error) {
	if t := spec.Terminal; t != nil {
		ptmx, slave, err := pty.Open()
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("open a terminal: %w", err)
		}
		// Resizes may still arrive while the dyno ends: the terminal is
		// resized and closed under one lock, never resized once closed.
		var mu sync.Mutex
		closed := false
		resize := func(cols, rows uint16) {
			mu.Lock()
			defer mu.Unlock()
			if !closed && cols > 0 && rows > 0 {
				_ = pty.Setsize(ptmx, &pty.Winsize{Cols: cols, Rows: rows})
			}
		}
		closeOut = func() {
			mu.Lock()
			defer mu.Unlock()
			if !closed {
				closed = true
				ptmx.Close()
			}
		}
		resize(t.Cols, t.Rows)
		if t.Resize != nil {
			go func() {
				for sz := range t.Resize {
					resize(sz[0], sz[1])
				}
			}()
		}
		if stdin != nil {
			go func() { _, _ = io.Copy(ptmx, stdin) }()
		}
		// The slave serves as both stdin and output: dup it so that each
		// can be closed on its own once the child holds its copies.
		in, err := dupFile(slave)
		if err != nil {
			closeOut()
			slave.Close()
			return nil, nil, nil, nil, err
		}
		return ptmx, slave, in, closeOut, nil
	}
	outR, outW, err = os.Pipe()
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("create output pipe: %w", err)
	}
	if stdin != nil {
		r, w, err := os.Pipe()
		if err != nil {
			outR.Close()
			outW.Close()
			return nil, nil, nil, nil, fmt.Errorf("create input pipe: %w", err)
		}
		inR = r
		// Once the dyno is gone the pipe has no reader: the next write
		// fails and the copy ends, unless stdin itself blocks.
		go func() {
			_, _ = io.Copy(w, stdin)
			w.Close()
		}()
	}
	var once sync.Once
	return outR, outW, inR, func() { once.Do(func() { outR.Close() }) }, nil
}

func dupFile(f *os.File) (*os.File, error) {
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("dup terminal: %w", err)
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), f.Name()), nil
}
