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

// A push goes live only once git has moved its branch, so that the
// release that serves is always the one the branch holds:
//
//   - pre-receive (receive): the app's lock is taken (a second push waits,
//     saying for what, then is refused if the branch moved meanwhile),
//     the commit is built and its release staged: written pending, its
//     dynos up next to the old ones, serving nothing yet.
//   - git moves the ref (or fails to: the push is then rejected).
//   - post-receive (settle): the server reads the branch; if it holds the
//     staged commit the release becomes current, the router switches and
//     "Released vN" is printed; otherwise the release is marked failed.
//     When git-receive-pack ends without running post-receive, the SSH
//     side settles the same way. Either releases the lock.
//
// A kill between the two leaves a pending release, which the next start
// rolls forward if the branch holds its commit and marks failed
// otherwise (engine.Engine.RepoHeads).

// ServeHooks answers the git hooks on l until it is closed.
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
	if req.Hook == "post-receive" {
		s.settle(p, fw)
		status = 0
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
func (s *Server) receive(ctx context.Context, p *push, req hookRequest, out io.Writer) int {
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
	tmp, err := s.Engine.MkdirTemp("src")
	if err != nil {
		s.logf("hook: %v", err)
		fmt.Fprintln(out, " !     Internal error: the server log has the details.")
		return 1
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	if err := checkTree(env, deploy.New, s.Engine.Limits); errors.Is(err, errTooLarge) {
		fmt.Fprintf(out, " !     Push rejected: %v. Leave out what the build does not need, or raise the server's --max-source.\n", err)
		return 1
	} else if err != nil {
		s.logf("hook: measure %s of %s: %v", deploy.New, p.app, err)
		fmt.Fprintln(out, " !     Could not read the pushed commit: the server log has the details.")
		return 1
	}
	if err := checkout(env, tmp, src, deploy.New); err != nil {
		s.logf("hook: checkout %s of %s: %v", deploy.New, p.app, err)
		fmt.Fprintln(out, " !     Could not read the pushed commit: the server log has the details.")
		return 1
	}
	d, err := s.Engine.StageDeploy(ctx, engine.DeployRequest{
		App: p.app, Commit: deploy.New, SourceDir: src, User: p.user, Out: out,
		Verify:  func() error { return branchUnmoved(p.repo, *deploy) },
		Started: p.started,
	})
	if err != nil {
		if code := engine.ErrorCode(err); code == engine.EINTERNAL {
			s.logf("hook: deploy %s: %v", p.app, err)
		}
		if engine.ErrorCode(err) != engine.EBUILD {
			fmt.Fprintf(out, " !     %s\n", engine.ErrorMessage(err))
		}
		return 1
	}
	p.mu.Lock()
	p.staged, p.ref = d, deploy.Name
	p.mu.Unlock()
	return 0
}

// settle makes the push's staged release live if git moved its branch to
// the staged commit, and abandons it otherwise (see the top of this file).
// It does nothing when no release is staged.
func (s *Server) settle(p *push, out io.Writer) {
	p.mu.Lock()
	d, ref := p.staged, p.ref
	p.staged = nil
	p.mu.Unlock()
	if d == nil {
		return
	}
	branch := strings.TrimPrefix(ref, "refs/heads/")
	head, err := refValue(p.repo, ref)
	if err != nil {
		s.logf("hook: read %s of %s: %v", ref, p.app, err)
	}
	if head != d.Commit {
		d.Abort(fmt.Sprintf("git did not move %s to %s", branch, short(d.Commit)))
		fmt.Fprintf(out, " !     git did not move %s to %s, so v%d does not go live; the current release keeps serving.\n", branch, short(d.Commit), d.Version)
		return
	}
	if _, err := d.Release(out); err != nil {
		s.logf("hook: release v%d of %s: %v", d.Version, p.app, err)
		fmt.Fprintf(out, " !     %s\n", engine.ErrorMessage(err))
	}
}

// branchUnmoved checks, with the app's lock held, that the branch a push
// updates still holds what the pusher saw: a push that waited for
// another's deploy would otherwise build a commit git then refuses.
func branchUnmoved(repo string, r refArg) error {
	head, err := refValue(repo, r.Name)
	if err != nil {
		return fmt.Errorf("read %s: %w", r.Name, err)
	}
	want := r.Old
	if want == zeroSHA {
		want = ""
	}
	if head != want {
		branch := strings.TrimPrefix(r.Name, "refs/heads/")
		return engine.Errorf(engine.ECONFLICT, "%s moved to %s while this push waited: fetch, merge and push again.", branch, short(head))
	}
	return nil
}

// refValue returns the commit ref points at in repo, "" if it does not
// exist.
func refValue(repo, ref string) (string, error) {
	cmd := exec.Command("git", "rev-parse", "--verify", "-q", ref+"^{commit}")
	cmd.Env = append(os.Environ(), "GIT_DIR="+repo)
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// Heads returns the commits an app's deploy branches (main, master) hold,
// for the engine to settle, at a start, what a kill interrupted.
func (s *Server) Heads(app string) ([]string, error) {
	repo := filepath.Join(s.ReposDir, app+".git")
	if _, err := os.Stat(repo); os.IsNotExist(err) {
		return nil, nil
	}
	var heads []string
	for _, b := range []string{"main", "master"} {
		h, err := refValue(repo, "refs/heads/"+b)
		if err != nil {
			return nil, err
		}
		if h != "" {
			heads = append(heads, h)
		}
	}
	return heads, nil
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
