package sshgit

import (
	"os"
	"os/exec"
	"sync"

	"hako/engine"
)

// What a deleted branch or tag (or a force-pushed one's old commits)
// held stays on disk until git's own clean-up prunes it, two weeks later
// at the soonest, and counts against the repository's limit (checkRepo)
// all that time: a pusher told to delete what they no longer need would
// gain nothing. So once a push that dropped commits ends, on a repository
// past half its limit, the server collects its garbage at once (git gc
// --prune=now).
//
// Pruning at once is safe only while no push runs: git moves a push's
// objects out of quarantine before it updates the refs, and a prune in
// between would take objects a ref is about to name. So every push holds
// its repository's lock shared for its whole run (beginPush to end) and
// the collection holds it alone: it waits for the running pushes, and
// the pushes that come meanwhile wait for it.

// repoLock returns the lock of the repository at repo.
func (s *Server) repoLock(repo string) *sync.RWMutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repoLocks == nil {
		s.repoLocks = map[string]*sync.RWMutex{}
	}
	l := s.repoLocks[repo]
	if l == nil {
		l = &sync.RWMutex{}
		s.repoLocks[repo] = l
	}
	return l
}

// maxDropChecks bounds the refs of one push whose update is checked for
// dropped commits (a git call each); past it the push is taken to have
// dropped some.
const maxDropChecks = 16

// drops reports whether refs, as pushed into a repository whose git
// environment is env, leave commits unreachable: a deleted ref, or one
// moved to a commit that does not contain its old one.
func drops(env []string, refs []refArg) bool {
	checked := 0
	for _, r := range refs {
		switch {
		case r.New == zeroSHA:
			return true
		case r.Old == zeroSHA:
		case checked >= maxDropChecks:
			return true
		default:
			checked++
			if !isAncestor(env, r.Old, r.New) {
				return true
			}
		}
	}
	return false
}

// reclaim collects the garbage of the repository at repo once no push
// to it runs, if it takes more than half of lim.RepoBytes.
func (s *Server) reclaim(repo string, lim engine.BuildLimits) {
	l := s.repoLock(repo)
	l.Lock()
	defer l.Unlock()
	if engine.DiskUse(repo) <= lim.WithDefaults().RepoBytes/2 {
		return
	}
	cmd := exec.Command("git", "gc", "--quiet", "--prune=now")
	cmd.Env = append(os.Environ(), "GIT_DIR="+repo)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.logf("git gc of %s: %v: %s", repo, err, out)
	}
}
