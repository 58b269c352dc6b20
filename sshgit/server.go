// Package sshgit is hako's SSH front door: key authentication against the
// registered keys, `git push`/`git clone` through the system git, and
// Heroku-style commands (`ssh -p 2222 git@host apps:create x`) sent to the
// same command tree the CLI uses.
package sshgit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/anmitsu/go-shlex"
	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"hako/engine"
)

// Server serves SSH sessions and the git hook socket.
type Server struct {
	Engine *engine.Engine
	// ReposDir holds the apps' bare repositories (APP.git).
	ReposDir string
	// HookSocket is the unix socket the pre-receive hook calls back on.
	HookSocket string
	// Exe is the hako binary the hook runs.
	Exe string
	// HostKeyPath is the server's key, generated on first start and kept.
	HostKeyPath string
	// Commands runs a Heroku-style command line for an SSH session and
	// returns its exit status.
	Commands func(s *Session) int
	// Logf receives internal errors; nil means the standard logger.
	Logf func(format string, args ...any)
	// LoginTimeout is how long a connection may take to authenticate
	// before it is closed; zero means DefaultLoginTimeout.
	LoginTimeout time.Duration
	// KeepaliveInterval is how often a session's client is asked for an
	// answer; one silent for KeepaliveCount of them is cut off (see
	// keepalive.go). Zero means DefaultKeepaliveInterval.
	KeepaliveInterval time.Duration
	// UnusedTimeout closes a connection with no session open for this
	// long; MaxSessions bounds the sessions one connection holds open;
	// MaxStartupsPerHost the connections of one remote host not yet
	// logged in (see connlimits.go). Zero means their defaults.
	UnusedTimeout      time.Duration
	MaxSessions        int
	MaxStartupsPerHost int

	startups startups

	srv    *ssh.Server
	mu     sync.Mutex
	pushes map[string]*push
	// repoLocks are held shared by the pushes into each repository, and
	// alone by the collection of its garbage (see reclaim.go).
	repoLocks map[string]*sync.RWMutex
}

// push is one running git-receive-pack, known to the hooks by a token so
// that only a push from an authenticated session can deploy.
type push struct {
	app  string
	user string
	repo string
	// started is when receive-pack began, for the push's timing line.
	started time.Time

	mu sync.Mutex
	// staged are the releases pre-receive built (main's, review apps'),
	// each waiting for git to move its ref before it goes live; none
	// before and after.
	staged []stagedRef
	// reviewGone are the review apps whose branch the push deletes,
	// destroyed once git has removed it.
	reviewGone []stagedRef
	// dropped is set once pre-receive accepted refs that leave commits
	// unreachable: the garbage is collected when the push ends.
	dropped bool
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// stagedRef is a release staged for a pushed ref, or (without d) the
// review app of a deleted ref.
type stagedRef struct {
	d   *engine.StagedDeploy
	ref string
	app string
}

// Serve accepts SSH connections on l until Close.
func (s *Server) Serve(l net.Listener) error {
	signer, err := loadHostKey(s.HostKeyPath)
	if err != nil {
		return err
	}
	s.srv = &ssh.Server{
		Handler:         s.handle,
		ConnCallback:    s.accept,
		ChannelHandlers: map[string]ssh.ChannelHandler{"session": s.sessionChannel},
		// Logged in means the client signed with an accepted key: the
		// public key handler is also asked about keys the client only
		// offers, which anyone may do with a registered public key.
		ServerConfigCallback: func(ctx ssh.Context) *gossh.ServerConfig {
			return &gossh.ServerConfig{AuthLogCallback: func(_ gossh.ConnMetadata, method string, err error) {
				if tc, ok := ctx.Value(connKey{}).(*trackedConn); ok && err == nil && method == "publickey" {
					tc.loggedIn()
				}
			}}
		},
		PublicKeyHandler: func(ctx ssh.Context, key ssh.PublicKey) bool {
			fp := gossh.FingerprintSHA256(key)
			user, ok := s.Engine.Authorized(fp)
			if !ok {
				s.logf("ssh: refused unregistered key %s from %s", fp, ctx.RemoteAddr())
				return false
			}
			// The handler is also asked about keys a client only
			// offers; the user set last is still the one who logged
			// in, as golang.org/x/crypto/ssh (since v0.31) makes the
			// last key it passes here the one a login succeeds with.
			ctx.SetValue(userKey{}, user)
			return true
		},
	}
	s.srv.AddHostKey(signer)
	err = s.srv.Serve(l)
	if errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops accepting connections and closes open ones.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Close()
}

type userKey struct{}

// DefaultLoginTimeout is how long a connection may take to authenticate,
// as OpenSSH's LoginGraceTime (120 s) but shorter: hako's clients are
// scripts and git, not people typing passwords.
const DefaultLoginTimeout = 30 * time.Second

func (s *Server) handle(sess ssh.Session) {
	if conn, ok := sess.Context().Value(ssh.ContextKeyConn).(gossh.Conn); ok {
		interval := s.KeepaliveInterval
		if interval <= 0 {
			interval = DefaultKeepaliveInterval
		}
		done := make(chan struct{})
		defer close(done)
		go keepalive(conn, interval, done, func() {
			user, _ := sess.Context().Value(userKey{}).(string)
			s.logf("ssh: closing the connection of %s from %s: no answer to %d keepalives in %s", user, sess.RemoteAddr(), KeepaliveCount, KeepaliveCount*interval)
		})
	}
	// sess.Command() would split the line leniently, dropping the error
	// of an unbalanced quote: `config:set -a x "A=b` must not set A=b.
	raw := sess.RawCommand()
	if !utf8.ValidString(raw) {
		// The splitter would turn the invalid bytes into U+FFFD.
		fmt.Fprintln(sess.Stderr(), "hako: the command line is not valid UTF-8: arguments, config values included, must be UTF-8 text.")
		_ = sess.Exit(1)
		return
	}
	args, err := shlex.Split(raw, true)
	if err != nil {
		fmt.Fprintf(sess.Stderr(), "hako: cannot read the command line (%v): check its quotes.\n", strings.ToLower(err.Error()))
		_ = sess.Exit(1)
		return
	}
	if len(args) == 0 {
		fmt.Fprintln(sess.Stderr(), "hako: this SSH server takes git pushes and commands, e.g. `ssh -p PORT git@HOST apps` or `... help`.")
		_ = sess.Exit(1)
		return
	}
	switch args[0] {
	case "git-receive-pack", "git-upload-pack":
		_ = sess.Exit(s.git(sess, args))
	default:
		if s.Commands == nil {
			_ = sess.Exit(1)
			return
		}
		_ = sess.Exit(s.Commands(newSession(sess, args)))
	}
}

// ParseKey reads an authorized_keys line into an engine.Key; the engine
// calls it so that the domain stays free of SSH code.
func ParseKey(text string) (*engine.Key, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, engine.Errorf(engine.EINVALID, "The key is empty: give the .pub file, e.g. ~/.ssh/id_ed25519.pub.")
	}
	pub, comment, _, rest, err := gossh.ParseAuthorizedKey([]byte(text))
	if err != nil {
		return nil, engine.Errorf(engine.EINVALID, "That is not an SSH public key (%v): give the .pub file, not the private key.", err)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, engine.Errorf(engine.EINVALID, "Give one key at a time.")
	}
	return &engine.Key{
		Fingerprint: gossh.FingerprintSHA256(pub),
		PublicKey:   strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pub))),
		Comment:     comment,
	}, nil
}

// loadHostKey reads the host key, generating and keeping one on first
// start so clients see the same host key across restarts.
func loadHostKey(path string) (gossh.Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, fmt.Errorf("generate host key: %w", gerr)
		}
		block, merr := gossh.MarshalPrivateKey(priv, "hako host key")
		if merr != nil {
			return nil, fmt.Errorf("encode host key: %w", merr)
		}
		data = pem.EncodeToMemory(block)
		if werr := os.WriteFile(path, data, 0o600); werr != nil {
			return nil, fmt.Errorf("write host key: %w", werr)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read host key: %w", err)
	}
	signer, err := gossh.ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("parse host key %s: %w", path, err)
	}
	return signer, nil
}
