package router

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"hako/engine"
	"hako/engine/logs"
)

// BenchmarkForward is the router's cost per plain request on its own
// forwarding loop: 32 keep-alive clients over loopback TCP, a dyno that
// answers each request with a fixed 13-byte body, and the router's log
// line per request going to a log buffer mirrored to nowhere. The client
// and the dyno allocate nothing, so allocs/op is the router's.
//
//	go test ./engine/router -run '^$' -bench Forward -benchmem
func BenchmarkForward(b *testing.B) {
	dyno := fixedDyno(b)
	sink := &logs.Buffer{Mirror: io.Discard}
	rt := New("localhost", sink)
	rt.SetBackends("app", []engine.Backend{&fakeBackend{addr: dyno, up: true, name: "web.1", state: engine.DynoUp}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- rt.Serve(ln) }()
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rt.Shutdown(ctx)
		<-served
	})
	const clients = 32
	conns := make([]net.Conn, clients)
	for i := range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	req := []byte("GET /bench HTTP/1.1\r\nHost: app.localhost\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i, c := range conns {
		n := b.N / clients
		if i < b.N%clients {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := bufio.NewReaderSize(c, 4096)
			for range n {
				if _, err := c.Write(req); err != nil {
					errs <- err
					return
				}
				if err := readAnswer(br); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// readAnswer reads one response with a Content-Length, allocating
// nothing, and fails on any status but 200.
func readAnswer(br *bufio.Reader) error {
	length := -1
	first := true
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if first {
			if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
				return &answerError{line: string(line)}
			}
			first = false
			continue
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			length = 0
			for _, c := range bytes.TrimSpace(v) {
				length = length*10 + int(c-'0')
			}
		}
	}
	if length < 0 {
		return &answerError{line: "no Content-Length"}
	}
	_, err := br.Discard(length)
	return err
}

type answerError struct{ line string }

func (e *answerError) Error() string { return "unexpected answer: " + e.line }

// fixedDyno serves keep-alive HTTP/1.1 with a fixed answer, reading
// request heads without parsing more than their end.
func fixedDyno(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	body := "hello from go"
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Sun, 29 Nov 2026 00:00:00 GMT\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 8192)
				for {
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(answer); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
