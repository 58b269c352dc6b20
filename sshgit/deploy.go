package sshgit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"hako/engine"
	"hako/engine/frame"
)

const zeroSHA = "0000000000000000000000000000000000000000"

// ServeHooks answers pre-receive hooks on l until it is closed.
func (s *Server) ServeHooks(l net.Listener) error {
	for {
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go s.serveHook(conn)
	}
}

func (s *Server) serveHook(conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	var req hookRequest
	line, err := br.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	fw := frame.NewWriter(conn)
	status := 1
	defer func() { _ = fw.Frame(frame.Exit, []byte{byte(status)}) }()
	if err != nil {
		fmt.Fprintln(fw, " !     Malformed hook request.")
		return
	}
	s.mu.Lock()
	p, ok := s.pushes[req.Token]
	s.mu.Unlock()
	if !ok {
		fmt.Fprintln(fw, " !     This push is not known to the server; push again.")
		return
	}
	// A pusher who goes away (Ctrl-C) cancels the build: nothing is stored
	// until it completes, so cancelling loses nothing.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, br)
		cancel()
	}()
	status = s.receive(ctx, p, req, fw)
}

// receive decides what each pushed ref means and deploys main or master.
func (s *Server) receive(ctx context.Context, p push, req hookRequest, out io.Writer) int {
	var deploy *refArg
	for i, r := range req.Refs {
		branch, isBranch := strings.CutPrefix(r.Name, "refs/heads/")
		switch {
		case !isBranch:
			fmt.Fprintf(out, "-----> %s stored; only branches main and master deploy.\n", r.Name)
		case r.New == zeroSHA && (branch == "main" || branch == "master"):
			fmt.Fprintf(out, " !     Deleting %s would leave %s with nothing to deploy: push a commit instead, or remove the app with `hako apps:destroy -a %s --confirm %s`.\n", branch, p.app, p.app, p.app)
			return 1
		case r.New == zeroSHA:
			fmt.Fprintf(out, "-----> Branch %s deleted.\n", branch)
		case branch != "main" && branch != "master":
			fmt.Fprintf(out, "-----> Branch %s stored, not deployed: push to main or master to deploy (git push REMOTE %s:main).\n", branch, branch)
		case deploy == nil || branch == "main":
			deploy = &req.Refs[i]
		}
	}
	if deploy == nil {
		return 0
	}
	env := s.gitEnv(p.repo, req.Env)
	if deploy.Old != zeroSHA && !isAncestor(env, deploy.Old, deploy.New) {
		fmt.Fprintf(out, "-----> Force push: %s replaces %s, which it does not contain. Deploying it; the earlier release stays available with `hako releases:rollback -a %s`.\n", short(deploy.New), short(deploy.Old), p.app)
	}
	tmp, err := os.MkdirTemp("", "hako-src-")
	if err != nil {
		s.logf("hook: %v", err)
		fmt.Fprintln(out, " !     Internal error: the server log has the details.")
		return 1
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	if err := checkout(env, tmp, src, deploy.New); err != nil {
		s.logf("hook: checkout %s of %s: %v", deploy.New, p.app, err)
		fmt.Fprintln(out, " !     Could not read the pushed commit: the server log has the details.")
		return 1
	}
	_, err = s.Engine.Deploy(ctx, engine.DeployRequest{App: p.app, Commit: deploy.New, SourceDir: src, User: p.user, Out: out})
	if err != nil {
		if code := engine.ErrorCode(err); code == engine.EINTERNAL {
			s.logf("hook: deploy %s: %v", p.app, err)
		}
		if engine.ErrorCode(err) != engine.EBUILD {
			fmt.Fprintf(out, " !     %s\n", engine.ErrorMessage(err))
		}
		return 1
	}
	return 0
}

// gitEnv is the environment for git commands that read the push: the
// repository plus the hook's quarantine variables.
func (s *Server) gitEnv(repo string, hookEnv map[string]string) []string {
	env := append(os.Environ(), "GIT_DIR="+repo)
	for _, k := range quarantineVars {
		if v, ok := hookEnv[k]; ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func isAncestor(env []string, old, new string) bool {
	cmd := exec.Command("git", "merge-base", "--is-ancestor", old, new)
	cmd.Env = env
	return cmd.Run() == nil
}

// checkout writes the tree of commit into dir with git itself, which
// refuses paths that escape the work tree.
func checkout(env []string, tmp, dir, commit string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command("git", "read-tree", "--reset", "-u", commit)
	cmd.Env = append(env, "GIT_WORK_TREE="+dir, "GIT_INDEX_FILE="+filepath.Join(tmp, "index"))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git read-tree: %v: %s", err, out)
	}
	return nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
