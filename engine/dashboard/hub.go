package dashboard

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"hako/engine"
	"hako/engine/logs"
)

// event is one server-sent event, its data JSON encoded once for every
// subscriber. app, when set, limits it to those who may see that app.
type event struct {
	name string
	app  string
	data []byte
}

// subscriber is one open event stream.
type subscriber struct {
	id   string
	ch   chan event
	mu   sync.Mutex
	user *engine.User
	// focus is the app whose log lines the stream gets.
	focus string
}

func (s *subscriber) sees(a *engine.App) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return engine.CanAccess(s.user, a, engine.AccessMember)
}

func (s *subscriber) offer(ev event) {
	select {
	case s.ch <- ev:
	default: // a slow reader loses events; the next snapshot mends it
	}
}

// streamBuffer is how many events a stream may fall behind.
const streamBuffer = 1024

// narration is one deploy step the engine told.
type narration struct {
	app, step, detail string
	at                time.Time
}

// hub watches the engine (through every app's log lines and the deploys'
// narration) and fans what changes out to the event streams. One
// goroutine (run) owns traffic, narratives and the dirty set; the rest is
// under mu, read by the HTTP handlers.
type hub struct {
	e      *engine.Engine
	url    func(string) string
	logs   Logs
	logf   func(string, ...any)
	narrC  chan narration
	max    int
	perApp int

	mu      sync.Mutex
	subs    map[string]*subscriber
	perUser map[string]int
	apps    map[string]*engine.App // for access checks
	views   map[string][]byte      // the last "app" event of each app
	vobj    map[string]*AppView    // and what it encodes (run's own)
	tviews  map[string][]byte      // the last "traffic" event
	nviews  map[string][]byte      // the last "explain" event

	traffic map[string]*traffic
	narr    map[string]*Narrative
	dirty   map[string]bool
	// again are apps to read once more a moment after they changed: a
	// change's last log line may come just before the store has it.
	again  map[string]time.Time
	hcodes map[string]int // H-codes sent this second, by app
}

// Logs is what the dashboard reads the apps' log lines from (a
// logs.Buffer).
type Logs interface {
	SubscribeAll(urgent func(app string, l logs.Line) bool) (*logs.AllTail, func())
	Recent(app string, n int) []logs.Line
}

var _ Logs = (*logs.Buffer)(nil)

func newHub(e *engine.Engine, l Logs, url func(string) string, logf func(string, ...any)) *hub {
	return &hub{e: e, logs: l, url: url, logf: logf, narrC: make(chan narration, 4096),
		subs: map[string]*subscriber{}, perUser: map[string]int{}, apps: map[string]*engine.App{},
		views: map[string][]byte{}, vobj: map[string]*AppView{}, tviews: map[string][]byte{}, nviews: map[string][]byte{},
		traffic: map[string]*traffic{}, narr: map[string]*Narrative{}, dirty: map[string]bool{}, again: map[string]time.Time{}, hcodes: map[string]int{}}
}

// hcodesPerSecond bounds the H-code events sent per app and second.
const hcodesPerSecond = 10

// run watches until ctx ends.
func (h *hub) run(ctx context.Context) {
	var tail *logs.AllTail
	var ready <-chan struct{}
	if h.logs != nil {
		var stop func()
		tail, stop = h.logs.SubscribeAll(urgentLine)
		defer stop()
		ready = tail.Ready
	}
	take := func() {
		if tail != nil {
			for _, l := range tail.Take() {
				h.line(l)
			}
		}
	}
	h.resync()
	h.flush()
	flush := time.NewTicker(100 * time.Millisecond)
	defer flush.Stop()
	sec := time.NewTicker(time.Second)
	defer sec.Stop()
	resync := time.NewTicker(5 * time.Second)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ready:
			take()
		case n := <-h.narrC:
			if n.step == engine.StepLive || n.step == engine.StepFailed {
				h.dirty[n.app] = true
			}
			nr := h.narrative(n.app)
			if nr.narrate(n.step, n.detail, n.at) {
				h.sendNarrative(nr)
			}
		case <-flush.C:
			take()
			h.flush()
		case <-sec.C:
			h.sendTraffic()
		case <-resync.C:
			h.resync()
		}
	}
}

func (h *hub) narrative(app string) *Narrative {
	n := h.narr[app]
	if n == nil {
		n = &Narrative{App: app, Steps: []Step{}}
		h.narr[app] = n
	}
	return n
}

// urgentLine tells the lines the hub reads as they come: what changes an
// app's picture (releases, scaling, dyno states). The router's line per
// request and the apps' own output wait for the next flush tick, so that
// a busy app does not wake the hub once per request.
func urgentLine(app string, l logs.Line) bool {
	return l.Proc == "api" || l.Source == "heroku" && l.Proc != "router"
}

// line takes one app log line.
func (h *hub) line(l logs.AppLine) {
	if l.Source == "heroku" && l.Proc == "router" {
		rl := parseRouterLine(l.Text)
		tr := h.traffic[l.App]
		if tr == nil {
			tr = &traffic{}
			h.traffic[l.App] = tr
		}
		tr.add(rl, l.Time)
		if rl.code != "" && h.hcodes[l.App] < hcodesPerSecond {
			h.hcodes[l.App]++
			h.broadcast("hcode", l.App, map[string]any{"app": l.App, "code": rl.code, "desc": rl.desc, "dyno": rl.dyno, "status": rl.status, "time": l.Time})
		}
	} else if l.Proc == "api" || l.Source == "heroku" {
		// Releases, scaling, config, dyno states: the app's picture
		// changed. A dyno's state is drawn at once from its line; the
		// store is read again on the next flush.
		h.dirty[l.App] = true
		if l.Source == "heroku" {
			h.patchDyno(l)
		}
		if n := h.narr[l.App]; n != nil && n.logLine(l.Source, l.Proc, l.Text, l.Time) {
			h.sendNarrative(n)
		}
	}
	h.mu.Lock()
	var to []*subscriber
	a := h.apps[l.App]
	for _, s := range h.subs {
		s.mu.Lock()
		if s.focus == l.App && engine.CanAccess(s.user, a, engine.AccessMember) {
			to = append(to, s)
		}
		s.mu.Unlock()
	}
	h.mu.Unlock()
	if len(to) > 0 {
		ev := event{name: "log", app: l.App, data: mustJSON(logJSON(l.App, l.Line))}
		for _, s := range to {
			s.offer(ev)
		}
	}
}

func logJSON(app string, l logs.Line) map[string]any {
	return map[string]any{"app": app, "time": l.Time, "source": l.Source, "proc": l.Proc, "text": l.Text}
}

func (h *hub) sendNarrative(n *Narrative) {
	data := mustJSON(n)
	h.mu.Lock()
	h.nviews[n.App] = data
	h.mu.Unlock()
	h.send(event{name: "explain", app: n.App, data: data})
}

// settle is how long after a change its app is read once more.
const settle = 400 * time.Millisecond

// flush sends the apps whose picture changed.
func (h *hub) flush() {
	now := time.Now()
	settled := map[string]bool{}
	for app, at := range h.again {
		if now.After(at) {
			delete(h.again, app)
			settled[app], h.dirty[app] = true, true
		}
	}
	for app := range h.dirty {
		delete(h.dirty, app)
		if !settled[app] {
			h.again[app] = now.Add(settle)
		}
		v, a, err := viewOf(h.e, app, h.url)
		if err != nil {
			if engine.ErrorCode(err) == engine.ENOTFOUND {
				h.gone(app)
			} else {
				h.logf("dashboard: read %s: %v", app, err)
			}
			continue
		}
		h.vobj[app] = v
		data := mustJSON(v)
		h.mu.Lock()
		// Who could see the app and may no more (taken off it) is told
		// it is gone for them.
		var lost []*subscriber
		if old := h.apps[app]; old != nil {
			for _, s := range h.subs {
				if s.sees(old) && !s.sees(a) {
					lost = append(lost, s)
				}
			}
		}
		h.apps[app] = a
		h.views[app] = data
		h.mu.Unlock()
		for _, s := range lost {
			s.offer(event{name: "gone", app: app, data: mustJSON(map[string]string{"app": app})})
		}
		h.send(event{name: "app", app: app, data: data})
	}
}

// gone tells who saw app that it is no more, and forgets it.
func (h *hub) gone(app string) {
	h.send(event{name: "gone", app: app, data: mustJSON(map[string]string{"app": app})})
	h.mu.Lock()
	delete(h.apps, app)
	delete(h.views, app)
	delete(h.tviews, app)
	delete(h.nviews, app)
	h.mu.Unlock()
	delete(h.traffic, app)
	delete(h.narr, app)
	delete(h.vobj, app)
}

// resync finds apps created or destroyed without a log line saying so.
func (h *hub) resync() {
	apps, err := h.e.Apps()
	if err != nil {
		h.logf("dashboard: list apps: %v", err)
		return
	}
	now := map[string]bool{}
	h.mu.Lock()
	for _, a := range apps {
		now[a.Name] = true
		if old, ok := h.apps[a.Name]; !ok || old.Owner != a.Owner || len(old.Collaborators) != len(a.Collaborators) {
			h.dirty[a.Name] = true
		}
	}
	var gone []string
	for name := range h.apps {
		if !now[name] {
			gone = append(gone, name)
		}
	}
	h.mu.Unlock()
	for _, name := range gone {
		h.gone(name)
	}
}

// sendTraffic sends each busy app's traffic, once a second.
func (h *hub) sendTraffic() {
	clear(h.hcodes)
	now := time.Now()
	for app, tr := range h.traffic {
		if tr.idle(now) {
			delete(h.traffic, app)
			h.mu.Lock()
			delete(h.tviews, app)
			h.mu.Unlock()
			continue
		}
		data := mustJSON(tr.view(app, now))
		h.mu.Lock()
		h.tviews[app] = data
		h.mu.Unlock()
		h.send(event{name: "traffic", app: app, data: data})
	}
}

func (h *hub) broadcast(name, app string, v any) {
	h.send(event{name: name, app: app, data: mustJSON(v)})
}

// send offers ev to every stream that may see its app.
func (h *hub) send(ev event) {
	h.mu.Lock()
	a := h.apps[ev.app]
	var to []*subscriber
	for _, s := range h.subs {
		if ev.app == "" || s.sees(a) {
			to = append(to, s)
		}
	}
	h.mu.Unlock()
	for _, s := range to {
		s.offer(ev)
	}
}

// errTooMany is a stream refused by the limits.
type errTooMany string

func (e errTooMany) Error() string { return string(e) }

// subscribe opens a stream for u, within the limits, and returns it with
// the events that draw the present: every app u may see, its traffic and
// its last deploy.
func (h *hub) subscribe(u *engine.User, perUser int) (*subscriber, []event, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= h.max {
		return nil, nil, errTooMany("The dashboard has as many live streams as it takes: close another tab or try again later.")
	}
	if h.perUser[u.Email] >= perUser {
		return nil, nil, errTooMany("You have as many live dashboards open as you may: close another tab.")
	}
	s := &subscriber{id: randomHex(16), ch: make(chan event, streamBuffer), user: u}
	h.subs[s.id] = s
	h.perUser[u.Email]++
	var first []event
	for name, data := range h.views {
		if s.sees(h.apps[name]) {
			first = append(first, event{name: "app", app: name, data: data})
			if t := h.tviews[name]; t != nil {
				first = append(first, event{name: "traffic", app: name, data: t})
			}
			if n := h.nviews[name]; n != nil {
				first = append(first, event{name: "explain", app: name, data: n})
			}
		}
	}
	return s, first, nil
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[s.id] == s {
		delete(h.subs, s.id)
		h.perUser[s.user.Email]--
		if h.perUser[s.user.Email] <= 0 {
			delete(h.perUser, s.user.Email)
		}
	}
}

func (h *hub) stream(id string) *subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subs[id]
}

func (h *hub) streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("null")
	}
	return b
}

// patchDyno draws a dyno's new state from its log line at once: "State
// changed from starting to up" changes the box of that dyno in that
// state (a staged one first, as the old dyno of the same name keeps its
// own), and "Starting process" adds a starting box when none is drawn.
func (h *hub) patchDyno(l logs.AppLine) {
	v := h.vobj[l.App]
	if v == nil {
		return
	}
	var from, to string
	if rest, ok := strings.CutPrefix(l.Text, "State changed from "); ok {
		var found bool
		if from, to, found = strings.Cut(rest, " to "); !found {
			return
		}
	} else if strings.HasPrefix(l.Text, "Starting process") {
		from = ""
	} else {
		return
	}
	i := -1
	for j, d := range v.Dynos {
		if d.Name == l.Proc && (from == "" && d.State == engine.DynoStarting || from != "" && d.State == from) && (i < 0 || d.Staged) {
			i = j
		}
	}
	switch {
	case from == "" && i >= 0:
		return // drawn already
	case from == "":
		typ, _, _ := strings.Cut(l.Proc, ".")
		v.Dynos = append(v.Dynos, DynoView{Name: l.Proc, Type: typ, State: engine.DynoStarting, Since: l.Time, Staged: true})
	case i < 0:
		return
	default:
		v.Dynos[i].State, v.Dynos[i].Since = to, l.Time
	}
	data := mustJSON(v)
	h.mu.Lock()
	h.views[l.App] = data
	h.mu.Unlock()
	h.send(event{name: "app", app: l.App, data: data})
}
