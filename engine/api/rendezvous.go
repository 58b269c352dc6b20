package api

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"hako/engine"
)

// Rendezvous is where the heroku CLI meets the one-off dyno it asked for
// (`heroku run`), as on Heroku: POST /apps/{app}/dynos with attach answers
// a dyno whose attach_url is rendezvous://HOST:PORT/SECRET; the client
// opens TLS to HOST:PORT, sends "SECRET\r\n", reads one line
// ("rendezvous\r\n") and from then on the connection is the dyno's
// terminal or standard streams, until the dyno exits and the connection
// closes. The dyno starts when its client arrives.
//
// A secret is 32 random bytes, good for one connection, within TTL of
// being handed out; at most maxRendezvous wait at once, and
// maxRendezvousPerUser of one user's.
type Rendezvous struct {
	Engine *engine.Engine
	// TTL is how long a secret waits for its client; zero means
	// DefaultRendezvousTTL.
	TTL time.Duration
	// Logf receives internal errors; nil means the standard logger.
	Logf func(format string, args ...any)

	mu      sync.Mutex
	pending map[string]*attachment
	addr    string
}

// attachment is a one-off dyno waiting for its client.
type attachment struct {
	req     engine.RunRequest
	tty     bool
	expires time.Time
	// cancel drops the dyno's listing as starting (nil: none).
	cancel func()
}

// drop forgets the attachment's listing once it will not run (or ran).
func (a *attachment) drop() {
	if a.cancel != nil {
		a.cancel()
	}
}

const (
	// DefaultRendezvousTTL is how long a secret is good for, as long as
	// a client could reasonably take between the POST and connecting.
	DefaultRendezvousTTL = time.Minute
	// maxRendezvous bounds the secrets waiting at once;
	// maxRendezvousPerUser one user's, so that one user asking for
	// one-off dynos they never attach to cannot keep everyone else's
	// `heroku run` from starting.
	maxRendezvous        = 1024
	maxRendezvousPerUser = 32
	// rendezvousHandshake bounds the TLS handshake and the secret's line.
	rendezvousHandshake = 10 * time.Second
	// maxSecretLine is longer than any secret hako hands out.
	maxSecretLine = 256
)

// SetAddr is the HOST:PORT attach URLs name; Serve sets it from its
// listener, a test or a server behind another address may set it.
func (rv *Rendezvous) SetAddr(addr string) {
	rv.mu.Lock()
	rv.addr = addr
	rv.mu.Unlock()
}

// offer keeps req for the client that comes with the returned URL's
// secret. host names the server as the client reached the API, for a
// listener on every address. cancel, when set, is called once the dyno
// will not run (its secret expired) or has run. Returns ECONFLICT past
// maxRendezvous or maxRendezvousPerUser.
func (rv *Rendezvous) offer(req engine.RunRequest, tty bool, host string, cancel func()) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("rendezvous secret: %w", err)
	}
	secret := hex.EncodeToString(b[:])
	ttl := rv.TTL
	if ttl <= 0 {
		ttl = DefaultRendezvousTTL
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.addr == "" {
		return "", errors.New("the rendezvous listener is not serving")
	}
	now := time.Now()
	for k, a := range rv.pending {
		if now.After(a.expires) {
			delete(rv.pending, k)
			a.drop()
		}
	}
	mine := 0
	for _, a := range rv.pending {
		if a.req.User == req.User {
			mine++
		}
	}
	if len(rv.pending) >= maxRendezvous || mine >= maxRendezvousPerUser {
		return "", engine.Errorf(engine.ECONFLICT, "Too many one-off dynos are waiting for their client; try again in a minute.")
	}
	if rv.pending == nil {
		rv.pending = map[string]*attachment{}
	}
	a := &attachment{req: req, tty: tty, expires: now.Add(ttl), cancel: cancel}
	rv.pending[secret] = a
	// An unclaimed secret stops listing its dyno when it expires.
	time.AfterFunc(ttl, func() {
		rv.mu.Lock()
		mine := rv.pending[secret] == a
		if mine {
			delete(rv.pending, secret)
		}
		rv.mu.Unlock()
		if mine {
			a.drop()
		}
	})
	addr := rv.addr
	if h, port, err := net.SplitHostPort(addr); err == nil && (h == "" || net.ParseIP(h).IsUnspecified()) {
		addr = net.JoinHostPort(host, port)
	}
	return "rendezvous://" + addr + "/" + secret, nil
}

// claim takes the attachment of secret, once.
func (rv *Rendezvous) claim(secret string) *attachment {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	a, ok := rv.pending[secret]
	if !ok {
		return nil
	}
	delete(rv.pending, secret)
	if time.Now().After(a.expires) {
		a.drop()
		return nil
	}
	return a
}

// Serve accepts clients on l (a TLS listener) until it is closed; ctx
// ends the dynos it started.
func (rv *Rendezvous) Serve(ctx context.Context, l net.Listener) error {
	if rv.addrUnset() {
		rv.SetAddr(l.Addr().String())
	}
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		go rv.handle(ctx, c)
	}
}

func (rv *Rendezvous) addrUnset() bool {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.addr == ""
}

func (rv *Rendezvous) logf(format string, args ...any) {
	if rv.Logf != nil {
		rv.Logf(format, args...)
	}
}

// handle reads the secret and runs its dyno on the connection. A wrong,
// used or expired secret gets the connection closed with no answer.
func (rv *Rendezvous) handle(ctx context.Context, c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(rendezvousHandshake))
	br := bufio.NewReaderSize(c, maxSecretLine)
	line, err := br.ReadSlice('\n')
	if err != nil {
		return
	}
	a := rv.claim(strings.TrimRight(string(line), "\r\n"))
	if a == nil {
		return
	}
	defer a.drop()
	// Access is checked again as the dyno starts, up to a minute after
	// it was asked for: the user may have been taken off the app since,
	// or the app destroyed and its name taken by someone else's.
	if err := rv.Engine.CheckAccess(a.req.User, a.req.App, engine.AccessMember); err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
	// One write of its own: the CLI drops the first chunk it reads.
	if _, err := io.WriteString(c, "rendezvous\r\n"); err != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stdin, stdinW := io.Pipe()
	go func() {
		// A client that goes away ends the dyno.
		pumpRendezvous(br, stdinW, !a.tty)
		cancel()
	}()
	req := a.req
	req.Stdin, req.Out = stdin, c
	code, err := rv.Engine.Run(ctx, req)
	_ = stdin.Close()
	if err != nil && code < 0 {
		if engine.ErrorCode(err) == engine.EINTERNAL {
			rv.logf("rendezvous: run on %s: %v", req.App, err)
		}
		_, _ = fmt.Fprintf(c, " ▸    %s\r\n", engine.ErrorMessage(err))
	}
}

// pumpRendezvous copies the client's bytes to the dyno until the
// connection ends. Without a terminal, the heroku CLI ends its input with
// ^D (0x04) at the end of a write, never closing its side: that ends the
// dyno's standard input, as a terminal would take it.
func pumpRendezvous(r io.Reader, stdin *io.PipeWriter, eot bool) {
	buf := make([]byte, 32<<10)
	open := true
	for {
		n, err := r.Read(buf)
		if n > 0 && open {
			p := buf[:n]
			end := eot && p[n-1] == 0x04
			if end {
				p = p[:n-1]
			}
			if _, werr := stdin.Write(p); werr != nil {
				open = false
			}
			if end {
				_ = stdin.Close()
				open = false
			}
		}
		if err != nil {
			_ = stdin.CloseWithError(io.EOF)
			return
		}
	}
}
