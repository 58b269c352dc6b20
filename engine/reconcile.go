package engine

import (
	"fmt"
	"slices"
)

// reconcile settles, at a server start, the releases a kill left pending:
// a push stages its release before git moves the branch and makes it
// current after, so a pending release whose commit git's branch now holds
// (the kill came between the two) is rolled forward, and every other one
// (the kill came before git moved, or during a release phase) is marked
// failed, its release phase's output ended with a line saying the phase
// was cut (see endInterruptedPhase). Either way the app's log says so. The caller holds the app's
// lock.
func (e *Engine) reconcile(name string) error {
	app, err := e.Store.App(name)
	if err != nil {
		return err
	}
	rels, err := e.Store.Releases(name)
	if err != nil {
		return err
	}
	curCommit := ""
	var heads []string
	for _, r := range rels {
		if r.Version == app.CurrentRelease {
			curCommit = e.commitOf(r)
		}
	}
	pending := false
	for _, r := range rels {
		pending = pending || r.Status == ReleasePending
	}
	if !pending {
		return nil
	}
	if e.RepoHeads != nil {
		if heads, err = e.RepoHeads(name); err != nil {
			return fmt.Errorf("read the branches of %s: %w", name, err)
		}
	}
	rolled := false
	for _, r := range rels { // newest first
		if r.Status != ReleasePending {
			continue
		}
		commit := e.commitOf(r)
		if !rolled && r.Version > app.CurrentRelease && commit != "" && commit != curCommit && slices.Contains(heads, commit) {
			if _, err := e.Store.SetReleaseStatus(name, r.Version, ReleaseSucceeded); err != nil {
				return err
			}
			rolled = true
			e.buildWentLive(app, r, fmt.Sprintf("-----> v%d went live at the server's start: git had moved the branch to %s before the server stopped.", r.Version, shortCommit(commit)))
			e.log(name, "api", "Release v%d (%s) rolled forward: git had moved the branch to %s when the server stopped", r.Version, r.Description, shortCommit(commit))
			e.logf("restore %s: release v%d (%s) rolled forward: git had moved the branch to %s", name, r.Version, r.Description, shortCommit(commit))
			continue
		}
		if _, err := e.Store.SetReleaseStatus(name, r.Version, ReleaseFailed); err != nil {
			return err
		}
		e.endInterruptedPhase(app, r)
		e.log(name, "api", "Release v%d (%s) marked failed: the server stopped before it went live", r.Version, r.Description)
		e.logf("restore %s: release v%d (%s) marked failed: the server stopped before it went live", name, r.Version, r.Description)
	}
	return nil
}

// commitOf returns the commit a release's slug was built from, or "".
func (e *Engine) commitOf(r *Release) string {
	if r.SlugID == "" {
		return ""
	}
	s, err := e.Store.Slug(r.SlugID)
	if err != nil {
		return ""
	}
	return s.Commit
}

// logf writes to the server's log, for what an operator must see.
func (e *Engine) logf(format string, args ...any) {
	e.Logf(format, args...)
}
