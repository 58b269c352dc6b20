package router

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
	"unsafe"
)

// logRequest writes the request's router line to the app's log, in the
// shape of Heroku's router lines so that log tools written for Heroku
// parse it.
func (rt *Router) logRequest(st *reqState, cw *countingWriter) {
	if rt.logs == nil {
		return
	}
	rt.logs.Log(st.app, "heroku", "router", st.line(cw.status, cw.n, time.Now()))
}

// logFast writes the router line of a request the forwarding loop
// served: status is the dyno's (0 when none came), n the body bytes.
func (rt *Router) logFast(st *reqState, status int, n int64) {
	if rt.logs == nil {
		return
	}
	end := st.end
	if end.IsZero() {
		end = time.Now()
	}
	line := st.line(status, n, end)
	if tl, ok := rt.logs.(timedLogs); ok {
		tl.LogAt(end, st.app, "heroku", "router", line)
		return
	}
	rt.logs.Log(st.app, "heroku", "router", line)
}

// timedLogs is a log sink that takes a line's time from the caller
// (logs.Buffer): the router has read the clock for the request already.
type timedLogs interface {
	LogAt(at time.Time, app, source, proc, text string)
}

// line formats the log line; fields that do not apply are left empty.
// It appends into one buffer rather than going through fmt: it runs for
// every request.
func (st *reqState) line(written int, n int64, end time.Time) string {
	b := make([]byte, 0, 256+len(st.path)+len(st.fwd))
	switch {
	case st.code == "":
		b = append(b, "at=info "...)
	case st.info:
		b = append(b, "at=info code="...)
	default:
		b = append(b, "at=error code="...)
	}
	if st.code != "" {
		b = append(b, st.code...)
		b = append(b, " desc="...)
		b = strconv.AppendQuote(b, st.desc)
		b = append(b, ' ')
	}
	status := st.status
	if status == 0 {
		status = written
	}
	if status == 0 {
		status = http.StatusOK
	}
	dyno := ""
	var connect, service time.Duration = -1, -1
	if st.tried {
		if be := st.backend(); be != nil {
			if n, ok := be.(interface{ Name() string }); ok {
				dyno = n.Name() // without Status's lock and copy
			} else {
				dyno = be.Status().Name
			}
		}
		if c := st.connected.Load(); c != 0 {
			at := time.Unix(0, c)
			connect, service = max(at.Sub(st.start), 0), max(end.Sub(at), 0)
		}
	}
	b = append(b, "method="...)
	b = append(b, st.method...)
	b = append(b, " path="...)
	b = strconv.AppendQuote(b, st.path)
	b = append(b, " host="...)
	b = append(b, st.host...)
	b = append(b, " request_id="...)
	b = append(b, st.requestID...)
	b = append(b, " fwd="...)
	b = strconv.AppendQuote(b, st.fwd)
	b = append(b, " dyno="...)
	b = append(b, dyno...)
	b = append(b, " connect="...)
	b = appendMS(b, connect)
	b = append(b, " service="...)
	b = appendMS(b, service)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, n, 10)
	b = append(b, " protocol="...)
	b = append(b, st.protocol...)
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is never written again
}

// appendMS appends d as Heroku's "12ms"; nothing for a negative d (the
// field does not apply).
func appendMS(b []byte, d time.Duration) []byte {
	if d < 0 {
		return b
	}
	return append(strconv.AppendInt(b, d.Milliseconds(), 10), "ms"...)
}

// requestID keeps the client's X-Request-Id when it looks like one, as
// Heroku does, so that ids can follow a request across services; anything
// else is replaced by a fresh UUID so that logs stay parseable.
func requestID(given string) string {
	if saneRequestID(given) {
		return given
	}
	return newUUID()
}

func saneRequestID(s string) bool {
	if len(s) < 20 || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '+' || c == '=' || c == '/' || c == '-') {
			return false
		}
	}
	return true
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	// The runtime's generator (ChaCha8, seeded from the system's
	// randomness, per thread): ids must be unique, not secret, and
	// crypto/rand costs a system call per request.
	var u [16]byte
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], u[10:16])
	return string(s[:])
}

// countingWriter counts the bytes of the app's response for the bytes=
// field and remembers its status. It flushes every write, and Flush and
// Unwrap keep streaming and protocol upgrades working through it.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	if err == nil {
		// What the dyno sent goes to the client at once (streaming);
		// the proxy writes what one read from the dyno returned.
		w.Flush()
	}
	return n, err
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
