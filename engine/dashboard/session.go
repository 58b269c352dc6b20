package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

// Defaults for the sessions' bounds.
const (
	DefaultMaxSessions        = 1000
	DefaultMaxSessionsPerUser = 8
	DefaultSessionTTL         = 12 * time.Hour
)

// cookieName is the session cookie's name.
const cookieName = "hako_session"

// session is one logged-in browser. The cookie holds its secret; only
// the secret's SHA-256 is kept, as for API tokens. csrf is the token every
// state-changing request must carry in its X-CSRF-Token header (or csrf
// form field): a page of another site can make the browser send the
// cookie (were SameSite not honoured) but cannot read the token.
type session struct {
	email string
	// digest is the token it was made with (engine.TokenDigest), checked
	// at each request, so that revoking the token ends the session; ""
	// for the administrator's token from HAKO_HOME, which is not revoked.
	digest  string
	csrf    string
	created time.Time
	expires time.Time
}

// sessions holds the live sessions, bounded in number overall and per
// user and in lifetime.
type sessions struct {
	mu      sync.Mutex
	byHash  map[[32]byte]*session
	max     int
	perUser int
	ttl     time.Duration
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on supported platforms
	return hex.EncodeToString(b)
}

// create starts a session for email and returns its secret, or "" when
// the server holds as many sessions as it may. A user past their own
// bound loses their oldest session.
func (ss *sessions) create(email, digest string, now time.Time) (string, *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.byHash == nil {
		ss.byHash = map[[32]byte]*session{}
	}
	var oldest [32]byte
	var oldestAt time.Time
	mine := 0
	for h, s := range ss.byHash {
		if !now.Before(s.expires) {
			delete(ss.byHash, h)
			continue
		}
		if s.email == email {
			mine++
			if oldestAt.IsZero() || s.created.Before(oldestAt) {
				oldest, oldestAt = h, s.created
			}
		}
	}
	if mine >= ss.perUser {
		delete(ss.byHash, oldest)
	}
	if len(ss.byHash) >= ss.max {
		return "", nil
	}
	secret := randomHex(32)
	s := &session{email: email, digest: digest, csrf: randomHex(32), created: now, expires: now.Add(ss.ttl)}
	ss.byHash[sha256.Sum256([]byte(secret))] = s
	return secret, s
}

// find returns the live session of a secret, or nil.
func (ss *sessions) find(secret string, now time.Time) *session {
	if secret == "" {
		return nil
	}
	h := sha256.Sum256([]byte(secret))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.byHash[h]
	if s == nil {
		return nil
	}
	if !now.Before(s.expires) {
		delete(ss.byHash, h)
		return nil
	}
	return s
}

// remove ends the session of a secret.
func (ss *sessions) remove(secret string) {
	h := sha256.Sum256([]byte(secret))
	ss.mu.Lock()
	delete(ss.byHash, h)
	ss.mu.Unlock()
}

// count is how many sessions are held (expired ones included until swept).
func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.byHash)
}

// validCSRF reports whether the request carries the session's CSRF token.
func validCSRF(r *http.Request, s *session) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// sameOrigin refuses a request a browser says came from another site:
// Sec-Fetch-Site or Origin, when sent, must name this one. Requests
// without either (curl, old browsers) pass; they still need the CSRF
// token for actions.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" || o == "null" && r.Header.Get("Sec-Fetch-Site") == "" {
		return o == ""
	}
	return o == "http://"+r.Host || o == "https://"+r.Host
}
