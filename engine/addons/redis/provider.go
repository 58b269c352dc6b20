// Package redis provides the heroku-redis add-on on this machine. Each
// add-on gets its own redis-server, as on Heroku, so that apps never share
// keys, passwords or memory: the server listens on a loopback port, asks
// for a random password, keeps its data with appendonly on, and runs as an
// unprivileged user when hako runs as root.
package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"

	"hako/engine"
	"hako/engine/addons/localproc"
)

const (
	service    = "heroku-redis"
	attachment = "REDIS"
	// maxNameLen keeps add-on names usable as a path component.
	maxNameLen = 100
)

var (
	nameRE     = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	passwordRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// Options tune a Provider.
type Options struct {
	// Logf receives one line when a server starts, stops or exits on its
	// own. Nil discards them.
	Logf func(format string, args ...any)
	// User and Group are the uid and gid the servers run as when hako runs
	// as root, so that a Redis server reached through an app cannot act as
	// root. Zero means engine.AddonUID, a user of their own that no app's
	// processes share: running Redis as root is not offered. They are ignored when hako is not root, since it cannot
	// switch users then.
	User, Group int
	// Host is the address, besides 127.0.0.1, that the servers listen on:
	// the host's address on the dynos' network, which dynos in network
	// namespaces of their own reach (their supervisor rewrites the
	// REDIS_URLs, which name 127.0.0.1, for them). Empty: loopback only.
	Host string
}

// Provider is the engine.AddonProvider of heroku-redis. It is safe for
// concurrent use: one mutex serializes its operations, which are rare and
// bounded in time (a server start waits at most readyTimeout).
type Provider struct {
	dir  string
	opts Options
	cred *credential // nil: the servers run as hako's own user

	mu      sync.Mutex
	servers map[string]*server // by add-on name, only running ones
	// restarts holds the restart policy of each server that died on its
	// own; Stop and Deprovision drop it, which calls its restart off.
	restarts map[string]*localproc.Restarts
}

var _ engine.AddonProvider = (*Provider)(nil)

// New returns a Provider keeping one subdirectory of dir per add-on.
func New(dir string, opts Options) *Provider {
	if abs, err := filepath.Abs(dir); err == nil && dir != "" {
		dir = abs
	}
	if opts.User == 0 {
		opts.User = engine.AddonUID
	}
	if opts.Group == 0 {
		opts.Group = engine.AddonUID
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	return &Provider{
		dir:      dir,
		opts:     opts,
		cred:     serverCredential(opts.User, opts.Group),
		servers:  map[string]*server{},
		restarts: map[string]*localproc.Restarts{},
	}
}

// Service returns "heroku-redis".
func (p *Provider) Service() string { return service }

// Attachment returns "REDIS": the app gets REDIS_URL.
func (p *Provider) Attachment() string { return attachment }

// Plans lists Heroku's plan names (see plans for their limits).
func (p *Provider) Plans() []string {
	names := make([]string, len(plans))
	for i, pl := range plans {
		names[i] = pl.name
	}
	return names
}

// plan is what a Heroku Redis plan allows, Heroku's figures: the server's
// maxmemory (past it, writes fail with Redis's OOM error, as Heroku's
// noeviction default does) and maxclients.
type plan struct {
	name      string
	maxmemory int64
	clients   int
}

const mb = 1 << 20

var plans = []plan{
	{"mini", 25 * mb, 20},
	{"premium-0", 50 * mb, 40},
}

// planOf returns the plan named name; "" and unknown names (an add-on
// recorded before plans had limits) get the first.
func planOf(name string) plan {
	for _, p := range plans {
		if p.name == name {
			return p
		}
	}
	return plans[0]
}

// cgroupMemory is the memory limit of the server's cgroup: twice
// maxmemory, since an appendonly rewrite forks the server and the copy
// may come to hold as much again, plus room for Redis itself.
func (pl plan) cgroupMemory() int64 { return 2*pl.maxmemory + 64*mb }

// resource is the parsed, validated record of one add-on.
type resource struct {
	name     string
	port     int
	password string
	data     string // the server's data directory
	plan     plan
}

func (r resource) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// url names Redis's default user: with no user (redis://:PASS@), redis-cli
// 7 sends an empty user name, which the server refuses, while every Redis
// 6+ client takes "default" with the password.
func (r resource) url() string { return "redis://default:" + r.password + "@" + r.addr() }

func (r resource) record() map[string]string {
	return map[string]string{"name": r.name, "port": strconv.Itoa(r.port), "password": r.password, "data": r.data, "plan": r.plan.name}
}

// Provision makes a new add-on: its directory, a free port, a random
// password, and a running server answering with that password.
func (p *Provider) Provision(ctx context.Context, name, plan string) (string, map[string]string, error) {
	if err := validName(name); err != nil {
		return "", nil, err
	}
	bin, err := lookRedis()
	if err != nil {
		return "", nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dir == "" {
		return "", nil, errors.New("redis add-ons: no directory configured")
	}
	if err := os.MkdirAll(p.dir, 0o711); err != nil {
		return "", nil, fmt.Errorf("create the redis add-ons directory: %w", err)
	}
	// Mkdir claims the name atomically, also against another hako.
	home := filepath.Join(p.dir, name)
	if err := os.Mkdir(home, 0o711); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", nil, engine.Errorf(engine.ECONFLICT, "A Redis add-on named %s already exists.", name)
		}
		return "", nil, fmt.Errorf("create the directory of redis add-on %s: %w", name, err)
	}
	done := false
	defer func() {
		if !done {
			p.removeData(name)
		}
	}()
	data, err := p.dataDir(name)
	if err != nil {
		return "", nil, err
	}
	password, err := randomHex(16)
	if err != nil {
		return "", nil, err
	}
	r := resource{name: name, password: password, data: data, plan: planOf(plan)}
	// The port is free when picked but may be taken before the server
	// binds it: try a few.
	for attempt := 1; ; attempt++ {
		if r.port, err = localproc.FreePort(); err != nil {
			return "", nil, err
		}
		err = p.start(ctx, bin, r)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortBusy) || attempt == 3 {
			return "", nil, fmt.Errorf("provision redis add-on %s: %w", name, err)
		}
	}
	done = true
	return r.url(), r.record(), nil
}

// Start starts the server of every resource not running yet, on the port
// and with the password recorded, so that the apps' REDIS_URL stays valid.
// A server that fails does not keep the others from starting.
func (p *Provider) Start(ctx context.Context, resources []map[string]string) error {
	if len(resources) == 0 {
		return nil
	}
	bin, err := lookRedis()
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, rec := range resources {
		r, err := p.parse(rec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, ok := p.servers[r.name]; ok {
			continue
		}
		if err := p.start(ctx, bin, r); err != nil {
			errs = append(errs, fmt.Errorf("start redis add-on %s: %w", r.name, err))
		}
	}
	return errors.Join(errs...)
}

// Deprovision stops the add-on's server and removes its data for good.
func (p *Provider) Deprovision(ctx context.Context, rec map[string]string) error {
	name := rec["name"]
	if err := validName(name); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dir == "" {
		return errors.New("redis add-ons: no directory configured")
	}
	delete(p.restarts, name)
	if s, ok := p.servers[name]; ok {
		delete(p.servers, name)
		s.stop()
		p.opts.Logf("redis add-on %s stopped", name)
	}
	return p.removeData(name)
}

// Stop stops every server this provider started, together, each with
// SIGTERM (Redis then writes its data and exits) and SIGKILL after
// stopTimeout. Calling it again does nothing more.
func (p *Provider) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var wg sync.WaitGroup
	for name, s := range p.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.stop()
			p.opts.Logf("redis add-on %s stopped", name)
		}()
	}
	wg.Wait()
	clear(p.servers)
	clear(p.restarts)
}

// parse validates a stored resource: the data directory must be one this
// provider would have chosen, never an arbitrary path.
func (p *Provider) parse(rec map[string]string) (resource, error) {
	r := resource{name: rec["name"], password: rec["password"], data: rec["data"], plan: planOf(rec["plan"])}
	if err := validName(r.name); err != nil {
		return r, err
	}
	port, err := strconv.Atoi(rec["port"])
	if err != nil || port < 1 || port > 65535 {
		return r, fmt.Errorf("redis add-on %s: invalid port %q", r.name, rec["port"])
	}
	r.port = port
	if !passwordRE.MatchString(r.password) {
		return r, fmt.Errorf("redis add-on %s: invalid password", r.name)
	}
	switch r.data {
	case "":
		if r.data, err = p.dataDir(r.name); err != nil {
			return r, err
		}
	case p.localData(r.name), p.fallbackData(r.name):
	default:
		return r, fmt.Errorf("redis add-on %s: data directory %s is outside the add-on directories", r.name, r.data)
	}
	return r, nil
}

// validName refuses names that are not a single, plain path component.
func validName(name string) error {
	if !nameRE.MatchString(name) || len(name) > maxNameLen {
		return engine.Errorf(engine.EINVALID, "Invalid Redis add-on name %q: use lowercase letters, digits and dashes, starting with a letter.", name)
	}
	return nil
}

// lookRedis finds redis-server, at each use so that installing it needs
// no restart.
func lookRedis() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", engine.Errorf(engine.EINVALID, "Redis is not installed on this machine: install it (Debian: apt-get install redis-server) to use heroku-redis.")
	}
	return bin, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a redis password: %w", err)
	}
	return hex.EncodeToString(b), nil
}
