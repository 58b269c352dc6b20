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
