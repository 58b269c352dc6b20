package cmd

import (
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/localca"
	"hako/engine/tlsmux"
	"hako/sshgit"
)

// apiSniffTimeout is how long a new API connection has to send its first
// byte, by which plain HTTP and TLS are told apart: the API's header
// timeout, so that a silent client holds its place no longer than a slow
// one does.
const apiSniffTimeout = 10 * time.Second

// secure loads the local CA (made on the first start) and puts TLS on
// the API's port, beside plain HTTP, on the router's HTTPS port and on
// the rendezvous. It
// runs after limitListeners: connections keep counting against their
// port's budget while they are sniffed and while their handshake runs.
func (s *Server) secure() error {
	ca, err := localca.Load(localca.FilesIn(s.layout.Home), s.cfg.Domain, time.Now())
	if err != nil {
		return err
	}
	if notice := ca.Replaced(); notice != "" {
		s.logger.Print(notice)
	}
	s.ca = ca
	s.ls["api-addr"] = tlsmux.Listen(s.ls["api-addr"], ca.TLSConfig(), apiSniffTimeout)
	for _, flag := range []string{"https-addr", "rendezvous-addr"} {
		if l, ok := s.ls[flag]; ok {
			s.ls[flag] = tls.NewListener(l, ca.TLSConfig())
		}
	}
	return nil
}

// caPathCommand prints where the local CA's certificate is, for users to
// trust it: NODE_EXTRA_CA_CERTS=$(hako ca:path) for the heroku CLI,
// git -c http.sslCAInfo=$(hako ca:path) for git.
func caPathCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "ca:path",
		Usage: "print the path of hako's local CA certificate, to trust for HTTPS (NODE_EXTRA_CA_CERTS, git's http.sslCAInfo)",
		Action: func(c *cli.Context) error {
			home, err := Home()
			if err != nil {
				return err
			}
			path := localca.FilesIn(home).CACert
			if _, err := os.Stat(path); err != nil {
				return engine.Errorf(engine.ENOTFOUND, "No CA in %s yet: `hako server` makes one at its first start.", home)
			}
			fmt.Fprintln(env.Stdout, path)
			return nil
		},
	}
}

// withGitHTTP serves git's smart HTTP protocol (/APP.git/…) beside the
// API on its port, with an API token as the Basic password: the
// administrator's (token) or a user's.
func withGitHTTP(apiHandler http.Handler, git *sshgit.Server, token string, eng *engine.Engine) http.Handler {
	gitHandler := git.GitHTTP(func(password string) (string, bool) {
		if token != "" && subtle.ConstantTimeCompare([]byte(password), []byte(token)) == 1 {
			return engine.AdminEmail, true
		}
		u, err := eng.Authenticate(password)
		if err != nil {
			return "", false
		}
		return u.Email, true
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sshgit.IsGitPath(r.URL.Path) {
			gitHandler.ServeHTTP(w, r)
			return
		}
		apiHandler.ServeHTTP(w, r)
	})
}
