package engine

import "slices"

// stagedDynos are the dynos started for a release or a scale-up that are
// not yet in the app's running table: the table takes them only once
// they are up (and, for a push, once git has moved its branch), but the
// dashboard shows them from their start, as Heroku's preboot does.
type stagedDynos struct {
	byApp map[string][]*instance
}

// noteStaged records dynos just started, under e.mu; it drops what
// stopped or joined the running table meanwhile, so the record stays as
// small as what is starting.
func (e *Engine) noteStaged(started []*instance) {
	if len(started) == 0 {
		return
	}
	app := started[0].spec.App
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.staged.byApp == nil {
		e.staged.byApp = map[string][]*instance{}
	}
	e.staged.byApp[app] = append(e.pruneStaged(app), started...)
}

// pruneStaged returns app's staged dynos still starting or up outside the
// running table; e.mu is held.
func (e *Engine) pruneStaged(app string) []*instance {
	var keep []*instance
	for _, in := range e.staged.byApp[app] {
		if st := in.Status().State; st != DynoDown && !slices.Contains(e.running[app], in) {
			keep = append(keep, in)
		}
	}
	if len(keep) == 0 {
		delete(e.staged.byApp, app)
	}
	return keep
}

// StagedDynos returns the status of the app's dynos that started for a
// release or scale still under way and serve nothing yet.
func (e *Engine) StagedDynos(app string) []DynoStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	var st []DynoStatus
	for _, in := range e.pruneStaged(app) {
		st = append(st, in.Status())
	}
	return st
}
