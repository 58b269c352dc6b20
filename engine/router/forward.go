package router

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"hako/engine"
)

// maxFastBody is the largest request body the forwarding loop sends; a
// larger one is net/http's, which writes it while it reads the answer (a
// dyno may answer before it read it all).
const maxFastBody = 64 << 10

// clientCheck is how often the loop, waiting for a dyno's answer, looks
// whether the client is still there (H27 when it is not).
const clientCheck = 500 * time.Millisecond

// fastRequest is a request head the loop forwards; its slices point into
// the client reader's buffer.
type fastRequest struct {
	method, target []byte
	host           string
	length         int64
	close          bool   // Connection: close
	xff            []byte // prior X-Forwarded-For values, joined
	via            []byte // prior Via values, joined
	id             []byte // the client's first X-Request-Id
}

// parse reads head into rq; false when the request is not one for the
// loop (see Serve): net/http then serves it, refusing it if need be.
func (rq *fastRequest) parse(head []byte) bool {
	if !cleanHead(head) {
		return false
	}
	eol := bytes.IndexByte(head, '\r')
	if eol < 0 {
		return false
	}
	first := head[:eol]
	sp := bytes.IndexByte(first, ' ')
	if sp <= 0 {
		return false
	}
	rq.method = first[:sp]
	for _, c := range rq.method {
		if !isTokenChar(c) {
			return false
		}
	}
	rest := first[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 || rest[0] != '/' || !bytes.Equal(rest[sp+1:], []byte("HTTP/1.1")) {
		return false
	}
	rq.target = rest[:sp]
	rq.length = 0
	hosts, lengths := 0, 0
	ok := headLines(head, func(line []byte) bool {
		name, value, valid := splitHeader(line)
		if !valid {
			hosts = -1
			return false
		}
		switch headerKind(name, true) {
		case hHost:
			hosts++
			rq.host = string(value)
		case hContentLength:
			n, valid := parseLength(value)
			if !valid || n > maxFastBody {
				hosts = -1
				return false
			}
			lengths++
			rq.length = n
		case hConnection:
			if !onlyTokens(value, "keep-alive", "close") {
				hosts = -1
				return false
			}
			rq.close = rq.close || hasToken(value, "close")
		case hTransfer, hSlow:
			hosts = -1
			return false
		case hForwardedFor:
			rq.xff = appendList(rq.xff, value)
		case hVia:
			rq.via = appendList(rq.via, value)
		case hRequestID:
			if rq.id == nil {
				rq.id = value
			}
		}
		return true
	})
	return ok && hosts == 1 && lengths <= 1 && rq.host != ""
}

func appendList(list, value []byte) []byte {
	if list != nil {
		list = append(list, ", "...)
	}
	return append(list, value...)
}

// methodName returns the method as a string, without allocating for the
// common ones.
func methodName(m []byte) string {
	for _, known := range [...]string{"GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"} {
		if string(m) == known {
			return known
		}
	}
	return string(m)
}

// replayable reports whether a request without a body may be sent again
// after a kept-alive connection turned out closed, as net/http's
// Transport allows.
func replayable(method []byte) bool {
	switch string(method) {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return false
}

// fastResponse is what the loop learned of a dyno's response head.
type fastResponse struct {
	code     int
	reason   []byte
	length   int64 // -1: not given
	chunked  bool
	close    bool // the dyno closes the connection after it
	hasDate  bool
	dropping [][]byte // header names the dyno's Connection lists
}

// parse reads a response head; false for a malformed one (H13).
func (rs *fastResponse) parse(head []byte) bool {
	eol := bytes.IndexByte(head, '\r')
	if eol < 0 {
		return false
	}
	minor, code, reason, ok := statusLine(head[:eol])
	if !ok {
		return false
	}
	*rs = fastResponse{code: code, reason: reason, length: -1, close: minor == 0}
	keepAlive := false
	bad := false
	ok = headLines(head, func(line []byte) bool {
		name, value, valid := splitHeader(line)
		if !valid {
			bad = true
			return false
		}
		switch headerKind(name, false) {
		case hContentLength:
			n, valid := parseLength(value)
			if !valid || rs.length >= 0 && rs.length != n {
				bad = true
				return false
			}
			rs.length = n
		case hTransfer:
			if !bytes.EqualFold(value, []byte("chunked")) {
				bad = true
				return false
			}
			rs.chunked = true
		case hConnection:
			for _, item := range bytes.Split(value, []byte(",")) {
				item = trimOWS(item)
				switch {
				case bytes.EqualFold(item, []byte("close")):
					rs.close = true
				case bytes.EqualFold(item, []byte("keep-alive")):
					keepAlive = true
				case len(item) > 0:
					rs.dropping = append(rs.dropping, item)
				}
			}
		case hDate:
			rs.hasDate = true
		}
		return true
	})
	if minor == 0 && keepAlive && !rs.close {
		rs.close = false
	}
	if rs.chunked {
		rs.length = -1
	}
	return ok && !bad
}

// dropped reports whether name is listed in the dyno's Connection header.
func (rs *fastResponse) dropped(name []byte) bool {
	for _, d := range rs.dropping {
		if bytes.EqualFold(d, name) {
			return true
		}
	}
	return false
}

// forward proxies one request to the dyno at addr (the first of
// candidates, leased by the caller) and answers the client; it reports
// whether the client connection can serve another request.
func (rt *Router) forward(cc *clientConn, rq *fastRequest, head []byte, host, app string, candidates []engine.Backend, addr string) (keep bool) {
	st := &reqState{
		app:        app,
		host:       host,
		method:     methodName(rq.method),
		path:       string(rq.target),
		protocol:   "http",
		requestID:  requestID(string(rq.id)),
		fwd:        cc.fwd,
		start:      time.Now(),
		candidates: candidates,
		addr:       addr,
		tried:      true,
	}
	if rq.xff != nil {
		st.fwd = string(rq.xff) + ", " + cc.fwd
	}
	var status int
	var n int64
	defer func() {
		if st.status != 0 {
			status = st.status
		}
		rt.logFast(st, status, n)
	}()

	ctx := context.Background()
	consumed := false // the head (and body) were taken from the client's reader
	consume := func() {
		if !consumed {
			_, _ = cc.br.Discard(len(head))
			consumed = true
		}
	}
	// fail answers with the application error page, after the request
	// head (and body, when the client is to be kept) were consumed.
	fail := func(err error) bool {
		code, desc, st2, info := classify(ctx, err)
		st.fail(code, desc, st2, info)
		if info {
			return false
		}
		if !consumed {
			consume()
			if rq.length > 0 {
				// The body was not read: the connection cannot go on.
				rq.close = true
			}
		}
		_ = cc.writePage(http.StatusServiceUnavailable, appErrorPage, rq.close)
		return !rq.close
	}

	pendingOf := func() int {
		if consumed {
			return 0
		}
		return len(head)
	}
	fresh := false
	var uc *upConn
	var rs fastResponse
	var rhead []byte
	for {
		var reused bool
		var err error
		if fresh {
			uc, err = rt.up.dialConn(ctx, addr)
		} else {
			uc, reused, err = rt.up.get(ctx, addr, st.start)
		}
		if err != nil {
			if errors.Is(err, syscall.ECONNREFUSED) && st.cur+1 < len(candidates) {
				st.cur++
				addr = st.backend().Addr()
				continue
			}
			return fail(err)
		}
		// A pooled connection is connected as the request starts: the
		// clock is read again only after a dial.
		now := st.start
		if !reused {
			now = time.Now()
		}
		st.connected.CompareAndSwap(0, now.UnixNano())
		rt.writeRequestHead(uc.bw, rq, head, st, cc)
		if rq.length > 0 {
			consume()
			if err := copyBody(uc.bw, cc.br, rq.length); err != nil {
				uc.Close()
				if errors.Is(err, errClientRead) {
					st.fail("H27", "Client Request Interrupted", 499, true)
					return false
				}
				return fail(err)
			}
		}
		err = uc.sendRequest()
		if err == nil {
			if rq.length > 0 {
				now = time.Now() // after the body
			}
			rhead, err = rt.awaitResponse(cc, uc, pendingOf(), now)
		}
		for err == nil {
			if !rs.parse(rhead) {
				err = errMalformed
				break
			}
			if rs.code == http.StatusSwitchingProtocols {
				err = errors.New("a protocol switch that was not asked for")
				break
			}
			if rs.code >= 200 {
				break
			}
			// 100 Continue, 103 Early Hints: passed on, then the answer.
			writeResponseHead(cc.bw, rhead, &rs, false, false)
			_, _ = uc.br.Discard(len(rhead))
			if err := cc.bw.Flush(); err != nil {
				uc.Close()
				st.fail("H27", "Client Request Interrupted", 499, true)
				return false
			}
			rhead, err = rt.awaitResponse(cc, uc, pendingOf(), time.Now())
		}
		if err == nil {
			break
		}
		uc.Close()
		if errors.Is(err, errClientGone) {
			st.fail("H27", "Client Request Interrupted", 499, true)
			return false
		}
		// A kept-alive connection the dyno had closed: once more on a new
		// one, when sending again is safe.
		if reused && !fresh && rq.length == 0 && replayable(rq.method) && staleConn(err) {
			fresh = true
			continue
		}
		return fail(err)
	}
	consume()

	bodyless := rs.code == http.StatusNoContent || rs.code == http.StatusNotModified || string(rq.method) == "HEAD"
	delimited := !bodyless && !rs.chunked && rs.length < 0
	closeClient := rq.close || delimited
	status = rs.code
	writeResponseHead(cc.bw, rhead, &rs, !rs.hasDate, closeClient)
	_, _ = uc.br.Discard(len(rhead))

	var err error
	switch {
	case bodyless:
	case rs.chunked:
		n, err = copyChunked(cc.bw, uc, rt.StreamIdleTimeout)
	case rs.length >= 0:
		n, err = copyFlushing(cc.bw, uc, rs.length, rt.StreamIdleTimeout)
	default:
		n, err = copyFlushing(cc.bw, uc, -1, rt.StreamIdleTimeout)
	}
	if err == nil {
		if ferr := cc.bw.Flush(); ferr != nil {
			err = errClientWrite
		}
	}
	if err != nil {
		uc.Close()
		switch {
		case errors.Is(err, errClientWrite):
			st.fail("H27", "Client Request Interrupted", 499, true)
		case errors.Is(err, os.ErrDeadlineExceeded):
			st.fail("H15", "Idle connection", http.StatusServiceUnavailable, false)
		}
		return false
	}
	st.end = time.Now()
	cc.last = st.end
	if rs.close || delimited {
		uc.Close()
	} else {
		rt.up.put(uc, st.end)
	}
	return !closeClient
}

// awaitResponse waits for the head of the dyno's answer, within the
// response timeout from now, looking every clientCheck whether the client
// left; pending is what the client's reader still holds of the request.
func (rt *Router) awaitResponse(cc *clientConn, uc *upConn, pending int, now time.Time) ([]byte, error) {
	deadline := now.Add(rt.ResponseTimeout)
	for {
		until := now.Add(clientCheck)
		if until.After(deadline) {
			until = deadline
		}
		uc.setUntil(until, now)
		head, err := peekHead(uc.br)
		if err == nil {
			// The answer has begun: from here the dyno may be silent
			// for a window at a time (H15), not a response time.
			uc.streaming(rt.StreamIdleTimeout)
			return head, nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			if errors.Is(err, errHeadTooLarge) {
				return nil, errors.New("response head larger than the router takes")
			}
			return nil, err
		}
		now = time.Now()
		if !now.Before(deadline) {
			return nil, err
		}
		if cc.gone(pending) {
			return nil, errClientGone
		}
	}
}

// staleConn reports whether err is how a kept-alive connection the dyno
// had closed fails before any answer.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

var (
	errClientRead  = errors.New("reading the client's body")
	errClientWrite = errors.New("writing to the client")
	errClientGone  = errors.New("the client went away")
	errMalformed   = errors.New("malformed response head")
)

// writeRequestHead writes the request line, the client's header lines
// but the hop-by-hop and the router's own, then the router's headers.
func (rt *Router) writeRequestHead(bw *bufio.Writer, rq *fastRequest, head []byte, st *reqState, cc *clientConn) {
	bw.Write(rq.method)
	bw.WriteByte(' ')
	bw.Write(rq.target)
	bw.WriteString(" HTTP/1.1\r\n")
	headLines(head, func(line []byte) bool {
		name, _, _ := splitHeader(line)
		switch headerKind(name, true) {
		case hPass, hHost, hContentLength:
			bw.Write(line)
			bw.WriteString("\r\n")
		}
		return true
	})
	bw.WriteString("X-Forwarded-For: ")
	bw.WriteString(st.fwd)
	bw.WriteString("\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: ")
	port := cc.port
	if port == "" {
		port = "80"
	}
	bw.WriteString(port)
	bw.WriteString("\r\nX-Request-Start: ")
	bw.Write(strconv.AppendInt(bw.AvailableBuffer(), st.start.UnixMilli(), 10))
	bw.WriteString("\r\nX-Request-Id: ")
	bw.WriteString(st.requestID)
	bw.WriteString("\r\nVia: ")
	if rq.via != nil {
		bw.Write(rq.via)
		bw.WriteString(", ")
	}
	bw.WriteString("1.1 vegur\r\n\r\n")
}

// writeResponseHead writes the dyno's status and header lines to the
// client but the hop-by-hop ones, with a Date when the dyno gave none and
// Connection: close when the connection ends after this answer.
func writeResponseHead(bw *bufio.Writer, head []byte, rs *fastResponse, date, closing bool) {
	bw.WriteString("HTTP/1.1 ")
	bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(rs.code), 10))
	bw.WriteByte(' ')
	if len(rs.reason) > 0 {
		bw.Write(rs.reason)
	} else {
		bw.WriteString(http.StatusText(rs.code))
	}
	bw.WriteString("\r\n")
	headLines(head, func(line []byte) bool {
		name, _, _ := splitHeader(line)
		switch headerKind(name, false) {
		case hConnection, hStrip:
			return true
		case hContentLength:
			if rs.chunked {
				return true
			}
		}
		if len(rs.dropping) > 0 && rs.dropped(name) {
			return true
		}
		bw.Write(line)
		bw.WriteString("\r\n")
		return true
	})
	if date {
		bw.WriteString("Date: ")
		bw.Write(httpDate())
		bw.WriteString("\r\n")
	}
	if closing {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
}

// copyBody copies a request body of n bytes from the client to the dyno.
func copyBody(dst *bufio.Writer, src *bufio.Reader, n int64) error {
	for n > 0 {
		if src.Buffered() == 0 {
			if _, err := src.Peek(1); err != nil {
				return errClientRead
			}
		}
		b, _ := src.Peek(int(min(int64(src.Buffered()), n)))
		if _, err := dst.Write(b); err != nil {
			return err
		}
		_, _ = src.Discard(len(b))
		n -= int64(len(b))
	}
	return nil
}

// copyFlushing copies n bytes (all until EOF when n < 0) from the dyno
// to the client, flushing what it has before each wait on the dyno, so
// that a streaming answer reaches the client as it is written, and
// giving the dyno window of silence before each. It returns the bytes
// copied; errClientWrite when the client failed, os.ErrDeadlineExceeded
// when the dyno was silent for window.
func copyFlushing(dst *bufio.Writer, uc *upConn, n int64, window time.Duration) (int64, error) {
	src := uc.br
	var done int64
	for n < 0 || done < n {
		if src.Buffered() == 0 {
			if err := dst.Flush(); err != nil {
				return done, errClientWrite
			}
			uc.streaming(window)
			if _, err := src.Peek(1); err != nil {
				if n < 0 && err == io.EOF {
					return done, nil
				}
				return done, err
			}
		}
		k := src.Buffered()
		if n >= 0 {
			k = int(min(int64(k), n-done))
		}
		b, _ := src.Peek(k)
		if _, err := dst.Write(b); err != nil {
			return done, errClientWrite
		}
		_, _ = src.Discard(k)
		done += int64(k)
	}
	return done, nil
}

// copyChunked copies a chunked body from the dyno to the client as it
// came (chunk extensions and trailers included), checking its framing so
// that the connection can carry the next answer. It returns the data
// bytes copied; like copyFlushing, it gives the dyno window of silence
// before each wait.
func copyChunked(dst *bufio.Writer, uc *upConn, window time.Duration) (int64, error) {
	src := uc.br
	var total int64
	line := func() ([]byte, error) {
		if b, _ := src.Peek(src.Buffered()); bytes.IndexByte(b, '\n') < 0 {
			if err := dst.Flush(); err != nil {
				return nil, errClientWrite
			}
			uc.streaming(window)
		}
		l, err := src.ReadSlice('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if _, err := dst.Write(l); err != nil {
			return nil, errClientWrite
		}
		return l, nil
	}
	for {
		l, err := line()
		if err != nil {
			return total, err
		}
		size, ok := chunkSize(l)
		if !ok {
			return total, errors.New("malformed chunk size")
		}
		if size == 0 {
			for {
				l, err := line()
				if err != nil {
					return total, err
				}
				if len(bytes.TrimRight(l, "\r\n")) == 0 {
					return total, nil
				}
			}
		}
		k, err := copyFlushing(dst, uc, size, window)
		total += k
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return total, err
		}
		l, err = line()
		if err != nil {
			return total, err
		}
		if len(bytes.TrimRight(l, "\r\n")) != 0 {
			return total, errors.New("malformed chunk end")
		}
	}
}

// chunkSize parses a chunk-size line: hex digits, then optional
// extensions after ';'.
func chunkSize(l []byte) (int64, bool) {
	l = bytes.TrimRight(l, "\r\n")
	if i := bytes.IndexByte(l, ';'); i >= 0 {
		l = l[:i]
	}
	l = trimOWS(l)
	if len(l) == 0 || len(l) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range l {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}

// writePage answers with one of the router's pages.
func (cc *clientConn) writePage(status int, page string, closing bool) error {
	bw := cc.bw
	bw.WriteString("HTTP/1.1 ")
	var num [20]byte
	bw.Write(strconv.AppendInt(num[:0], int64(status), 10))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(status))
	bw.WriteString("\r\nCache-Control: no-cache, no-store\r\nContent-Length: ")
	bw.Write(strconv.AppendInt(num[:0], int64(len(page)), 10))
	bw.WriteString("\r\nContent-Type: text/html; charset=utf-8\r\nDate: ")
	bw.Write(httpDate())
	if closing {
		bw.WriteString("\r\nConnection: close")
	}
	bw.WriteString("\r\n\r\n")
	bw.WriteString(page)
	return bw.Flush()
}

// dateCache holds the Date header's value for the current second.
var dateCache atomic.Pointer[cachedDate]

type cachedDate struct {
	sec int64
	b   []byte
}

func httpDate() []byte {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.b
	}
	d := &cachedDate{sec: now.Unix(), b: now.UTC().AppendFormat(nil, http.TimeFormat)}
	dateCache.Store(d)
	return d.b
}
