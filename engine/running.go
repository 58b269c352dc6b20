package engine

import (
	"sort"
	"strconv"
	"strings"
)

// instance is a running dyno with the spec it was started from, so it can
// be started again (restart) or counted by type (scale).
type instance struct {
	spec DynoSpec
	Dyno
}

// replaceRunning stops the app's running dynos that drop selects, puts
// started in their place, and points the router at the web dynos. New
// dynos are in the table before old ones stop, so traffic never finds
// none.
func (e *Engine) replaceRunning(app string, started []*instance, drop func(*instance) bool) {
	e.mu.Lock()
	var keep, old []*instance
	for _, in := range e.running[app] {
		if drop(in) {
			old = append(old, in)
		} else {
			keep = append(keep, in)
		}
	}
	all := append(keep, started...)
	sort.SliceStable(all, func(i, j int) bool { return dynoLess(all[i].spec.Name, all[j].spec.Name) })
	e.running[app] = all
	e.mu.Unlock()
	e.route(app)
	e.stopDynos(old)
}

// route tells the router which dynos serve app's web traffic.
func (e *Engine) route(app string) {
	e.mu.Lock()
	var web []Backend
	for _, in := range e.running[app] {
		if in.spec.Type == WebType {
			web = append(web, in.Dyno)
		}
	}
	e.mu.Unlock()
	e.Routes.SetBackends(app, web)
}

// runningOf returns a copy of the app's running dynos.
func (e *Engine) runningOf(app string) []*instance {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*instance(nil), e.running[app]...)
}

func (e *Engine) takeRunning(app string) []*instance {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.running[app]
	delete(e.running, app)
	return old
}

// Dynos returns the status of the app's running dynos, ordered by type
// (web first) and number, then its one-off dynos by name.
func (e *Engine) Dynos(app string) []DynoStatus {
	var st []DynoStatus
	for _, in := range e.runningOf(app) {
		st = append(st, in.Status())
	}
	e.mu.Lock()
	var runs []DynoStatus
	for _, r := range e.oneoffs[app] {
		runs = append(runs, r)
	}
	e.mu.Unlock()
	sort.Slice(runs, func(i, j int) bool { return runs[i].Name < runs[j].Name })
	return append(st, runs...)
}

// stopDynos stops dynos in parallel, so a grace period is waited once.
func (e *Engine) stopDynos(ds []*instance) {
	done := make(chan struct{}, len(ds))
	for _, d := range ds {
		go func(d *instance) {
			_ = d.Stop()
			done <- struct{}{}
		}(d)
	}
	for range ds {
		<-done
	}
}

// dynoLess orders dyno names web first, then by type, then by number
// (web.2 before web.10).
func dynoLess(a, b string) bool {
	ta, na := splitDynoName(a)
	tb, nb := splitDynoName(b)
	if ta != tb {
		return typeLess(ta, tb)
	}
	return na < nb
}

func splitDynoName(name string) (string, int) {
	t, n, _ := strings.Cut(name, ".")
	i, _ := strconv.Atoi(n)
	return t, i
}
