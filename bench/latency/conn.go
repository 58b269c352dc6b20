package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// conn is one keep-alive HTTP/1.1 connection that sends the same GET
// again and again. It reads responses with a parser of its own rather
// than net/http's so that a request allocates nothing: the generator's
// garbage collector would otherwise pause it, and its pauses would be
// counted as the server's latency.
type conn struct {
	addr string
	req  []byte
	nc   net.Conn
	br   *bufio.Reader
}

func newConn(addr string, req []byte) *conn {
	return &conn{addr: addr, req: req}
}

// do sends the request and reads the whole response, dialing first if
// the connection is closed, and answers the response's status code. The
// connection is closed after a failure or a response that does not keep
// it alive, and dialed again by the next call.
func (c *conn) do(deadline time.Time) (int, error) {
	if c.nc == nil {
		nc, err := net.DialTimeout("tcp", c.addr, time.Until(deadline))
		if err != nil {
			return 0, fmt.Errorf("dial %s: %w", c.addr, err)
		}
		if c.br == nil {
			c.br = bufio.NewReaderSize(nc, 16<<10)
		} else {
			c.br.Reset(nc)
		}
		c.nc = nc
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		c.close()
		return 0, fmt.Errorf("set deadline: %w", err)
	}
	if _, err := c.nc.Write(c.req); err != nil {
		c.close()
		return 0, fmt.Errorf("write request: %w", err)
	}
	status, keep, err := readResponse(c.br)
	if err != nil {
		c.close()
		return 0, err
	}
	if !keep {
		c.close()
	}
	return status, nil
}

func (c *conn) close() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}

var (
	crlf             = []byte("\r\n")
	hdrContentLength = []byte("content-length")
	hdrTransferEnc   = []byte("transfer-encoding")
	hdrConnection    = []byte("connection")
	tokChunked       = []byte("chunked")
	tokClose         = []byte("close")
	tokKeepAlive     = []byte("keep-alive")
)

// readResponse reads one HTTP/1.1 response to a GET from br, body
// included, and answers its status and whether the connection stays
// open after it. It knows the framings a server may use for a GET:
// Content-Length, chunked, bodiless statuses, and a body up to the end
// of the connection.
func readResponse(br *bufio.Reader) (status int, keep bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, fmt.Errorf("read status line: %w", err)
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	keep = line[7] == '1'
	for _, b := range line[9:12] {
		if b < '0' || b > '9' {
			return 0, false, fmt.Errorf("bad status line %q", line)
		}
		status = status*10 + int(b-'0')
	}
	length, chunked := int64(-1), false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, false, fmt.Errorf("read header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("bad header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, hdrContentLength):
			n, perr := strconv.ParseInt(string(value), 10, 64) // the conversion does not allocate
			if perr != nil || n < 0 {
				return 0, false, fmt.Errorf("bad Content-Length %q", value)
			}
			length = n
		case bytes.EqualFold(name, hdrTransferEnc):
			chunked = containsToken(value, tokChunked)
		case bytes.EqualFold(name, hdrConnection):
			if containsToken(value, tokClose) {
				keep = false
			} else if containsToken(value, tokKeepAlive) {
				keep = true
			}
		}
	}
	switch {
	case status/100 == 1 || status == 204 || status == 304:
		return status, keep, nil
	case chunked:
		return status, keep, readChunked(br)
	case length >= 0:
		if _, err := br.Discard(int(length)); err != nil {
			return 0, false, fmt.Errorf("read body: %w", err)
		}
		return status, keep, nil
	default:
		// Delimited by the end of the connection.
		if _, err := io.Copy(io.Discard, br); err != nil {
			return 0, false, fmt.Errorf("read body: %w", err)
		}
		return status, false, nil
	}
}

// readChunked discards a chunked body and its trailers.
func readChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read chunk size: %w", err)
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if n == 0 {
			break
		}
		if _, err := br.Discard(int(n)); err != nil {
			return fmt.Errorf("read chunk: %w", err)
		}
		if line, err = br.ReadSlice('\n'); err != nil || !bytes.Equal(line, crlf) {
			return errors.New("chunk not followed by CRLF")
		}
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read trailer: %w", err)
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return nil
		}
	}
}

// containsToken reports whether the comma-separated header value holds
// tok, case-insensitively.
func containsToken(value, tok []byte) bool {
	for len(value) > 0 {
		var item []byte
		item, value, _ = bytes.Cut(value, []byte(","))
		if bytes.EqualFold(bytes.TrimSpace(item), tok) {
			return true
		}
	}
	return false
}
