package api

import (
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Heroku hands out blob URLs (a source's put_url and get_url, a slug's
// blob) that clients use without their token, as S3 presigned URLs are.
// hako hosts them itself: each URL carries a secret, and nothing but
// those paths is open without the token.

// blobTTL is how long a source or a slug import waits for its upload and
// its use: Heroku's sources expire within the hour too.
const blobTTL = time.Hour

// maxPending bounds the sources and slug imports waiting at once, so that
// clients cannot fill the disk with uploads they never use;
// maxPendingPerUser bounds one user's, so that one user (a student of a
// class, say) cannot take them all and keep every other user from
// building for an hour.
const (
	maxPending        = 64
	maxPendingPerUser = 8
)

// secret returns a random token for a blob URL.
func secret() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// sign is the signature of a slug's export URL: derived from the API
// token, so it needs no state and dies with the token.
func (s *Server) sign(what, id string) string {
	m := hmac.New(sha256.New, []byte(s.Token))
	m.Write([]byte(what + "\x00" + id))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) signed(what, id, sig string) bool {
	return s.Token != "" && hmac.Equal([]byte(sig), []byte(s.sign(what, id)))
}

// expiringQuery is the query of a URL for id that works for blobTTL, as
// Heroku's presigned URLs do: one handed to a collaborator since taken
// off the app stops working.
func (s *Server) expiringQuery(what, id string) string {
	exp := strconv.FormatInt(time.Now().Add(blobTTL).Unix(), 10)
	return "expires=" + exp + "&sig=" + s.sign(what, id+"\x00"+exp)
}

// signedUnexpired tells whether r carries a query expiringQuery made for
// id that has not expired.
func (s *Server) signedUnexpired(what, id string, r *http.Request) bool {
	exp := r.URL.Query().Get("expires")
	at, err := strconv.ParseInt(exp, 10, 64)
	return err == nil && time.Now().Unix() <= at && s.signed(what, id+"\x00"+exp, r.URL.Query().Get("sig"))
}

// pending is a table of things waiting for an upload or a use, each
// dropped (with its cleanup) once it expires.
type pending[T any] struct {
	mu sync.Mutex
	m  map[string]*entry[T]
	// ttl is how long an entry lives; zero means blobTTL.
	ttl time.Duration
}

type entry[T any] struct {
	v       T
	user    string
	expires time.Time
	drop    func(T)
}

// add keeps v, made by user, under key until ttl passes; drop, when set,
// runs then. It refuses when maxPending entries wait already, or
// maxPendingPerUser of user's.
func (p *pending[T]) add(key, user string, v T, drop func(T)) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expire()
	if p.m == nil {
		p.m = map[string]*entry[T]{}
	}
	mine := 0
	for _, e := range p.m {
		if e.user == user {
			mine++
		}
	}
	if len(p.m) >= maxPending || mine >= maxPendingPerUser {
		return false
	}
	ttl := cmp.Or(p.ttl, blobTTL)
	p.m[key] = &entry[T]{v: v, user: user, expires: time.Now().Add(ttl), drop: drop}
	// Dropped when it expires even if nothing asks for the table again:
	// an upload's file must not outlive its hour.
	time.AfterFunc(ttl+time.Second/10, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.expire()
	})
	return true
}

// restore keeps v again under key until expires, as add kept it before a
// restart; the bounds held when it was added.
func (p *pending[T]) restore(key, user string, v T, drop func(T), expires time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]*entry[T]{}
	}
	p.m[key] = &entry[T]{v: v, user: user, expires: expires, drop: drop}
	time.AfterFunc(time.Until(expires)+time.Second/10, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.expire()
	})
}

// remove drops the entry under key without its drop function: what add
// counted but the caller could not make.
func (p *pending[T]) remove(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, key)
}

// get returns the entry under key, if it has not expired.
func (p *pending[T]) get(key string) (T, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expire()
	e, ok := p.m[key]
	if !ok {
		var zero T
		return zero, false
	}
	return e.v, true
}

// each calls fn on every live entry, under the table's lock.
func (p *pending[T]) each(fn func(key string, v T)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expire()
	for k, e := range p.m {
		fn(k, e.v)
	}
}

// expire drops the entries past their time. The caller holds p.mu.
func (p *pending[T]) expire() {
	now := time.Now()
	for k, e := range p.m {
		if now.After(e.expires) {
			delete(p.m, k)
			if e.drop != nil {
				go e.drop(e.v)
			}
		}
	}
}

// blobIdle drops an upload to a blob URL that sends nothing for this
// long: a client trickling its body must not hold its connection and
// the upload's slot for ever.
var blobIdle = time.Minute

// idleBody is r's body, each read of which must make progress within
// blobIdle; past it the read fails (the upload did not arrive whole).
func idleBody(w http.ResponseWriter, r *http.Request) io.Reader {
	return &idleReader{r: r.Body, rc: http.NewResponseController(w)}
}

type idleReader struct {
	r  io.Reader
	rc *http.ResponseController
}

func (i *idleReader) Read(p []byte) (int, error) {
	_ = i.rc.SetReadDeadline(time.Now().Add(blobIdle))
	n, err := i.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, errors.New("the upload stalled or broke off")
	}
	return n, err
}
