package router

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// logRequest writes the request's router line to the app's log, in the
// shape of Heroku's router lines so that log tools written for Heroku
// parse it.
func (rt *Router) logRequest(st *reqState, cw *countingWriter) {
	if rt.logs == nil {
		return
	}
	rt.logs.Log(st.app, "heroku", "router", st.line(cw, time.Now()))
}

// line formats the log line; fields that do not apply are left empty.
func (st *reqState) line(cw *countingWriter, end time.Time) string {
	var b strings.Builder
	switch {
	case st.code == "":
		b.WriteString("at=info ")
	case st.info:
		fmt.Fprintf(&b, "at=info code=%s desc=%q ", st.code, st.desc)
	default:
		fmt.Fprintf(&b, "at=error code=%s desc=%q ", st.code, st.desc)
	}
	status := st.status
	if status == 0 {
		status = cw.status
	}
	if status == 0 {
		status = http.StatusOK
	}
	dyno, connect, service := "", "", ""
	if st.tried {
		if be := st.backend(); be != nil {
			dyno = be.Status().Name
		}
		if c := st.connected.Load(); c != 0 {
			at := time.Unix(0, c)
			connect = ms(at.Sub(st.start))
			service = ms(end.Sub(at))
		}
	}
	fmt.Fprintf(&b, "method=%s path=%q host=%s request_id=%s fwd=%q dyno=%s connect=%s service=%s status=%d bytes=%d protocol=%s",
		st.method, st.path, st.host, st.requestID, st.fwd, dyno, connect, service, status, cw.n, st.protocol)
	return b.String()
}

func ms(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
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
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails on supported platforms
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// countingWriter counts the bytes of the app's response for the bytes=
// field and remembers its status. Flush and Unwrap keep streaming and
// protocol upgrades working through it.
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
	return n, err
}

func (w *countingWriter) Flush() {
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
