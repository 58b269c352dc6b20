package router

import (
	"bufio"
	"bytes"
	"errors"
)

// The router's own forwarding loop reads request and response heads in
// place, in the reader's buffer, and forwards their lines as they came:
// no header map, no canonical names, no copies. Anything it does not
// handle plainly is left to net/http (see fastRequest).

// errHeadTooLarge is returned by peekHead when the head does not fit in
// the reader's buffer.
var errHeadTooLarge = errors.New("head larger than the buffer")

// peekHead returns the head at the start of br's buffer, up to and with
// the empty line that ends it, without consuming it: the bytes stay
// valid until br is read again. It reads as needed; a head longer than
// br's buffer is errHeadTooLarge, with nothing consumed either.
func peekHead(br *bufio.Reader) ([]byte, error) {
	n, from := 1, 0
	for {
		buf, err := br.Peek(max(n, br.Buffered()))
		if end := headEnd(buf, from); end > 0 {
			return buf[:end], nil
		}
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, errHeadTooLarge
			}
			return nil, err
		}
		if len(buf) >= br.Size() {
			return nil, errHeadTooLarge
		}
		// The end may straddle what was read and what comes next.
		from, n = max(0, len(buf)-3), len(buf)+1
	}
}

// headEnd returns the length of the head in buf (through "\n\r\n" or
// "\n\n"), searching from from, or 0 when it is not complete.
func headEnd(buf []byte, from int) int {
	for i := from; i < len(buf); {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		if i < len(buf) && buf[i] == '\n' {
			return i + 1
		}
		if i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n' {
			return i + 2
		}
	}
	return 0
}

// headLines calls f for each header line of head (after the first line),
// without its CRLF; it stops at the empty line or when f returns false.
// ok is false when a line does not end in CRLF.
func headLines(head []byte, f func(line []byte) bool) (ok bool) {
	i := bytes.IndexByte(head, '\n')
	if i < 1 || head[i-1] != '\r' {
		return false
	}
	head = head[i+1:]
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n')
		if i < 1 || head[i-1] != '\r' {
			return false
		}
		line := head[:i-1]
		head = head[i+1:]
		if len(line) == 0 {
			return true
		}
		if !f(line) {
			return true
		}
	}
	return false
}

// splitHeader splits a header line into its name and its value, trimmed;
// ok is false for a line that is no valid header (no colon, a name that
// is no token, an obsolete folded line).
func splitHeader(line []byte) (name, value []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, nil, false
	}
	name = line[:i]
	for _, c := range name {
		if !isTokenChar(c) {
			return nil, nil, false
		}
	}
	return name, trimOWS(line[i+1:]), true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

// cleanHead reports whether head holds no control character but tab and
// the CRLFs ending lines: anything else is for net/http to refuse.
func cleanHead(head []byte) bool {
	for i, c := range head {
		if c < ' ' && c != '\t' || c == 0x7f {
			if c == '\n' || c == '\r' && i+1 < len(head) && head[i+1] == '\n' {
				continue
			}
			return false
		}
	}
	return true
}

// Header kinds, as the forwarding loop treats them.
const (
	hPass          = iota // forwarded as it came
	hHost                 // request: routes it
	hContentLength        // frames the body
	hConnection           // hop-by-hop: read, never forwarded
	hStrip                // hop-by-hop or the router's own: dropped
	hForwardedFor         // request: prior X-Forwarded-For
	hRequestID            // request: the client's X-Request-Id
	hVia                  // request: prior Via
	hTransfer             // Transfer-Encoding
	hDate                 // response: Date
	hSlow                 // request: left to net/http (Expect, Upgrade, TE, Trailer)
)

// headerKind tells what a header name is to the router, for requests
// (req true) or responses.
func headerKind(name []byte, req bool) int {
	switch len(name) {
	case 2:
		if req && bytes.EqualFold(name, []byte("TE")) {
			return hSlow
		}
	case 3:
		if bytes.EqualFold(name, []byte("Via")) && req {
			return hVia
		}
	case 4:
		if req && bytes.EqualFold(name, []byte("Host")) {
			return hHost
		}
		if !req && bytes.EqualFold(name, []byte("Date")) {
			return hDate
		}
	case 6:
		if req && bytes.EqualFold(name, []byte("Expect")) {
			return hSlow
		}
	case 7:
		if bytes.EqualFold(name, []byte("Upgrade")) {
			if req {
				return hSlow
			}
			return hStrip
		}
		if bytes.EqualFold(name, []byte("Trailer")) && req {
			return hSlow
		}
	case 9:
		if req && bytes.EqualFold(name, []byte("Forwarded")) {
			return hStrip
		}
	case 10:
		if bytes.EqualFold(name, []byte("Connection")) {
			return hConnection
		}
		if bytes.EqualFold(name, []byte("Keep-Alive")) {
			return hStrip
		}
	case 12:
		if req && bytes.EqualFold(name, []byte("X-Request-Id")) {
			return hRequestID
		}
	case 14:
		if bytes.EqualFold(name, []byte("Content-Length")) {
			return hContentLength
		}
	case 15:
		if req && bytes.EqualFold(name, []byte("X-Forwarded-For")) {
			return hForwardedFor
		}
		if req && bytes.EqualFold(name, []byte("X-Request-Start")) {
			return hStrip
		}
	case 16:
		if bytes.EqualFold(name, []byte("Proxy-Connection")) || req && (bytes.EqualFold(name, []byte("X-Forwarded-Host")) ||
			bytes.EqualFold(name, []byte("X-Forwarded-Port"))) {
			return hStrip
		}
	case 17:
		if bytes.EqualFold(name, []byte("Transfer-Encoding")) {
			return hTransfer
		}
		if req && bytes.EqualFold(name, []byte("X-Forwarded-Proto")) {
			return hStrip
		}
	case 18:
		if bytes.EqualFold(name, []byte("Proxy-Authenticate")) {
			return hStrip
		}
	case 19:
		if bytes.EqualFold(name, []byte("Proxy-Authorization")) {
			return hStrip
		}
	}
	return hPass
}

// parseLength parses a Content-Length value: digits only, no sign.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// hasToken reports whether the comma-separated list v holds token,
// case-insensitively.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		if bytes.EqualFold(trimOWS(item), []byte(token)) {
			return true
		}
	}
	return false
}

// onlyTokens reports whether every item of the comma-separated list v is
// one of tokens (empty items allowed).
func onlyTokens(v []byte, tokens ...string) bool {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		item = trimOWS(item)
		if len(item) == 0 {
			continue
		}
		known := false
		for _, t := range tokens {
			if bytes.EqualFold(item, []byte(t)) {
				known = true
				break
			}
		}
		if !known {
			return false
		}
	}
	return true
}

// statusLine parses "HTTP/1.x NNN reason": the minor version, the code
// and the reason as sent.
func statusLine(line []byte) (minor int, code int, reason []byte, ok bool) {
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || len(line) > 12 && line[12] != ' ' {
		return 0, 0, nil, false
	}
	switch line[7] {
	case '0':
		minor = 0
	case '1':
		minor = 1
	default:
		return 0, 0, nil, false
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, 0, nil, false
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 {
		return 0, 0, nil, false
	}
	if len(line) > 13 {
		reason = line[13:]
	}
	return minor, code, reason, true
}
