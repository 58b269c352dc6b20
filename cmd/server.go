package cmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"hako/buildpacks"
	"hako/engine"
	"hako/engine/addons/postgres"
	"hako/engine/addons/redis"
	"hako/engine/api"
	"hako/engine/dyno"
	"hako/engine/logs"
	"hako/engine/router"
	"hako/sshgit"
	"hako/store"
)

func serverCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "server",
		Usage: "run hako: the SSH git server, builds, dynos, the router and the API",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ssh-addr", Value: "127.0.0.1:2222", Usage: "address of the SSH server (git push, commands)", EnvVars: []string{"HAKO_SSH_ADDR"}},
			&cli.StringFlag{Name: "http-addr", Value: "127.0.0.1:8080", Usage: "address of the router that serves the apps", EnvVars: []string{"HAKO_HTTP_ADDR"}},
			&cli.StringFlag{Name: "api-addr", Value: "127.0.0.1:8081", Usage: "address of the HTTP API", EnvVars: []string{"HAKO_API_ADDR"}},
			&cli.StringFlag{Name: "domain", Value: "localhost", Usage: "apps are served at APP.DOMAIN", EnvVars: []string{"HAKO_DOMAIN"}},
			&cli.DurationFlag{Name: "boot-timeout", Value: dyno.DefaultBootTimeout, Usage: "how long a web dyno has to bind $PORT before R10", EnvVars: []string{"HAKO_BOOT_TIMEOUT"}},
			&cli.DurationFlag{Name: "stop-grace", Value: dyno.DefaultStopGrace, Usage: "how long a stopping dyno has after SIGTERM before SIGKILL (R12)", EnvVars: []string{"HAKO_STOP_GRACE"}},
			&cli.DurationFlag{Name: "cycle-after", Value: 24 * time.Hour, Usage: "dynos are restarted after this long, plus a random 0-216 min", EnvVars: []string{"HAKO_CYCLE_AFTER"}},
			&cli.IntFlag{Name: "dyno-memory", Value: 512, Usage: "memory quota per dyno in MiB (R14 above it, R15 and a restart at twice it)", EnvVars: []string{"HAKO_DYNO_MEMORY"}},
			&cli.DurationFlag{Name: "router-idle-timeout", Value: 90 * time.Second, Usage: "the router closes client connections idle this long", EnvVars: []string{"HAKO_ROUTER_IDLE_TIMEOUT"}},
			&cli.IntFlag{Name: "router-max-conns", Usage: "client connections the router holds at once; more get a 503 (default: a share of the open-files limit)", EnvVars: []string{"HAKO_ROUTER_MAX_CONNS"}},
			&cli.StringFlag{Name: "isolation", Value: "auto", Usage: "how dynos and builds are isolated: auto (fully when root, else as the server's user), required (fully or not at all) or none (not root only)", EnvVars: []string{"HAKO_ISOLATION"}},
		},
		Action: func(c *cli.Context) error {
			cfg := serverConfig{
				SSHAddr: c.String("ssh-addr"), HTTPAddr: c.String("http-addr"),
				APIAddr: c.String("api-addr"), Domain: strings.ToLower(c.String("domain")),
				Dynos: dyno.Options{BootTimeout: c.Duration("boot-timeout"), StopGrace: c.Duration("stop-grace"),
					CycleAfter: c.Duration("cycle-after"), MemoryLimit: int64(c.Int("dyno-memory")) << 20},
				RouterIdle: c.Duration("router-idle-timeout"), RouterMaxConns: c.Int("router-max-conns"),
			}
			for _, d := range []struct {
				flag string
				v    time.Duration
			}{{"boot-timeout", cfg.Dynos.BootTimeout}, {"stop-grace", cfg.Dynos.StopGrace}, {"cycle-after", cfg.Dynos.CycleAfter}, {"router-idle-timeout", cfg.RouterIdle}} {
				if d.v <= 0 {
					return engine.Errorf(engine.EINVALID, "--%s must be a positive duration such as 30s or 2m.", d.flag)
				}
			}
			if c.Int("router-max-conns") < 0 {
				return engine.Errorf(engine.EINVALID, "--router-max-conns must be a positive number of connections.")
			}
			if c.Int("dyno-memory") < 16 {
				return engine.Errorf(engine.EINVALID, "--dyno-memory must be at least 16 (MiB).")
			}
			mode, err := dyno.ParseMode(c.String("isolation"))
			if err != nil {
				return engine.Errorf(engine.EINVALID, "--isolation must be auto, required or none.")
			}
			if mode == dyno.ModeProcessGroup && os.Geteuid() == 0 {
				return engine.Errorf(engine.EINVALID, "--isolation none is only allowed when the server does not run as root: app code would run as root. Use --isolation auto or required.")
			}
			cfg.Dynos.Isolate = mode
			return runServer(env, cfg)
		},
	}
}

type serverConfig struct {
	SSHAddr, HTTPAddr, APIAddr, Domain string
	// Dynos holds the dyno timings and limits from the flags.
	Dynos dyno.Options
	// RouterIdle closes idle client connections of the router;
	// RouterMaxConns caps them (0: a share of the open-files limit).
	RouterIdle     time.Duration
	RouterMaxConns int
}

// listen binds every address before anything else starts, so a busy
// port fails the start with a sentence naming the flag to change.
func listen(addrs map[string]string) (map[string]net.Listener, error) {
	ls := map[string]net.Listener{}
	for flag, addr := range addrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, o := range ls {
				o.Close()
			}
			return nil, engine.Errorf(engine.EINVALID, "Cannot listen on %s (%v): is another hako server running? Choose another address with --%s.", addr, err, flag)
		}
		ls[flag] = l
	}
	return ls, nil
}

func runServer(env *Env, cfg serverConfig) error {
	home, err := Home()
	if err != nil {
		return err
	}
	if err := prepareHome(home); err != nil {
		return err
	}
	st, err := store.Open(filepath.Join(home, "hako.db"))
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return engine.Errorf(engine.ECONFLICT, "Another hako server is using %s: stop it first, or set HAKO_HOME to another directory.", home)
		}
		return err
	}
	defer st.Close()
	ls, err := listen(map[string]string{"ssh-addr": cfg.SSHAddr, "http-addr": cfg.HTTPAddr, "api-addr": cfg.APIAddr})
	if err != nil {
		return err
	}
	files, err := raiseFileLimit()
	if err != nil {
		return fmt.Errorf("read the open-files limit: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the hako binary: %w", err)
	}
	builder, err := buildpacks.New(filepath.Join(home, "slugs"), filepath.Join(home, "tmp"))
	if err != nil {
		return err
	}
	builder.SharedCache = filepath.Join(home, "cache", "_shared")
	builder.InstalledDir = filepath.Join(home, "buildpacks")
	logger := log.New(env.Stderr, "", log.LstdFlags)
	limitListeners(ls, budgets(files, cfg.RouterMaxConns), logger.Printf)
	buf := &logs.Buffer{Mirror: env.Stdout}
	dopts := cfg.Dynos
	dopts.Exe, dopts.Logs = exe, buf
	sup := dyno.New(dopts)
	// Builds run buildpacks, code from the user and third parties: they
	// get the isolation dynos get.
	builder.Sandbox = sup
	rt := router.New(cfg.Domain, buf)
	httpPort := portOf(ls["http-addr"].Addr())
	appURL := func(app string) string { return fmt.Sprintf("http://%s.%s:%s/", app, cfg.Domain, httpPort) }
	sshAddr := ls["ssh-addr"].Addr().String()
	gitURL := func(app string) string { return fmt.Sprintf("ssh://git@%s/%s.git", sshAddr, app) }
	eng := &engine.Engine{
		Store: st, Builder: builder, Supervisor: sup, Routes: rt, Logs: buf, Drains: buf,
		Paths:    engine.Paths{Run: filepath.Join(home, "run"), Cache: filepath.Join(home, "cache"), Repos: filepath.Join(home, "repos"), Tmp: filepath.Join(home, "tmp"), Home: home},
		ParseKey: sshgit.ParseKey, AppURL: appURL, WaitUp: cfg.Dynos.BootTimeout, Domain: cfg.Domain,
		Version: serverVersion(), Started: time.Now().UTC(),
	}
	pg := postgres.New(filepath.Join(home, "addons", "postgres"), postgres.Options{Logf: logger.Printf})
	rd := redis.New(filepath.Join(home, "addons", "redis"), redis.Options{Logf: logger.Printf})
	eng.AddonProviders = map[string]engine.AddonProvider{pg.Service(): pg, rd.Service(): rd}
	sweepLeftovers(eng, logger)
	token, err := apiToken(home)
	if err != nil {
		return err
	}
	apiURL := "http://" + ls["api-addr"].Addr().String()
	apiSrv := &http.Server{Handler: (&api.Server{Engine: eng, Token: token, User: "admin", Logs: buf, WebURL: appURL, GitURL: gitURL, Logf: logger.Printf}).Handler(),
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
	// Slow headers and idle keep-alive connections are closed, as by
	// Heroku's router (30 s, 90 s); a connection that never sends a
	// request is idle too.
	routerSrv := &http.Server{Handler: rt, ReadHeaderTimeout: min(30*time.Second, cfg.RouterIdle), IdleTimeout: cfg.RouterIdle}
	sockPath := filepath.Join(home, "hook.sock")
	_ = os.Remove(sockPath)
	hookL, err := net.Listen("unix", sockPath)
	if err != nil {
		return fmt.Errorf("listen for git hooks: %w", err)
	}
	_ = os.Chmod(sockPath, 0o600)
	ssh := &sshgit.Server{
		Engine: eng, ReposDir: eng.Paths.Repos, HookSocket: sockPath, Exe: exe,
		HostKeyPath: filepath.Join(home, "ssh_host_ed25519_key"), Logf: logger.Printf,
		Commands: sshCommands(eng, apiURL, token),
	}
	// The router knows every app before it takes a request, so that a
	// restart answers 503 while dynos start, never "No such app".
	if err := eng.Prepare(); err != nil {
		return err
	}
	eng.RepoHeads, eng.Logf = ssh.Heads, logger.Printf
	errc := make(chan error, 4)
	go func() { errc <- ssh.Serve(ls["ssh-addr"]) }()
	go func() { errc <- ssh.ServeHooks(hookL) }()
	go func() { errc <- ignoreClosed(apiSrv.Serve(ls["api-addr"])) }()
	go func() { errc <- ignoreClosed(routerSrv.Serve(ls["http-addr"])) }()

	info := ServerInfo{APIURL: apiURL, Token: token, SSHAddr: sshAddr, HTTPAddr: ls["http-addr"].Addr().String(), Domain: cfg.Domain, PID: os.Getpid()}
	if err := writeJSONFile(filepath.Join(home, "server.json"), info); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(home, "server.json"))
	printBanner(env.Stdout, info, home, sup.Isolation(), httpPort)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancelStart := context.WithCancel(ctx)
	started := make(chan struct{})
	go func() {
		defer close(started)
		// Add-on servers come up first: dynos connect to them at boot.
		if err := eng.StartAddons(startCtx); err != nil {
			logger.Printf("add-ons: %v", err)
		}
		if err := eng.Restore(startCtx); err != nil {
			logger.Printf("restore: %v", err)
		}
	}()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	// The start-up ends before the shutdown begins, so that it starts no
	// dyno the shutdown would miss.
	cancelStart()
	<-started
	fmt.Fprintln(env.Stdout, "Stopping hako: stopping dynos...")
	_ = ssh.Close()
	_ = hookL.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = apiSrv.Shutdown(sctx)
	_ = routerSrv.Shutdown(sctx)
	eng.Shutdown()
	sup.StopAll()
	eng.StopAddons()
	buf.CloseDrains()
	return serveErr
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func portOf(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// prepareHome creates the data directory's layout. Dynos run as an
// unprivileged user and must reach their app directories, so the top and
// run/ are traversable (0711), not listable; the rest is the server's.
func prepareHome(home string) error {
	for _, d := range []string{"", "repos", "slugs", "tmp", "run", "cache", "buildpacks"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
	}
	for _, d := range []string{"", "run"} {
		if err := os.Chmod(filepath.Join(home, d), 0o711); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
	}
	return nil
}

// apiToken returns the admin token, generated on first start and kept in
// HAKO_HOME (mode 0600) so that clients keep working across restarts.
func apiToken(home string) (string, error) {
	path := filepath.Join(home, "api-token")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write API token: %w", err)
	}
	return tok, nil
}

// writeJSONFile writes v with mode 0600 through a rename, so a reader
// never sees half a file.
func writeJSONFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

func printBanner(w io.Writer, info ServerInfo, home, isolation, httpPort string) {
	host, port, _ := net.SplitHostPort(info.SSHAddr)
	fmt.Fprintf(w, "hako is running (data in %s)\n", home)
	fmt.Fprintf(w, "  ssh (git push, commands)  %s\n", info.SSHAddr)
	fmt.Fprintf(w, "  router (your apps)        http://APP.%s:%s/\n", info.Domain, httpPort)
	fmt.Fprintf(w, "  API                       %s\n", info.APIURL)
	fmt.Fprintf(w, "  isolation                 %s\n", isolation)
	fmt.Fprintln(w, "Next, in another terminal:")
	fmt.Fprintln(w, "  hako keys:add ~/.ssh/id_ed25519.pub")
	fmt.Fprintln(w, "  hako apps:create my-app")
	fmt.Fprintf(w, "  git push ssh://git@%s:%s/my-app.git main\n", host, port)
}
