package cmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"hako/buildpacks"
	"hako/engine"
	"hako/engine/addons/postgres"
	"hako/engine/addons/redis"
	"hako/engine/api"
	"hako/engine/dashboard"
	"hako/engine/dnsd"
	"hako/engine/dyno"
	"hako/engine/localca"
	"hako/engine/logs"
	"hako/engine/router"
	"hako/engine/scheduler"
	"hako/sshgit"
	"hako/store"
)

// Server is `hako server`: every part wired once over one HAKO_HOME. New
// lays out the home, opens the store, binds the ports and builds the
// parts; Run serves until its context ends or a part fails; Shutdown
// stops it. Every goroutine Run starts belongs to one errgroup, and there
// is one stop path, so nothing is left running once Run has returned.
type Server struct {
	cfg    serverConfig
	layout engine.Layout
	out    io.Writer
	logger *log.Logger

	store  *store.Store
	ls     map[string]net.Listener // by the flag that chose the address
	hookL  net.Listener
	buf    *logs.Buffer
	sup    *dyno.Supervisor
	eng    *engine.Engine
	sched  *scheduler.Scheduler
	ssh    *sshgit.Server
	api    *http.Server
	router *router.Router
	ca     *localca.Authority
	// dns answers for the domain (--dns-addr) on dnsPC; nil without it.
	dns   *dnsd.Server
	dnsPC net.PacketConn
	// rendezvous takes the heroku CLI's attached one-off dynos.
	rendezvous *api.Rendezvous
	// dash is the web dashboard, at hako.DOMAIN and /dashboard.
	dash     *dashboard.Server
	info     ServerInfo
	httpPort string

	// warmGo, when set, compiles the Go standard library for the builds
	// (buildpacks.Builder.WarmGo), in Run's group.
	warmGo func(context.Context) error

	// stop ends Run; done is closed once Run has cleaned up.
	stop context.CancelFunc
	ctx  context.Context
	done chan struct{}
	mu   sync.Mutex
	ran  bool // Run was called (or Shutdown came first)

	closeOnce sync.Once
}

// NewServer prepares a server on the home home with the settings of the
// flags; out gets the banner, stderr the server's log. Nothing serves
// until Run. On error, what was opened is closed again.
func NewServer(env *Env, home string, cfg serverConfig) (_ *Server, err error) {
	layout := engine.NewLayout(home)
	if cfg.CacheDir != "" {
		layout.Cache, layout.SharedCache = filepath.Join(cfg.CacheDir, "cache"), filepath.Join(cfg.CacheDir, "cache", "_shared")
	}
	if err := layout.Create(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, layout: layout, out: env.Stdout, logger: log.New(env.Stderr, "", log.LstdFlags), done: make(chan struct{})}
	s.ctx, s.stop = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.store, err = store.Open(layout.DB); err != nil {
		if errors.Is(err, store.ErrLocked) {
			return nil, engine.Errorf(engine.ECONFLICT, "Another hako server is using %s: stop it first, or set HAKO_HOME to another directory.", home)
		}
		return nil, err
	}
	if s.ls, err = listen(listenConfig(cmp.Or(cfg.ClientAlive, sshgit.DefaultKeepaliveInterval)), map[string]string{"ssh-addr": cfg.SSHAddr, "http-addr": cfg.HTTPAddr, "https-addr": cfg.HTTPSAddr, "api-addr": cfg.APIAddr,
		"rendezvous-addr": cfg.RendezvousAddr}); err != nil {
		return nil, err
	}
	files, err := raiseFileLimit()
	if err != nil {
		return nil, fmt.Errorf("read the open-files limit: %w", err)
	}
	limitListeners(s.ls, budgets(files, cfg.RouterMaxConns, cfg.SSHMaxConns), s.logger.Printf)
	if err := s.startDNS(); err != nil {
		return nil, err
	}
	if err := s.secure(); err != nil {
		return nil, err
	}
	if err := s.build(); err != nil {
		return nil, err
	}
	_ = os.Remove(layout.HookSocket)
	if s.hookL, err = net.Listen("unix", layout.HookSocket); err != nil {
		return nil, fmt.Errorf("listen for git hooks: %w", err)
	}
	_ = os.Chmod(layout.HookSocket, 0o600)
	// The router knows every app before it takes a request, so that a
	// restart answers 503 while dynos start, never "No such app".
	if err := s.eng.Prepare(); err != nil {
		return nil, err
	}
	return s, nil
}

// build makes the parts and wires them to one another.
func (s *Server) build() error {
	l, cfg := s.layout, s.cfg
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the hako binary: %w", err)
	}
	// The disks of builds a killed server left mounted go before
	// anything removes their directories.
	if err := dyno.UnmountUnder(l.Tmp); err != nil {
		s.logger.Printf("start: unmounting leftover build disks: %v", err)
	}
	builder, err := buildpacks.New(l.Slugs, l.Tmp)
	if err != nil {
		return err
	}
	builder.SharedCache, builder.InstalledDir = l.SharedCache, l.Buildpacks
	builder.Limits = cfg.Limits
	if cfg.WarmGo {
		s.warmGo = builder.WarmGo
	}
	s.buf = &logs.Buffer{Mirror: s.out}
	dopts := cfg.Dynos
	dopts.Exe, dopts.Logs, dopts.ScratchDir = exe, s.buf, l.Scratch
	dopts.BuildFileLimit = cfg.Limits.WithDefaults().BuildBytes
	dopts.UntrackedPorts = []int{s.ls["http-addr"].Addr().(*net.TCPAddr).Port}
	s.sup = dyno.New(dopts)
	// Builds run buildpacks, code from the user and third parties: they
	// get the isolation dynos get.
	builder.Sandbox = s.sup
	rt := router.New(cfg.Domain, s.buf)
	s.ca.Extra = rt.CustomDomain
	s.httpPort = portOf(s.ls["http-addr"].Addr())
	appURL := func(app string) string { return fmt.Sprintf("http://%s.%s:%s/", app, cfg.Domain, s.httpPort) }
	// Remotes and sheets name a public server by the name other machines
	// reach it at; this machine's own clients use loopback.
	public := publicHost(cfg.Domain)
	sshAddr := shownAddr(s.ls["ssh-addr"].Addr(), public)
	gitURL := func(app string) string { return fmt.Sprintf("ssh://git@%s/%s.git", sshAddr, app) }
	s.sched = scheduler.New()
	s.eng = engine.New(engine.Parts{
		Store: s.store, Builder: builder, Supervisor: s.sup, Routes: rt, Logs: s.buf, Drains: s.buf,
		Paths: l, ParseKey: sshgit.ParseKey, AppURL: appURL, WaitUp: cfg.Dynos.BootTimeout, Domain: cfg.Domain,
		Version: serverVersion(), Started: time.Now().UTC(), Limits: cfg.Limits, Scheduler: s.sched, Probe: router.Probe,
		MaxAppsPerUser: cfg.MaxAppsPerUser, MaxAttachedPerUser: cfg.MaxAttachedPerUser,
	})
	s.sched.SetEngine(s.eng)
	// Dynos in network namespaces of their own reach the add-on servers
	// at the host's address on their network.
	pg := postgres.New(filepath.Join(l.Addons, "postgres"), postgres.Options{Logf: s.logger.Printf, Host: s.sup.Gateway(), Subnet: s.sup.Subnet(), MaxBackupBytes: cfg.MaxPGBackup})
	rd := redis.New(filepath.Join(l.Addons, "redis"), redis.Options{Logf: s.logger.Printf, Host: s.sup.Gateway()})
	s.eng.AddonProviders = map[string]engine.AddonProvider{pg.Service(): pg, rd.Service(): rd}
	sweepLeftovers(s.eng, s.logger)
	token, err := apiToken(l.APIToken)
	if err != nil {
		return err
	}
	apiURL := "http://" + shownAddr(s.ls["api-addr"].Addr(), "127.0.0.1")
	s.rendezvous = &api.Rendezvous{Engine: s.eng, Logf: s.logger.Printf}
	s.rendezvous.SetAddr(s.ls["rendezvous-addr"].Addr().String())
	apiHandler := (&api.Server{Engine: s.eng, Token: token, Logs: s.buf, WebURL: appURL, GitURL: gitURL, Logf: s.logger.Printf,
		Rendezvous: s.rendezvous, Context: s.ctx, APIURL: "http://" + shownAddr(s.ls["api-addr"].Addr(), public),
		MaxTailsPerUser: cfg.MaxTailsPerUser, MaxDetachedPerUser: cfg.MaxDetachedPerUser}).Handler()
	s.api = &http.Server{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
	// Slow headers and idle keep-alive connections are closed, as by
	// Heroku's router (30 s, 90 s); a connection that never sends a
	// request is idle too.
	rt.ReadHeaderTimeout, rt.IdleTimeout = min(30*time.Second, cfg.RouterIdle), cfg.RouterIdle
	s.router = rt
	s.ssh = &sshgit.Server{
		Engine: s.eng, ReposDir: l.Repos, HookSocket: l.HookSocket, Exe: exe,
		HostKeyPath: l.HostKey, Logf: s.logger.Printf, KeepaliveInterval: cfg.ClientAlive,
		UnusedTimeout: cfg.SSHUnused, MaxSessions: cfg.SSHMaxSessions, MaxStartupsPerHost: cfg.SSHMaxStartupsPerHost,
		Commands: sshCommands(s.eng, apiURL),
	}
	s.eng.RepoHeads, s.eng.Logf = s.ssh.Heads, s.logger.Printf
	s.eng.GitLog = s.ssh.Log
	s.dash = dashboard.New(s.eng, dashboard.Options{Token: token, Logs: s.buf, AppURL: appURL, Logf: s.logger.Printf})
	s.eng.Narrate = s.dash.Narrate
	rt.Dashboard = s.dash.Handler("")
	s.api.Handler = withDashboard(withGitHTTP(apiHandler, s.ssh, token, s.eng), s.dash.Handler("/dashboard"))
	s.info = ServerInfo{APIURL: apiURL, Token: token, SSHAddr: sshAddr, HTTPAddr: s.ls["http-addr"].Addr().String(),
		HTTPSAddr: s.ls["https-addr"].Addr().String(), CAFile: s.ca.CAFile(),
		RendezvousAddr: s.ls["rendezvous-addr"].Addr().String(), Domain: cfg.Domain, PID: os.Getpid()}
	return nil
}

// Info is where the server listens, as written to server.json.
func (s *Server) Info() ServerInfo { return s.info }

// Run serves until ctx ends, Shutdown is called or a part fails, then
// stops everything and returns the failure, if any. It starts the add-on
// servers and restores the apps' dynos in the background, as part of the
// same group: a stop waits for that start-up to end before it stops the
// dynos, so the start-up starts none the stop would miss.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return errors.New("the server has already run")
	}
	s.ran = true
	s.mu.Unlock()
	defer close(s.done)
	defer s.close()
	stop := context.AfterFunc(ctx, s.stop)
	defer stop()

	if err := writeJSONFile(s.layout.ServerInfo, s.info); err != nil {
		return err
	}
	defer os.Remove(s.layout.ServerInfo)
	printBanner(s.out, s.info, s.layout.Home, s.sup.Isolation(), s.httpPort)
	if s.dns != nil {
		fmt.Fprintf(s.out, "  DNS for *.%s            %s (UDP)\n", s.cfg.Domain, s.dnsPC.LocalAddr())
	}

	g, gctx := errgroup.WithContext(s.ctx)
	// A part that stops serving while nothing asked it to fails the server.
	serve := func(name string, f func() error) {
		g.Go(func() error {
			err := f()
			if gctx.Err() != nil {
				return nil
			}
			if err == nil {
				err = errors.New("stopped")
			}
			return fmt.Errorf("%s: %w", name, err)
		})
	}
	serve("ssh", func() error { return s.ssh.Serve(s.ls["ssh-addr"]) })
	serve("git hooks", func() error { return s.ssh.ServeHooks(s.hookL) })
	serve("api", func() error { return s.api.Serve(s.ls["api-addr"]) })
	serve("router", func() error { return s.router.Serve(s.ls["http-addr"]) })
	if s.dns != nil {
		serve("dns", func() error { return s.dns.Serve(s.dnsPC) })
	}
	serve("router (https)", func() error { return s.router.Serve(s.ls["https-addr"]) })
	serve("rendezvous", func() error { return s.rendezvous.Serve(gctx, s.ls["rendezvous-addr"]) })
	g.Go(func() error {
		// Add-on servers come up first: dynos connect to them at boot.
		if err := s.eng.StartAddons(gctx); err != nil {
			s.logger.Printf("add-ons: %v", err)
		}
		if err := s.eng.Restore(gctx); err != nil {
			s.logger.Printf("restore: %v", err)
		}
		// Credential rotations a stop cut, once the releases it left
		// pending are settled.
		if err := s.eng.FinishRotations(gctx); err != nil {
			s.logger.Printf("credentials: %v", err)
		}
		return nil
	})
	if s.warmGo != nil {
		g.Go(func() error {
			if err := s.warmGo(gctx); err != nil {
				s.logger.Printf("builds: %v; the first Go build compiles it", err)
			}
			return nil
		})
	}
	g.Go(func() error { return s.dash.Run(gctx) })
	// app.json's liveness checks on the up dynos.
	g.Go(func() error { return s.eng.WatchLiveness(gctx) })
	// The scheduler's jobs; its runs end with it.
	g.Go(func() error { return s.sched.Run(gctx) })
	// The databases' daily backups (pg:backups:schedule).
	g.Go(func() error { return scheduler.NewBackups(s.eng).Run(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		fmt.Fprintln(s.out, "Stopping hako: stopping dynos...")
		s.eng.Stopping()
		s.stopServing()
		return nil
	})
	err := g.Wait()
	// Every goroutine of the group has ended, the start-up included: the
	// dynos, the add-on servers and the drains stop now.
	s.eng.Shutdown()
	s.sup.StopAll()
	s.eng.StopAddons()
	s.buf.CloseDrains()
	// The disks of builds still in progress, which end with the server.
	if err := dyno.UnmountUnder(s.layout.Tmp); err != nil {
		s.logger.Printf("stop: unmounting build disks: %v", err)
	}
	return err
}

// stopServing closes the ports: each serving goroutine then returns.
func (s *Server) stopServing() {
	_ = s.ssh.Close()
	// Closing the listeners too ends a Serve that had not yet begun.
	for _, l := range s.ls {
		_ = l.Close()
	}
	_ = s.hookL.Close()
	if s.dns != nil {
		_ = s.dns.Close()
		_ = s.dnsPC.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.api.Shutdown(ctx)
	_ = s.router.Shutdown(ctx)
}

// Shutdown stops a running server and waits, as long as ctx allows, for
// Run to have stopped everything. A server that never ran is closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	s.mu.Lock()
	ran := s.ran
	s.ran = true
	s.mu.Unlock()
	if !ran {
		s.close()
		return nil
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop the server: %w", ctx.Err())
	}
}

// close releases what New opened: listeners and the store.
func (s *Server) close() {
	s.closeOnce.Do(s.release)
}

func (s *Server) release() {
	for _, l := range s.ls {
		_ = l.Close()
	}
	if s.hookL != nil {
		_ = s.hookL.Close()
	}
	if s.dnsPC != nil {
		_ = s.dnsPC.Close()
	}
	if s.store != nil {
		_ = s.store.Close()
	}
	// Last, once the dynos and add-on servers are gone: the dynos'
	// bridge and firewall table.
	if s.sup != nil {
		s.sup.Close()
	}
}

// withDashboard serves /dashboard and what is under it from dash, the
// rest from next (the API).
func withDashboard(next, dash http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dashboard" || strings.HasPrefix(r.URL.Path, "/dashboard/") {
			dash.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
