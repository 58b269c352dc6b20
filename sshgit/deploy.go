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
	line, err := readLine(br, maxHookRequest)
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
	if status == 0 && drops(s.gitEnv(p.repo, req.Env), req.Refs) {
		p.mu.Lock()
		p.dropped = true
		p.mu.Unlock()
	}
}

// readLine reads a line of at most max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		if len(line)+len(part) > max {
			return nil, fmt.Errorf("a line longer than %d bytes", max)
		}
		line = append(line, part...)
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
}

// receive decides what each pushed ref means and deploys main or master,
// and, when the app makes review apps, each other branch into its review
// app. Any failure rejects the whole push (git's pre-receive is all or
// nothing) and abandons what was staged for it.
func (s *Server) receive(ctx context.Context, p *push, req hookRequest, out io.Writer) int {
	if err := checkRepo(p.repo, req.Refs, s.Engine.Limits); err != nil {
		fmt.Fprintf(out, " !     Push rejected: %v. Delete the branches and tags %s no longer needs (git push REMOTE --delete NAME), or ask an administrator to raise --max-repo.\n", err, p.app)
		return 1
	}
	var deploy *refArg
	var reviews []refArg
	for i, r := range req.Refs {
		branch, isBranch := strings.CutPrefix(r.Name, "refs/heads/")
		switch {
		case !isBranch:
			fmt.Fprintf(out, "-----> %s stored; only branches main and master deploy.\n", r.Name)
		case r.New == zeroSHA && (branch == "main" || branch == "master"):
			fmt.Fprintf(out, " !     Deleting %s would leave %s with nothing to deploy: push a commit instead, or remove the app with `hako apps:destroy -a %s --confirm %s`.\n", branch, p.app, p.app, p.app)
			return 1
		case r.New == zeroSHA:
			s.branchDeleted(p, branch, r.Name, out)
		case branch != "main" && branch != "master":
			if on, err := s.Engine.ReviewSettingsOf(p.app); err == nil && on.Enabled {
				reviews = append(reviews, r)
				continue
			}
			fmt.Fprintf(out, "-----> Branch %s stored, not deployed: push to main or master to deploy (git push REMOTE %s:main), or make review apps with `hako reviewapps:enable -a %s`.\n", branch, branch, p.app)
		case deploy == nil || branch == "main":
			deploy = &req.Refs[i]
		}
	}
	var todo []refArg
	if deploy != nil {
		todo = append(todo, *deploy)
	}
	todo = append(todo, reviews...)
	for _, r := range todo {
		if code := s.stageRef(ctx, p, req, r, out); code != 0 {
			p.mu.Lock()
			staged := p.staged
			p.staged, p.reviewGone = nil, nil
			p.mu.Unlock()
			for _, st := range staged {
				st.d.Abort("another branch of the same push failed")
			}
			return code
		}
	}
	return 0
}

// branchDeleted notes the review app of a deleted branch, if any, for
// settle to destroy once git has removed the branch.
func (s *Server) branchDeleted(p *push, branch, ref string, out io.Writer) {
	ra, err := s.Engine.ReviewAppFor(p.app, branch)
	if err != nil || ra == "" {
		fmt.Fprintf(out, "-----> Branch %s deleted.\n", branch)
		return
	}
	fmt.Fprintf(out, "-----> Branch %s deleted: its review app %s goes with it.\n", branch, ra)
	p.mu.Lock()
	p.reviewGone = append(p.reviewGone, stagedRef{ref: ref, app: ra})
	p.mu.Unlock()
}

// stageRef builds one pushed ref and stages its release: main's on the
// app, another branch's on its review app (made if new).
func (s *Server) stageRef(ctx context.Context, p *push, req hookRequest, r refArg, out io.Writer) int {
	branch := strings.TrimPrefix(r.Name, "refs/heads/")
	env := s.gitEnv(p.repo, req.Env)
	target := p.app
	if branch != "main" && branch != "master" {
		fmt.Fprintf(out, "-----> Review app for branch %s\n", branch)
	} else if r.Old != zeroSHA && !isAncestor(env, r.Old, r.New) {
		fmt.Fprintf(out, "-----> Force push: %s replaces %s, which it does not contain. Deploying it; the earlier release stays available with `hako releases:rollback -a %s`.\n", short(r.New), short(r.Old), p.app)
	}
	tmp, err := s.Engine.MkdirTemp("src")
	if err != nil {
		s.logf("hook: %v", err)
		fmt.Fprintln(out, " !     Internal error: the server log has the details.")
		return 1
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	if err := checkTree(env, r.New, s.Engine.Limits); errors.Is(err, errTooLarge) {
		fmt.Fprintf(out, " !     Push rejected: %v. Leave out what the build does not need, or raise the server's --max-source.\n", err)
		return 1
	} else if err != nil {
		s.logf("hook: measure %s of %s: %v", r.New, p.app, err)
		fmt.Fprintln(out, " !     Could not read the pushed commit: the server log has the details.")
		return 1
	}
	if err := checkout(env, tmp, src, r.New); err != nil {
		s.logf("hook: checkout %s of %s: %v", r.New, p.app, err)
		fmt.Fprintln(out, " !     Could not read the pushed commit: the server log has the details.")
		return 1
	}
	if branch != "main" && branch != "master" {
		if target, err = s.Engine.ReviewTarget(ctx, p.app, branch, src, p.user, out); err != nil || target == "" {
			if engine.ErrorCode(err) == engine.EINTERNAL {
				s.logf("hook: review app of %s for %s: %v", p.app, branch, err)
			}
			if err != nil {
				fmt.Fprintf(out, " !     %s\n", engine.ErrorMessage(err))
			}
			return 1
		}
	}
	d, err := s.Engine.StageDeploy(ctx, engine.DeployRequest{
		App: target, Commit: r.New, SourceDir: src, User: p.user, Out: out,
		Verify:  func() error { return branchUnmoved(p.repo, r) },
		Started: p.started,
	})
	if err != nil {
		if code := engine.ErrorCode(err); code == engine.EINTERNAL {
			s.logf("hook: deploy %s: %v", target, err)
		}
		if engine.ErrorCode(err) != engine.EBUILD {
			fmt.Fprintf(out, " !     %s\n", engine.ErrorMessage(err))
		}
		return 1
	}
	p.mu.Lock()
	p.staged = append(p.staged, stagedRef{d: d, ref: r.Name, app: target})
	p.mu.Unlock()
	return 0
}

// settle makes each of the push's staged releases live if git moved its
// branch to the staged commit, and abandons it otherwise (see the top of
// this file); then destroys the review apps of the branches git removed.
// It does nothing when nothing is staged.
func (s *Server) settle(p *push, out io.Writer) {
	p.mu.Lock()
	staged, gone := p.staged, p.reviewGone
	p.staged, p.reviewGone = nil, nil
	p.mu.Unlock()
	for _, st := range staged {
		d, ref := st.d, st.ref
		branch := strings.TrimPrefix(ref, "refs/heads/")
		head, err := refValue(p.repo, ref)
		if err != nil {
			s.logf("hook: read %s of %s: %v", ref, p.app, err)
		}
		if head != d.Commit {
			d.Abort(fmt.Sprintf("git did not move %s to %s", branch, short(d.Commit)))
			fmt.Fprintf(out, " !     git did not move %s to %s, so v%d does not go live; the current release keeps serving.\n", branch, short(d.Commit), d.Version)
			continue
		}
		if _, err := d.Release(out); err != nil {
			s.logf("hook: release v%d of %s: %v", d.Version, st.app, err)
			fmt.Fprintf(out, " !     %s\n", engine.ErrorMessage(err))
		}
	}
	for _, g := range gone {
		if head, err := refValue(p.repo, g.ref); err != nil || head != "" {
			continue // git kept the branch: so does its review app
		}
		if err := s.Engine.DestroyReviewApp(context.Background(), g.app, p.user, out); err != nil {
			s.logf("hook: destroy review app %s: %v", g.app, err)
			fmt.Fprintf(out, " !     The review app %s could not be destroyed: %s\n", g.app, engine.ErrorMessage(err))
		}
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
	if ra, err := s.Engine.ReviewAppOf(app); err != nil {
		return nil, err
	} else if ra != nil {
		// A review app deploys its branch of the parent's repository.
		h, err := refValue(filepath.Join(s.ReposDir, ra.Parent+".git"), "refs/heads/"+ra.Branch)
		if err != nil || h == "" {
			return nil, err
		}
		return []string{h}, nil
	}
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
