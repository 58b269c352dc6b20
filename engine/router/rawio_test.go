package router

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a.(*net.TCPConn), b.(*net.TCPConn)
}

func rawOf(t *testing.T, c *net.TCPConn) *rawIO {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return newRawIO(raw)
}

// rawIO reads and writes as net.Conn does: whole writes larger than the
// socket's buffers (waiting in the poller), a wait for data, EOF, the
// read deadline, a reset, and Close ending a waiting read.
func TestRawIO(t *testing.T) {
	t.Run("large write and waiting read", func(t *testing.T) {
		a, b := tcpPair(t)
		ra, rb := rawOf(t, a), rawOf(t, b)
		want := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB: past the buffers
		done := make(chan error, 1)
		go func() {
			n, err := ra.Write(want)
			if err == nil && n != len(want) {
				err = io.ErrShortWrite
			}
			done <- err
		}()
		got := make([]byte, 0, len(want))
		buf := make([]byte, 64<<10)
		for len(got) < len(want) {
			n, err := rb.Read(buf)
			if err != nil {
				t.Fatalf("read after %d bytes: %v", len(got), err)
			}
			got = append(got, buf[:n]...)
		}
		if err := <-done; err != nil {
			t.Fatalf("write: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatal("read other bytes than were written")
		}
	})
	t.Run("EOF", func(t *testing.T) {
		a, b := tcpPair(t)
		if _, err := a.Write([]byte("last")); err != nil {
			t.Fatal(err)
		}
		a.Close()
		rb := rawOf(t, b)
		buf := make([]byte, 16)
		n, err := rb.Read(buf)
		if err != nil || string(buf[:n]) != "last" {
			t.Fatalf("read %q, %v", buf[:n], err)
		}
		if n, err := rb.Read(buf); n != 0 || err != io.EOF {
			t.Fatalf("after close: %d, %v; want 0, EOF", n, err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		_, b := tcpPair(t)
		rb := rawOf(t, b)
		_ = b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, err := rb.Read(make([]byte, 16))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("got %v, want a deadline error", err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		a, b := tcpPair(t)
		_ = a.SetLinger(0) // close sends a reset
		a.Close()
		rb := rawOf(t, b)
		buf := make([]byte, 16)
		var err error
		for range 100 {
			if _, err = rb.Read(buf); err != nil {
				break
			}
		}
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("got %v, want ECONNRESET", err)
		}
	})
	t.Run("close ends a wait", func(t *testing.T) {
		_, b := tcpPair(t)
		rb := rawOf(t, b)
		got := make(chan error, 1)
		go func() {
			_, err := rb.Read(make([]byte, 16))
			got <- err
		}()
		time.AfterFunc(20*time.Millisecond, func() { b.Close() })
		select {
		case err := <-got:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("got %v, want net.ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a read waiting on a closed connection did not end")
		}
	})
}

// A request kept by sendWithRead is written by the next Read, from inside
// its wait for the answer: whole, also when it does not fit the socket's
// buffers; a reset peer is an error; the read deadline still ends the
// wait, with the request sent.
func TestRawIOSendWithRead(t *testing.T) {
	exchange := func(t *testing.T, req []byte) {
		a, b := tcpPair(t)
		ra := rawOf(t, a)
		ra.sendWithRead()
		if n, err := ra.Write(req); n != len(req) || err != nil {
			t.Fatalf("write: %d, %v", n, err)
		}
		got := make(chan []byte, 1)
		go func() {
			buf := make([]byte, len(req))
			if _, err := io.ReadFull(b, buf); err != nil {
				got <- nil
				return
			}
			got <- buf
			b.Write([]byte("answer"))
		}()
		buf := make([]byte, 16)
		n, err := ra.Read(buf)
		if err != nil || string(buf[:n]) != "answer" {
			t.Fatalf("read %q, %v; want the answer", buf[:n], err)
		}
		if r := <-got; !bytes.Equal(r, req) {
			t.Fatalf("the peer got %d other bytes than the %d written", len(r), len(req))
		}
		if len(ra.pend) != 0 || ra.pendStuck || ra.deferNext {
			t.Fatal("state left after the exchange")
		}
	}
	t.Run("small", func(t *testing.T) { exchange(t, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) })
	t.Run("past the buffers", func(t *testing.T) { exchange(t, bytes.Repeat([]byte("0123456789abcdef"), 1<<18)) })
	t.Run("nothing written before the read", func(t *testing.T) {
		a, b := tcpPair(t)
		ra := rawOf(t, a)
		ra.sendWithRead()
		ra.Write([]byte("kept"))
		_ = b.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, err := b.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the peer read %d bytes before the read: %v", n, err)
		}
	})
	t.Run("a write after it goes out first", func(t *testing.T) {
		a, b := tcpPair(t)
		ra := rawOf(t, a)
		ra.sendWithRead()
		ra.Write([]byte("one,"))
		ra.Write([]byte("two"))
		buf := make([]byte, 7)
		if _, err := io.ReadFull(b, buf); err != nil || string(buf) != "one,two" {
			t.Fatalf("peer read %q, %v", buf, err)
		}
	})
	t.Run("reset peer", func(t *testing.T) {
		a, b := tcpPair(t)
		_ = b.SetLinger(0)
		b.Close()
		ra := rawOf(t, a)
		var err error
		for range 100 {
			ra.sendWithRead()
			ra.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
			if _, err = ra.Read(make([]byte, 16)); err != nil {
				break
			}
		}
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			t.Fatalf("got %v, want ECONNRESET or EPIPE", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		a, b := tcpPair(t)
		ra := rawOf(t, a)
		ra.sendWithRead()
		ra.Write([]byte("request"))
		_ = a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := ra.Read(make([]byte, 16)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("got %v, want a deadline error", err)
		}
		buf := make([]byte, 7)
		_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(b, buf); err != nil || string(buf) != "request" {
			t.Fatalf("the request was not sent: %q, %v", buf, err)
		}
	})
}
