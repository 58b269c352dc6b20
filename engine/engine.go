package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Parts are what an Engine is made of: the store, builder and supervisor
// it needs, and the optional parts New gives a default that does nothing.
type Parts struct {
	Store      Store
	Builder    Builder
	Supervisor Supervisor
	// Routes is told which dynos serve each app; by default no router.
	Routes RouteTable
	// Logs receives the apps' platform events; by default they are
	// dropped.
	Logs LogSink
	// Drains is told each app's log drains; by default no drains.
	Drains DrainTable
	// Paths are where the engine keeps files besides the store.
	Paths Layout
	// ParseKey turns an authorized_keys line into a Key; it lives with the
	// SSH adapter so that the domain stays free of SSH code.
	ParseKey func(text string) (*Key, error)
	// AppURL returns the URL an app is served at, for messages; by default
	// none is shown.
	AppURL func(app string) string
	// Domain is where the router names apps (APP.DOMAIN); custom domains
	// may not lie under it.
	Domain string
	// AddonProviders offer add-on services, by service name.
	AddonProviders map[string]AddonProvider
	// WaitUp bounds how long a release waits for new web dynos before it
	// replaces the old ones anyway. Zero means 60 s.
	WaitUp time.Duration
	// RepoHeads, when set, returns the commits the app's deploy branches
	// (main, master) hold in its git repository: at a start, the engine
	// settles the deploys a kill interrupted against them (see reconcile).
	RepoHeads func(app string) ([]string, error)
	// GitLog, when set, returns one line per commit (short hash, author,
	// subject) that the app's repository holds in to but not in from,
	// newest first, for pipelines:diff.
	GitLog func(app, from, to string) ([]string, error)
	// Probe GETs path on the dyno at addr with Host host and returns the
	// status and at most max bytes of the body, for app.json's health
	// checks (router.Probe); by default every check fails.
	Probe func(ctx context.Context, addr, host, path string, max int64) (status int, body []byte, err error)
	// Scheduler runs the scheduler's jobs; without one, jobs are kept but
	// never run. Set it before the engine serves (it needs the engine).
	Scheduler JobScheduler
	// Logf writes to the server's log; by default it is dropped.
	Logf func(format string, args ...any)
	// Narrate, when set, is told each step of a deploy as it happens
	// (see narrate.go), for the dashboard's explain panel. It must not
	// block: it runs under the app's lock.
	Narrate func(app, step, detail string)
	// Limits bound each deploy's source, build and slug; zero fields
	// mean the defaults. The Builder enforces them too (it is given the
	// same), sshgit on the checkout of a push.
	Limits BuildLimits
	// MaxAppsPerUser bounds the apps a member owns (see applimit.go);
	// zero or less means no limit.
	MaxAppsPerUser int
	// MaxAttachedPerUser bounds the attached one-off dynos a member holds
	// at once (see attached.go); zero or less means no limit.
	MaxAttachedPerUser int

	// Version and Started describe the running server, for Status.
	Version string
	Started time.Time
}

// Engine implements hako's operations over the store, builder, supervisor
// and router. Every change to an app goes through it, one at a time per
// app, so releases never interleave. Make one with New.
type Engine struct {
	Parts

	mu       sync.Mutex
	domainMu sync.Mutex
	// entriesMu makes counting the records of entrylimits.go and adding
	// one atomic.
	entriesMu sync.Mutex
	// appLimitMu makes counting a member's apps and creating one atomic.
	appLimitMu sync.Mutex
	locks      map[string]*appLock
	running    map[string][]*instance
	oneoffs    map[string]map[string]DynoStatus
	// oneoffStops end the running one-offs of Run, by app and name.
	oneoffStops map[string]map[string]context.CancelFunc
	// staged are dynos started but not yet running (see staging.go).
	staged   stagedDynos
	unpacked unpackedDirs
	// slugs serialises slug files' removal with new slugs' records.
	slugs slugGuard
	// phaseLogs keep the release phases' output (see PhaseLog).
	phaseLogs phaseLogs
	// buildRuns are the builds under way (see buildlog.go).
	buildRuns buildRuns
	// sessions are the tokens of running SSH commands.
	sessions sessionTokens
	// bgCaptures are the Data API's captures under way (pgcapture.go).
	bgCaptures bgCaptures
	// stopping is set once the server began to stop (Stopping): work its
	// stop cuts says so in its output.
	stopping atomic.Bool
	// pgRuns are the restores and copies under way (pgrecords.go).
	pgRuns pgRuns
	// attached counts each user's attached one-off dynos.
	attached attachedHolds
	// revoked wakes what holds a credential when one is revoked.
	revoked broadcast
	// addonsReady, once Prepare made it, is closed when StartAddons is
	// done; dynos wait for it.
	addonsReady chan struct{}
}

// New returns an engine over p, with a part that does nothing in place of
// each optional part left nil, so that no operation has to check for one.
func New(p Parts) *Engine {
	if p.Routes == nil {
		p.Routes = noRoutes{}
	}
	if p.Logs == nil {
		p.Logs = noLogs{}
	}
	if p.Drains == nil {
		p.Drains = noDrains{}
	}
	if p.Probe == nil {
		p.Probe = func(context.Context, string, string, string, int64) (int, []byte, error) {
			return 0, nil, errors.New("no prober")
		}
	}
	if p.Logf == nil {
		p.Logf = func(string, ...any) {}
	}
	e := &Engine{
		Parts:   p,
		locks:   map[string]*appLock{},
		running: map[string][]*instance{},
		oneoffs: map[string]map[string]DynoStatus{},
		unpacked: unpackedDirs{
			locks: map[string]*sync.Mutex{},
			pins:  map[string]int{},
		},
	}
	if r, ok := p.Supervisor.(addonReacher); ok {
		r.SetAddonReach(e.addonPorts)
	}
	return e
}

// The parts an engine without a router, logs or drains gets.
type (
	noRoutes struct{}
	noLogs   struct{}
	noDrains struct{}
)

func (noRoutes) SetBackends(string, []Backend)    {}
func (noRoutes) SetDomains(string, []string)      {}
func (noRoutes) SetMaintenance(string, bool)      {}
func (noRoutes) RemoveApp(string)                 {}
func (noLogs) Log(string, string, string, string) {}
func (noDrains) SetDrains(string, []Drain)        {}

// appLock serialises the changes to one app. It is a channel rather
// than a mutex so that a push waiting behind another can give up when its
// pusher goes away, and it says who holds it so the waiter can be told.
type appLock struct {
	ch     chan struct{}
	holder string // guarded by Engine.mu
}

// lock serialises changes to one app and returns the unlock function.
func (e *Engine) lock(app string) func() {
	unlock, _ := e.lockFor(context.Background(), app, "", nil)
	return unlock
}

// lockFor takes the app's lock on behalf of holder ("the deploy of
// 1a2b3c4"), waiting as long as ctx allows. While it waits behind a named
// holder it says so on out, once, so a pusher knows why nothing happens.
func (e *Engine) lockFor(ctx context.Context, app, holder string, out io.Writer) (func(), error) {
	e.mu.Lock()
	l, ok := e.locks[app]
	if !ok {
		l = &appLock{ch: make(chan struct{}, 1)}
		e.locks[app] = l
	}
	e.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
	default:
		e.mu.Lock()
		busy := l.holder
		e.mu.Unlock()
		if busy != "" && out != nil {
			fmt.Fprintf(out, "waiting for %s to finish\n", busy)
		}
		select {
		case l.ch <- struct{}{}:
		case <-ctx.Done():
			return nil, Errorf(EINVALID, "Gave up waiting for %s to finish: %v.", busy, ctx.Err())
		}
	}
	e.mu.Lock()
	l.holder = holder
	e.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			e.mu.Lock()
			l.holder = ""
			e.mu.Unlock()
			<-l.ch
		})
	}, nil
}

// LogForgetter is a LogSink that can drop an app's lines, for an app
// destroyed: its name may be reused.
type LogForgetter interface {
	Forget(app string)
}

func (e *Engine) forgetLogs(app string) {
	if f, ok := e.Logs.(LogForgetter); ok {
		f.Forget(app)
	}
}

func (e *Engine) log(app, proc, format string, args ...any) {
	e.Logs.Log(app, "app", proc, fmt.Sprintf(format, args...))
}

// CreateApp records a new app with its first release, "v1 Initial
// release", as Heroku does; an empty name gets a generated one. Returns
// EINVALID or ECONFLICT.
func (e *Engine) CreateApp(name, user string) (*App, error) {
	if name == "" {
		for i := 0; ; i++ {
			app, err := e.CreateApp(generateName(), user)
			if ErrorCode(err) != ECONFLICT || i == 5 {
				return app, err
			}
		}
	}
	if err := validateNewAppName(name); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	app := &App{ID: newID(), Name: name, Stack: Stack, CreatedAt: now, UpdatedAt: now, Formation: map[string]int{}, Owner: user}
	first := &Release{App: name, Version: 1, Description: "Initial release", User: user, CreatedAt: now, Status: ReleaseSucceeded, Config: map[string]string{}}
	if err := e.withinAppLimit(user, func() error { return e.Store.CreateApp(app, first) }); err != nil {
		return nil, err
	}
	app.CurrentRelease = 1
	e.Routes.SetBackends(name, nil)
	// A line of an earlier app of that name, logged late, is not this
	// app's.
	e.forgetLogs(name)
	e.log(name, "api", "Release v1 created by user %s", user)
	return app, nil
}

// App returns one app. Returns EINVALID or ENOTFOUND.
func (e *Engine) App(name string) (*App, error) {
	if err := ValidateAppName(name); err != nil {
		return nil, err
	}
	return e.Store.App(name)
}

// Apps lists every app.
func (e *Engine) Apps() ([]*App, error) { return e.Store.Apps() }

// DestroyApp stops the app's dynos and removes it with everything it
// holds: releases, slugs, repository, build cache. Returns ENOTFOUND.
func (e *Engine) DestroyApp(name string) error {
	app, err := e.App(name)
	if err != nil {
		return err
	}
	// The apps its add-ons are attached to lose them in releases of
	// their own, under their locks (taken with the app's, in name order).
	// Attaching one elsewhere meanwhile widens the set: read again until
	// it holds still.
	for {
		others := attachedElsewhere(app)
		unlock := e.lockApps(append(others, name)...)
		if app, err = e.Store.App(name); err != nil {
			unlock()
			return err
		}
		if slices.Equal(others, attachedElsewhere(app)) {
			defer unlock()
			break
		}
		unlock()
	}
	// Add-ons go first: if removing one fails, the app (and its record
	// of what is left) stays, and destroying it again finishes the job.
	if err := e.destroyAddons(context.Background(), app, app.Owner); err != nil {
		return fmt.Errorf("remove add-ons of %s: %w", name, err)
	}
	e.Routes.RemoveApp(name)
	e.Drains.SetDrains(name, nil)
	e.stopDynos(e.takeRunning(name))
	slugs, err := e.Store.DeleteApp(name)
	if err != nil {
		return err
	}
	// The dynos have stopped and said so: the app's lines go with it, so
	// a new app of that name starts with an empty log.
	e.forgetLogs(name)
	for _, id := range slugs {
		if err := e.Builder.RemoveSlug(id); err != nil {
			return fmt.Errorf("remove slug of %s: %w", name, err)
		}
	}
	for _, dir := range []string{e.Paths.AppRun(name), e.Paths.AppCache(name), e.Paths.AppBuilds(app.ID)} {
		if dir != "" {
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("remove files of %s: %w", name, err)
			}
		}
	}
	if repo := e.Paths.AppRepo(name); repo != "" {
		if err := os.RemoveAll(repo); err != nil {
			return fmt.Errorf("remove repository of %s: %w", name, err)
		}
	}
	return nil
}

// AddKey registers an SSH public key, given in authorized_keys form, to
// the user of that email. Returns EINVALID or ECONFLICT.
func (e *Engine) AddKey(user, text string) (*Key, error) {
	k, err := e.ParseKey(text)
	if err != nil {
		return nil, err
	}
	if _, err := e.users().User(user); err != nil {
		return nil, err
	}
	k.ID = newID()
	k.CreatedAt = time.Now().UTC()
	k.Email = user
	count := func() (int, error) {
		keys, err := e.Store.Keys()
		n := 0
		for _, o := range keys {
			if o.Email == user {
				n++
			}
		}
		return n, err
	}
	refusal := Errorf(EINVALID, "You have %d SSH keys, as many as a user may: remove one with `hako keys:remove`.", MaxKeysPerUser)
	if err := e.withinBound(count, MaxKeysPerUser, refusal, func() error { return e.Store.AddKey(k) }); err != nil {
		return nil, err
	}
	return k, nil
}

// Keys lists the keys u may see: their own, or every key for an
// administrator.
func (e *Engine) Keys(u *User) ([]*Key, error) {
	keys, err := e.Store.Keys()
	if err != nil || u.Admin {
		return keys, err
	}
	var own []*Key
	for _, k := range keys {
		if k.Email == u.Email {
			own = append(own, k)
		}
	}
	return own, nil
}

// RemoveKey removes one of u's keys (any key, for an administrator) by
// ID, fingerprint or comment. Returns ENOTFOUND.
func (e *Engine) RemoveKey(u *User, idOrName string) error {
	owner := u.Email
	if u.Admin {
		owner = ""
	}
	return e.Store.DeleteKey(owner, idOrName)
}

// Authorized returns the email of the user who holds the key with that
// fingerprint, and whether the key may use SSH at all.
func (e *Engine) Authorized(fingerprint string) (user string, ok bool) {
	k, err := e.Store.KeyByFingerprint(fingerprint)
	if err != nil {
		return "", false
	}
	if _, err := e.users().User(k.Email); err != nil {
		return "", false
	}
	return k.Email, true
}

// Stopping tells the engine the server began to stop, before it closes
// its ports: a release phase the stop cuts then ends its output saying
// so, as one a kill cut does at the next start.
func (e *Engine) Stopping() { e.stopping.Store(true) }

// Shutdown stops every dyno the engine started, and the backups being
// taken in the background, for a server exit.
func (e *Engine) Shutdown() {
	e.bgCaptures.stop()
	e.mu.Lock()
	var all []*instance
	for app, ds := range e.running {
		all = append(all, ds...)
		delete(e.running, app)
	}
	e.mu.Unlock()
	e.stopDynos(all)
}

// NewID returns a random UUID v4, for the records other packages name
// (the store's releases).
func NewID() string { return newID() }

// newID returns a random UUID v4, the id format of Heroku's API.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// DeployRequest is a pushed commit, or an uploaded source, to build and
// release.
type DeployRequest struct {
	App    string
	Commit string
	// SourceDir holds the source to build; when it is empty, Source is a
	// tar.gz of it (`hako builds:create`).
	SourceDir string
	Source    io.Reader
	User      string
	Out       io.Writer
	// Verify, when set, is called once the app's lock is held and before
	// the build; its error ends the deploy. A push checks there that its
	// branch did not move while it waited.
	Verify func() error
	// Started is when the push began, for the timing line's "receive";
	// zero means when StageDeploy is called.
	Started time.Time
	// BuildID names the build NewBuild recorded for this deploy; when
	// empty, StageDeploy records one.
	BuildID string
}
