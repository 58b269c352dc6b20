package engine_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hako/engine"
	"hako/engine/addons/redis"
	"hako/store"
)

// crash is what faultStore and crashRedis panic with: the server stops
// there, before the write or the step.
type crash struct{}

// faultStore is a Store whose writes can fail, one or all from some on,
// or stop the server (a panic the test recovers) before one of them.
type faultStore struct {
	engine.Store
	mu      sync.Mutex
	writes  int
	failAt  int  // this write fails (0: none)
	broken  bool // and every one after it
	crashAt int  // the server stops before this write (0: never)
}

func (s *faultStore) write() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.crashAt != 0 && s.writes == s.crashAt {
		panic(crash{})
	}
	if s.failAt != 0 && (s.writes == s.failAt || s.broken && s.writes > s.failAt) {
		return errors.New("injected store failure")
	}
	return nil
}

func (s *faultStore) UpdateApp(name string, fn func(*engine.App) error) (*engine.App, error) {
	if err := s.write(); err != nil {
		return nil, err
	}
	return s.Store.UpdateApp(name, fn)
}

func (s *faultStore) CreateRelease(r *engine.Release, slug *engine.Slug) (*engine.Release, error) {
	if err := s.write(); err != nil {
		return nil, err
	}
	return s.Store.CreateRelease(r, slug)
}

func (s *faultStore) SetReleaseStatus(app string, version int, status string) (*engine.Release, error) {
	if err := s.write(); err != nil {
		return nil, err
	}
	return s.Store.SetReleaseStatus(app, version, status)
}

// crashRedis is the real heroku-redis provider, whose SetCredentials
// can stop the server before it acts.
type crashRedis struct {
	*redis.Provider
	crashSet bool
}

func (p *crashRedis) SetCredentials(ctx context.Context, from map[string]string, url string, to map[string]string) error {
	if p.crashSet {
		p.crashSet = false
		panic(crash{})
	}
	return p.Provider.SetCredentials(ctx, from, url, to)
}

// rotationWorld is a store, with an app "cache" owning a real Redis
// add-on attached as REDIS and SESSIONS, and "reader" with it attached
// as SHARED; start brings up an engine on it, as a server start does.
type rotationWorld struct {
	t     *testing.T
	st    *store.Store
	dir   string
	redis string // the providers' directory
	addon string
	e     *engine.Engine
	fs    *faultStore
	p     *crashRedis
}

func newRotationWorld(t *testing.T) *rotationWorld {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is required in CI")
		}
		t.Skip("redis-server is not installed")
	}
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "hako.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// The servers run as another user when the test runs as root: every
	// ancestor of their directory must let it through.
	rd, err := os.MkdirTemp("", "hako-rotation-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rd) })
	if err := os.Chmod(rd, 0o711); err != nil {
		t.Fatal(err)
	}
	w := &rotationWorld{t: t, st: st, dir: dir, redis: filepath.Join(rd, "redis")}
	w.start()
	ctx := context.Background()
	for _, name := range []string{"cache", "reader"} {
		if _, err := w.e.CreateApp(name, "u"); err != nil {
			t.Fatal(err)
		}
	}
	a, err := w.e.CreateAddon(ctx, engine.AddonRequest{App: "cache", Service: "heroku-redis", User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	w.addon = a.ID
	for _, req := range []engine.AttachRequest{{App: "cache", As: "SESSIONS"}, {App: "reader", As: "SHARED"}} {
		req.Addon, req.User = a.ID, "u"
		if _, err := w.e.AttachAddon(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	w.agree("after provisioning")
	return w
}

// start stops the add-on servers of the engine before, if any, as a
// server's stop takes them with it, and starts an engine on the store
// as a server start does: add-on servers, apps, pending rotations.
func (w *rotationWorld) start() {
	w.t.Helper()
	if w.p != nil {
		w.p.Stop()
	}
	w.fs = &faultStore{Store: w.st}
	w.e = engine.New(engine.Parts{Store: w.fs, Builder: &fakeBuilder{}, Supervisor: &fakeSupervisor{},
		Routes: &fakeRoutes{apps: map[string][]engine.Backend{}, domains: map[string][]string{}},
		Paths:  engine.Layout{Run: filepath.Join(w.dir, "run"), Cache: filepath.Join(w.dir, "cache"), Repos: filepath.Join(w.dir, "repos")}})
	p := redis.New(w.redis, redis.Options{Logf: w.t.Logf})
	w.p = &crashRedis{Provider: p}
	w.t.Cleanup(p.Stop)
	w.e.AddonProviders = map[string]engine.AddonProvider{"heroku-redis": w.p}
	ctx := context.Background()
	if w.addon != "" {
		if err := w.e.Prepare(); err != nil {
			w.t.Fatal(err)
		}
	}
	if err := w.e.StartAddons(ctx); err != nil {
		w.t.Fatal(err)
	}
	if err := w.e.Restore(ctx); err != nil {
		w.t.Fatal(err)
	}
	if err := w.e.FinishRotations(ctx); err != nil {
		w.t.Fatal(err)
	}
}

// rotate resets the add-on's credentials through reader, reporting
// whether the server stopped during it.
func (w *rotationWorld) rotate() (err error, crashed bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	_, err = w.e.ResetRedisCredentials(context.Background(), "reader", "SHARED", "u", nil)
	return err, false
}

// agree checks that every URL the apps hold for the add-on is accepted
// by its running server, and returns the password they share.
func (w *rotationWorld) agree(when string) string {
	w.t.Helper()
	shared := ""
	for app, vars := range map[string][]string{"cache": {"REDIS_URL", "SESSIONS_URL"}, "reader": {"SHARED_URL"}} {
		cfg, err := w.e.Config(app)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, v := range vars {
			u, err := neturl.Parse(cfg[v])
			if err != nil || u.User == nil {
				w.t.Fatalf("%s: %s's %s = %q", when, app, v, cfg[v])
			}
			pw, _ := u.User.Password()
			if err := redisAuth(u.Host, pw); err != nil {
				w.t.Errorf("%s: %s's %s does not work against the server: %v", when, app, v, err)
			}
			if shared != "" && pw != shared {
				w.t.Errorf("%s: %s's %s carries another password than the others", when, app, v)
			}
			shared = pw
		}
	}
	return shared
}

// mixed reports whether the apps hold more than one URL of the add-on.
func (w *rotationWorld) mixed() bool {
	w.t.Helper()
	seen := map[string]bool{}
	for app, vars := range map[string][]string{"cache": {"REDIS_URL", "SESSIONS_URL"}, "reader": {"SHARED_URL"}} {
		cfg, err := w.e.Config(app)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, v := range vars {
			seen[cfg[v]] = true
		}
	}
	return len(seen) > 1
}

// settled checks that no rotation is pending and that the add-on's
// record holds the password the apps and the server share.
func (w *rotationWorld) settled(when, password string) {
	w.t.Helper()
	a, err := w.e.FindAddon(w.addon)
	if err != nil {
		w.t.Fatal(err)
	}
	if a.PendingCredentials != nil || a.Resource["password"] != password {
		w.t.Errorf("%s: the add-on's record holds password %q, pending %+v; the apps and server share %q", when, a.Resource["password"], a.PendingCredentials, password)
	}
}

// redisAuth authenticates as Redis's default user with password.
func redisAuth(addr, password string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$%d\r\n%s\r\n", len(password), password)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimSpace(line); line != "+OK" {
		return errors.New(line)
	}
	return nil
}

// TestRotationSurvivesFaults resets a real Redis add-on's credentials
// while the store fails at each of its writes in turn (one write, then
// every write from it on), and while the server stops before each write
// and before Redis takes the new password: every URL the apps hold
// works against the real server as soon as the reset returns (but for
// a store that broke between two apps' releases, which says the next
// start finishes it), and after the next start in every case, when
// nothing is left pending and the add-on's record holds the password
// they share.
func TestRotationSurvivesFaults(t *testing.T) {
	w := newRotationWorld(t)
	// The writes of a rotation that meets no fault.
	w.fs.writes = 0
	if err, _ := w.rotate(); err != nil {
		t.Fatal(err)
	}
	w.settled("a reset", w.agree("a reset"))
	writes := w.fs.writes
	if writes < 4 {
		t.Fatalf("a reset made %d writes, want at least 4 (pending, one release each, the record)", writes)
	}
	for n := 1; n <= writes; n++ {
		for _, c := range []struct {
			name   string
			broken bool
		}{{"fails", false}, {"fails with all after it", true}} {
			when := fmt.Sprintf("write %d %s", n, c.name)
			before := w.agree(when + ", before")
			w.fs.writes, w.fs.failAt, w.fs.broken = 0, n, c.broken
			err, _ := w.rotate()
			w.fs.failAt, w.fs.broken = 0, false
			if c.broken && w.mixed() {
				// Some apps got the new URL before the store broke, the
				// others cannot get it while it stays broken: the server
				// keeps the new password and the next start ends it.
				if err == nil || !strings.HasSuffix(err.Error(), "; the next start of the server gives the new URL to the apps without it") {
					t.Errorf("%s: the reset returned %v, want it to say the next start finishes it", when, err)
				}
				w.start()
				w.settled(when+", after a start", w.agree(when+", after a start"))
				continue
			}
			now := w.agree(when)
			if n == 1 && (err == nil || now != before) {
				t.Errorf("%s: the reset returned %v and changed the password: want an error and nothing changed", when, err)
			}
			if !c.broken && n > 1 && err != nil {
				t.Errorf("%s: the reset returned %v, want it done", when, err)
			}
			w.start()
			w.settled(when+", after a start", w.agree(when+", after a start"))
		}
		when := fmt.Sprintf("the server stopped before write %d", n)
		w.fs.writes, w.fs.crashAt = 0, n
		if _, crashed := w.rotate(); !crashed {
			t.Fatalf("%s: no stop", when)
		}
		w.start()
		w.settled(when+", after a start", w.agree(when+", after a start"))
	}
	w.p.crashSet = true
	if _, crashed := w.rotate(); !crashed {
		t.Fatal("no stop before Redis took the new password")
	}
	w.start()
	w.settled("the server stopped before Redis took the new password, after a start", w.agree("the server stopped before Redis took the new password, after a start"))
}
