package sshgit

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gliderlabs/ssh"

	"hako/engine"
	"hako/engine/tether"
)

// repoApp turns the path git sends ("/myapp.git", "myapp.git",
// "'myapp.git'") into an app name, refusing anything else before it
// reaches the filesystem.
func repoApp(path string) (string, error) {
	p := strings.TrimPrefix(strings.Trim(path, "'\""), "/")
	name, ok := strings.CutSuffix(p, ".git")
	if !ok || name == "" {
		return "", engine.Errorf(engine.EINVALID, "Repository %q is not an app: use ssh://git@HOST:PORT/APP.git", path)
	}
	if err := engine.ValidateAppName(name); err != nil {
		return "", engine.Errorf(engine.EINVALID, "Repository %q is not an app: use ssh://git@HOST:PORT/APP.git", path)
	}
	return name, nil
}

// git runs git-receive-pack or git-upload-pack on the app's bare
// repository, wired to the session, and returns the exit status.
func (s *Server) git(sess ssh.Session, args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(sess.Stderr(), " !     Usage: git-receive-pack 'APP.git'")
		return 1
	}
	name, err := repoApp(args[1])
	if err != nil {
		fmt.Fprintf(sess.Stderr(), " !     %s\n", engine.ErrorMessage(err))
		return 1
	}
	user, _ := sess.Context().Value(userKey{}).(string)
	repo, err := s.openRepo(user, name)
	if err != nil {
		fmt.Fprintf(sess.Stderr(), " !     %s\n", engine.ErrorMessage(err))
		return 1
	}
	verb := strings.TrimPrefix(args[0], "git-")
	cmd := exec.Command("git", verb, repo)
	cmd.Env = os.Environ()
	if verb == "receive-pack" {
		env, end := s.beginPush(name, user, repo)
		cmd.Env = append(cmd.Env, env...)
		code := runWired(cmd, sess, sess, sess.Stderr(), nil)
		end(sess.Stderr())
		return code
	}
	return runWired(cmd, sess, sess, sess.Stderr(), nil)
}

// openRepo returns the bare repository of the app name for user, creating
// it (and its hooks) on first use. Push and clone, over SSH and HTTP
// alike, need access to the app: the one check (engine.CheckAccess) the
// API makes too. Returns ENOTFOUND for an app that does not exist,
// EFORBIDDEN; other failures are logged and reported as internal.
func (s *Server) openRepo(user, name string) (string, error) {
	if err := s.Engine.CheckAccess(user, name, engine.AccessMember); err != nil {
		if engine.ErrorCode(err) == engine.ENOTFOUND {
			return "", engine.Errorf(engine.ENOTFOUND, "App %s does not exist: create it first with `hako apps:create %s`.", name, name)
		}
		if engine.ErrorCode(err) == engine.EINTERNAL {
			s.logf("git: read app %s: %v", name, err)
		}
		return "", err
	}
	repo := filepath.Join(s.ReposDir, name+".git")
	if err := s.ensureRepo(repo); err != nil {
		s.logf("git: prepare repository of %s: %v", name, err)
		return "", engine.Errorf(engine.EINTERNAL, "Internal error preparing the repository: the server log has the details.")
	}
	return repo, nil
}

// beginPush registers a git-receive-pack of the app into repo by user,
// over SSH or HTTP alike: env, added to receive-pack's environment, lets
// its hooks reach the server (which builds and stages the release in
// pre-receive and makes it live in post-receive) and caps the pack it
// takes. end, called once receive-pack has exited, settles a release git
// never ran post-receive for (the ref update failed, or the client went
// away), writing what it did to out, and forgets the push.
func (s *Server) beginPush(app, user, repo string) (env []string, end func(out io.Writer)) {
	lock := s.repoLock(repo)
	lock.RLock()
	token := randomToken()
	p := &push{app: app, user: user, repo: repo, started: time.Now()}
	s.mu.Lock()
	if s.pushes == nil {
		s.pushes = map[string]*push{}
	}
	s.pushes[token] = p
	s.mu.Unlock()
	env = append([]string{"HAKO_PUSH_TOKEN=" + token, "HAKO_HOOK_SOCKET=" + s.HookSocket}, receiveLimitEnv(s.Engine.Limits)...)
	return env, func(out io.Writer) {
		s.settle(p, out)
		s.mu.Lock()
		delete(s.pushes, token)
		s.mu.Unlock()
		lock.RUnlock()
		p.mu.Lock()
		dropped := p.dropped
		p.mu.Unlock()
		if dropped {
			go s.reclaim(repo, s.Engine.Limits)
		}
	}
}

// runWired runs cmd with the given streams. Standard input is copied
// through a pipe that is not waited for: a client that sends nothing more
// must not keep the command from finishing. When unblock is set, it is
// called once the command has exited to end a read of in that may still
// be blocked, and the copy is waited for: an HTTP handler must not read
// its request body after it returns.
//
// git dies with the server (see tether): a receive-pack left running by a
// killed server could move a branch after the next start has settled the
// release staged for it, and the two would disagree.
func runWired(cmd *exec.Cmd, in io.Reader, out, errOut io.Writer, unblock func()) int {
	cmd.Stdout = out
	cmd.Stderr = errOut
	dieWithServer(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 1
	}
	var waitErr error
	done := make(chan struct{})
	if err := tether.Start(cmd, nil, func() { waitErr = cmd.Wait(); close(done) }); err != nil {
		fmt.Fprintf(errOut, " !     cannot start git: %v\n", err)
		return 1
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(stdin, in)
		_ = stdin.Close()
	}()
	<-done
	if unblock != nil {
		unblock()
		<-copied
	}
	if waitErr != nil {
		if ee, ok := waitErr.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		return 1
	}
	return 0
}

// hooks are the git hooks of every app's repository, each a call back to
// the running server (see deploy.go for what each does).
var hooks = map[string]string{
	"pre-receive":  "hands the push to the running server, which builds it and starts its dynos.",
	"post-receive": "tells the running server that git moved the branch, so the new release goes live.",
}

// ensureRepo creates the bare repository if needed and (re)writes its
// hooks so that they always call the running binary.
func (s *Server) ensureRepo(repo string) error {
	if _, err := os.Stat(filepath.Join(repo, "HEAD")); os.IsNotExist(err) {
		out, err := exec.Command("git", "init", "--quiet", "--bare", "--initial-branch=main", repo).CombinedOutput()
		if err != nil {
			return fmt.Errorf("git init: %v: %s", err, out)
		}
	}
	for name, what := range hooks {
		hook := "#!/bin/sh\n# Written by hako: " + what + "\nexec " + shellQuote(s.Exe) + " hook " + name + "\n"
		if err := writeHook(filepath.Join(repo, "hooks", name), hook); err != nil {
			return err
		}
	}
	return nil
}

// writeHook writes a hook script unless it is there already, through a
// rename so git never runs half of one.
func writeHook(path, hook string) error {
	if cur, err := os.ReadFile(path); err == nil && string(cur) == hook {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	// A name of its own: simultaneous pushes may write the same hook.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.WriteString(hook)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o755)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func randomToken() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}
