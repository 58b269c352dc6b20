package router

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// rawIO reads and writes a connection's socket with raw system calls,
// through its RawConn, so that the runtime never sees the forwarding
// loop's reads and writes as system calls.
//
// The trap it avoids: a write to a socket on this machine (loopback, a
// dyno's veth) runs the receiving side's TCP stack and wakes its reader
// inside the write call, which on a virtual machine often takes longer
// than 20 µs. The runtime's monitor (sysmon) takes the processor away
// from a goroutine that stays that long in a system call, hands it to
// another thread, and keeps polling every 20 µs while it finds such
// calls: at tens of thousands of requests a second that was a sixth of
// the router's CPU, in wake-ups and thread hand-offs, for no gain, as
// these calls never block (the socket is non-blocking; EAGAIN waits in
// the runtime's poller as a plain Read would).
//
// Everything else is what net.Conn's Read and Write do: the poller waits
// for readiness, deadlines and Close end the wait, a read of 0 bytes is
// EOF, a write is whole or fails. One rawIO serves one reader and one
// writer at a time (a bufio.Reader and a bufio.Writer).
type rawIO struct {
	raw syscall.RawConn

	rp  []byte
	rn  int
	rer error
	wp  []byte
	wn  int
	wer error

	// Sending a request and waiting for its answer in one wait (see
	// sendWithRead): deferNext makes the next Write keep its bytes in
	// pend, which the next Read writes before it waits.
	deferNext bool
	pend      []byte
	pendStuck bool // pend met a full socket buffer: written by Write

	read, write func(fd uintptr) bool // bound once: no allocation per call
}

func newRawIO(raw syscall.RawConn) *rawIO {
	r := &rawIO{raw: raw}
	r.read = r.doRead
	r.write = r.doWrite
	return r
}

func (r *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		r.rp, r.rn, r.rer = p, 0, nil
		err := r.raw.Read(r.read)
		n, rer := r.rn, r.rer
		r.rp = nil
		if err != nil {
			return 0, err
		}
		if r.pendStuck {
			// The request did not fit the socket's buffer: written
			// the plain way, waiting until writable, then read.
			r.pendStuck = false
			if err := r.flushPend(); err != nil {
				return 0, err
			}
			continue
		}
		return n, rer
	}
}

// sendWithRead makes the next Write (a bufio.Writer's Flush of a whole
// request) keep its bytes for the next Read, which writes them from
// inside its wait for the answer: one system call fewer per request, as
// the first read after sending a request finds nothing yet and costs a
// read that fails with EAGAIN, and fewer trips through the poller.
//
// The trap: the poller's readiness is cleared when a Read starts, so a
// read may be skipped only for data that cannot have arrived before the
// Read began. An answer to a request written after that point is such
// data, so the wait is sure to be woken by it. Bytes a dyno sends before
// reading the request (never in HTTP) wake it only with what follows,
// or when the caller's read deadline ends the wait and it reads again.
//
// The caller must not write to the buffer Write was given until the next
// Read: bufio.Writer's Flush hands its own buffer, and the forwarding
// loop reads the answer before it writes anything else.
func (r *rawIO) sendWithRead() { r.deferNext = true }

// flushPend writes what a Write kept for the next Read.
func (r *rawIO) flushPend() error {
	p := r.pend
	r.pend = nil
	_, err := r.Write(p)
	return err
}

func (r *rawIO) doRead(fd uintptr) bool {
	if len(r.pend) > 0 {
		for len(r.pend) > 0 {
			n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(unsafe.SliceData(r.pend))), uintptr(len(r.pend)), 0, 0, 0)
			switch e {
			case 0:
				r.pend = r.pend[n:]
			case syscall.EINTR:
			case syscall.EAGAIN:
				r.pendStuck = true
				return true
			default:
				r.pend = nil
				r.rer = os.NewSyscallError("write", e)
				return true
			}
		}
		return false // sent: the answer comes later, wait for it
	}
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(unsafe.SliceData(r.rp))), uintptr(len(r.rp)), 0, 0, 0)
		switch e {
		case 0:
			if n == 0 {
				r.rer = io.EOF
			} else {
				r.rn = int(n)
			}
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait for the poller, then again
		default:
			r.rer = os.NewSyscallError("read", e)
			return true
		}
	}
}

func (r *rawIO) Write(p []byte) (int, error) {
	if r.deferNext {
		r.deferNext = false
		if len(r.pend) == 0 {
			r.pend = p
			return len(p), nil
		}
	}
	if len(r.pend) > 0 {
		if err := r.flushPend(); err != nil {
			return 0, err
		}
	}
	r.wp, r.wn, r.wer = p, 0, nil
	err := r.raw.Write(r.write)
	n, wer := r.wn, r.wer
	r.wp = nil
	if err != nil {
		return n, err
	}
	return n, wer
}

func (r *rawIO) doWrite(fd uintptr) bool {
	for r.wn < len(r.wp) {
		n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&r.wp[r.wn])), uintptr(len(r.wp)-r.wn), 0, 0, 0)
		switch e {
		case 0:
			r.wn += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // wait until writable, then the rest
		default:
			r.wer = os.NewSyscallError("write", e)
			return true
		}
	}
	return true
}

// socketIO returns what the loop reads and writes c through: a rawIO
// when c has a RawConn, else c itself.
func socketIO(c io.ReadWriter, raw syscall.RawConn) io.ReadWriter {
	if raw == nil {
		return c
	}
	return newRawIO(raw)
}
