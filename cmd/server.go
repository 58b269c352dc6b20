package cmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/addons/postgres"
	"hako/engine/api"
	"hako/engine/dyno"
	"hako/sshgit"
)

func serverCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "server",
		Usage: "run hako: the SSH git server, builds, dynos, the router and the API",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "ssh-addr", Value: "127.0.0.1:2222", Usage: "address of the SSH server (git push, commands)", EnvVars: []string{"HAKO_SSH_ADDR"}},
			&cli.StringFlag{Name: "http-addr", Value: "127.0.0.1:8080", Usage: "address of the router that serves the apps", EnvVars: []string{"HAKO_HTTP_ADDR"}},
			&cli.StringFlag{Name: "https-addr", Value: "127.0.0.1:8443", Usage: "address of the router's HTTPS side (certificates from hako's local CA, see hako ca:path)", EnvVars: []string{"HAKO_HTTPS_ADDR"}},
			&cli.StringFlag{Name: "rendezvous-addr", Value: "127.0.0.1:8082", Usage: "address (TLS) where the heroku CLI attaches to the one-off dynos of `heroku run`", EnvVars: []string{"HAKO_RENDEZVOUS_ADDR"}},
			&cli.StringFlag{Name: "api-addr", Value: "127.0.0.1:8081", Usage: "address of the HTTP API, plain HTTP and HTTPS on one port; also git over HTTPS", EnvVars: []string{"HAKO_API_ADDR"}},
			&cli.StringFlag{Name: "domain", Value: "localhost", Usage: "apps are served at APP.DOMAIN", EnvVars: []string{"HAKO_DOMAIN"}},
			&cli.DurationFlag{Name: "boot-timeout", Value: dyno.DefaultBootTimeout, Usage: "how long a web dyno has to bind $PORT before R10", EnvVars: []string{"HAKO_BOOT_TIMEOUT"}},
			&cli.DurationFlag{Name: "stop-grace", Value: dyno.DefaultStopGrace, Usage: "how long a stopping dyno has after SIGTERM before SIGKILL (R12)", EnvVars: []string{"HAKO_STOP_GRACE"}},
			&cli.DurationFlag{Name: "cycle-after", Value: 24 * time.Hour, Usage: "dynos are restarted after this long, plus a random 0-216 min", EnvVars: []string{"HAKO_CYCLE_AFTER"}},
			&cli.IntFlag{Name: "dyno-memory", Value: 512, Usage: "memory quota per dyno in MiB (R14 above it, R15 and a restart at twice it)", EnvVars: []string{"HAKO_DYNO_MEMORY"}},
			&cli.IntFlag{Name: "dyno-disk", Value: dyno.DefaultDiskLimit >> 20, Usage: "disk quota per dyno in MiB for /app's writes and /tmp together (ENOSPC past it); 0 turns it off", EnvVars: []string{"HAKO_DYNO_DISK"}},
			&cli.IntFlag{Name: "max-source", Value: engine.DefaultSourceBytes >> 20, Usage: "size in MiB an app's pushed or uploaded source may expand to", EnvVars: []string{"HAKO_MAX_SOURCE"}},
			&cli.IntFlag{Name: "max-source-files", Value: engine.DefaultSourceEntries, Usage: "files, directories and links an app's source may hold", EnvVars: []string{"HAKO_MAX_SOURCE_FILES"}},
			&cli.IntFlag{Name: "build-disk", Value: engine.DefaultBuildBytes >> 20, Usage: "size in MiB a build's directory may reach, and an unpacked slug", EnvVars: []string{"HAKO_BUILD_DISK"}},
			&cli.IntFlag{Name: "max-slug", Value: engine.DefaultSlugBytes >> 20, Usage: "size in MB of a compiled slug, compressed (Heroku: 500)", EnvVars: []string{"HAKO_MAX_SLUG"}},
			&cli.IntFlag{Name: "keep-slugs", Value: engine.DefaultKeepSlugs, Usage: "slugs of its latest succeeded releases each app keeps on disk (its current one's always); older ones are removed and can no longer be rolled back to", EnvVars: []string{"HAKO_KEEP_SLUGS"}},
			&cli.DurationFlag{Name: "build-timeout", Value: engine.DefaultBuildTime, Usage: "how long a build may run before it is stopped and the push refused", EnvVars: []string{"HAKO_BUILD_TIMEOUT"}},
			&cli.IntFlag{Name: "max-pg-backup", Value: postgres.MaxBackupBytes >> 20, Usage: "size in MiB a PostgreSQL dump may reach (a backup, a restore, pg:pull and pg:push), and the backups one database keeps together", EnvVars: []string{"HAKO_MAX_PG_BACKUP"}},
			&cli.IntFlag{Name: "max-repo", Value: engine.DefaultRepoBytes >> 20, Usage: "size in MiB an app's git repository may take on disk, all its branches and tags together", EnvVars: []string{"HAKO_MAX_REPO"}},
			&cli.IntFlag{Name: "max-apps-per-user", Value: engine.DefaultMaxAppsPerUser, Usage: "apps a member may own, review apps and CI apps included (administrators: no limit); 0 for no limit", EnvVars: []string{"HAKO_MAX_APPS_PER_USER"}},
			&cli.IntFlag{Name: "max-tails-per-user", Value: api.DefaultMaxTailsPerUser, Usage: "log tails (logs --tail, log sessions) a member may hold open at once (administrators: no limit); 0 for no limit", EnvVars: []string{"HAKO_MAX_TAILS_PER_USER"}},
			&cli.IntFlag{Name: "max-detached-per-user", Value: api.DefaultMaxDetachedPerUser, Usage: "detached one-off dynos (run:detached) a member may have running at once (administrators: no limit); 0 for no limit", EnvVars: []string{"HAKO_MAX_DETACHED_PER_USER"}},
			&cli.IntFlag{Name: "max-attached-per-user", Value: engine.DefaultMaxAttachedPerUser, Usage: "attached one-off dynos (run, heroku run, run over SSH) a member may have at once (administrators: no limit); 0 for no limit", EnvVars: []string{"HAKO_MAX_ATTACHED_PER_USER"}},
			&cli.DurationFlag{Name: "client-alive-interval", Value: sshgit.DefaultKeepaliveInterval, Usage: "how often a silent client is asked for an answer (SSH keepalives, TCP keepalives under every port); one silent for 3 in a row is cut off and its attached one-off dyno stopped", EnvVars: []string{"HAKO_CLIENT_ALIVE_INTERVAL"}},
			&cli.DurationFlag{Name: "ssh-unused-timeout", Value: sshgit.DefaultUnusedTimeout, Usage: "an SSH connection with no session open this long is closed (sshd's UnusedConnectionTimeout); a session however quiet keeps it", EnvVars: []string{"HAKO_SSH_UNUSED_TIMEOUT"}},
			&cli.IntFlag{Name: "ssh-max-sessions", Value: sshgit.DefaultMaxSessions, Usage: "sessions one SSH connection may hold open at once (sshd's MaxSessions); more are refused", EnvVars: []string{"HAKO_SSH_MAX_SESSIONS"}},
			&cli.IntFlag{Name: "ssh-max-startups-per-host", Value: sshgit.DefaultMaxStartupsPerHost, Usage: "SSH connections one remote host may have not yet logged in (sshd's PerSourceMaxStartups); more are closed at once (the server's own 127.0.0.1 and ::1: no limit)", EnvVars: []string{"HAKO_SSH_MAX_STARTUPS_PER_HOST"}},
			&cli.IntFlag{Name: "ssh-max-conns", Usage: "SSH connections held at once; more are closed at once (default: a share of the open-files limit)", EnvVars: []string{"HAKO_SSH_MAX_CONNS"}},
			&cli.DurationFlag{Name: "router-idle-timeout", Value: 90 * time.Second, Usage: "the router closes client connections idle this long", EnvVars: []string{"HAKO_ROUTER_IDLE_TIMEOUT"}},
			&cli.IntFlag{Name: "router-max-conns", Usage: "client connections the router holds at once; more get a 503 (default: a share of the open-files limit)", EnvVars: []string{"HAKO_ROUTER_MAX_CONNS"}},
			&cli.StringFlag{Name: "dyno-network", Value: "isolated", Usage: "isolated (each dyno and build step in its own network namespace, reaching only its add-ons and the outside) or host (the host's network)", EnvVars: []string{"HAKO_DYNO_NETWORK"}},
			&cli.StringFlag{Name: "resolv-conf", Value: dyno.DefaultResolvConf, Usage: "resolver configuration naming the host's nameservers; dynos and builds reach those on its loopback through hako's DNS relays", EnvVars: []string{"HAKO_RESOLV_CONF"}},
			&cli.StringFlag{Name: "dyno-subnet", Value: dyno.DefaultSubnet.String(), Usage: "private IPv4 subnet of the dynos' network; its first address is the host's", EnvVars: []string{"HAKO_DYNO_SUBNET"}},
			&cli.BoolFlag{Name: "warm-go", Value: true, Usage: "compile the Go standard library for the builds in the background at start, when Go is installed, so that the first Go build need not (false: the first Go build does it)", EnvVars: []string{"HAKO_WARM_GO"}},
			&cli.BoolFlag{Name: "ephemeral", Usage: "run on a new temporary HAKO_HOME and free ports (unless given), removing every trace when stopped; build caches stay in ~/.cache/hako", EnvVars: []string{"HAKO_EPHEMERAL"}},
			&cli.StringFlag{Name: "isolation", Value: "auto", Usage: "how dynos and builds are isolated: auto (fully when root, else as the server's user), required (fully or not at all) or none (not root only)", EnvVars: []string{"HAKO_ISOLATION"}},
		}, classroomFlags...),
		Action: func(c *cli.Context) error {
			cfg := serverConfig{
				SSHAddr: c.String("ssh-addr"), HTTPAddr: c.String("http-addr"), HTTPSAddr: c.String("https-addr"),
				RendezvousAddr: c.String("rendezvous-addr"),
				APIAddr:        c.String("api-addr"), Domain: strings.ToLower(c.String("domain")),
				Dynos: dyno.Options{BootTimeout: c.Duration("boot-timeout"), StopGrace: c.Duration("stop-grace"),
					CycleAfter: c.Duration("cycle-after"), MemoryLimit: int64(c.Int("dyno-memory")) << 20},
				RouterIdle: c.Duration("router-idle-timeout"), RouterMaxConns: c.Int("router-max-conns"),
				WarmGo: c.Bool("warm-go"), ClientAlive: c.Duration("client-alive-interval"),
				SSHUnused: c.Duration("ssh-unused-timeout"), SSHMaxSessions: c.Int("ssh-max-sessions"),
				SSHMaxStartupsPerHost: c.Int("ssh-max-startups-per-host"), SSHMaxConns: c.Int("ssh-max-conns"),
			}
			for _, d := range []struct {
				flag string
				v    time.Duration
			}{{"boot-timeout", cfg.Dynos.BootTimeout}, {"stop-grace", cfg.Dynos.StopGrace}, {"cycle-after", cfg.Dynos.CycleAfter}, {"router-idle-timeout", cfg.RouterIdle}, {"build-timeout", c.Duration("build-timeout")}, {"client-alive-interval", cfg.ClientAlive}, {"ssh-unused-timeout", cfg.SSHUnused}} {
				if d.v <= 0 {
					return engine.Errorf(engine.EINVALID, "--%s must be a positive duration such as 30s or 2m.", d.flag)
				}
			}
			for _, f := range []string{"router-max-conns", "ssh-max-conns"} {
				if c.Int(f) < 0 {
					return engine.Errorf(engine.EINVALID, "--%s must be a positive number of connections.", f)
				}
			}
			for _, f := range []string{"ssh-max-sessions", "ssh-max-startups-per-host"} {
				if c.Int(f) < 1 {
					return engine.Errorf(engine.EINVALID, "--%s must be a positive number.", f)
				}
			}
			if c.Int("dyno-memory") < 16 {
				return engine.Errorf(engine.EINVALID, "--dyno-memory must be at least 16 (MiB).")
			}
			switch disk := c.Int("dyno-disk"); {
			case disk == 0:
				cfg.Dynos.DiskLimit = -1
			case disk < 16:
				return engine.Errorf(engine.EINVALID, "--dyno-disk must be at least 16 (MiB), or 0 for no quota.")
			default:
				cfg.Dynos.DiskLimit = int64(disk) << 20
			}
			cfg.MaxPGBackup = int64(c.Int("max-pg-backup")) << 20
			for _, f := range []string{"max-source", "max-source-files", "build-disk", "max-slug", "max-repo", "max-pg-backup"} {
				if c.Int(f) < 1 {
					return engine.Errorf(engine.EINVALID, "--%s must be a positive number.", f)
				}
			}
			if k := c.Int("keep-slugs"); k < 1 || k > engine.MaxReleaseRecords {
				return engine.Errorf(engine.EINVALID, "--keep-slugs must be from 1 to %d (the release records kept per app).", engine.MaxReleaseRecords)
			}
			if cfg.MaxAppsPerUser = c.Int("max-apps-per-user"); cfg.MaxAppsPerUser < 0 {
				return engine.Errorf(engine.EINVALID, "--max-apps-per-user must be a number of apps, or 0 for no limit.")
			}
			if cfg.MaxAttachedPerUser = c.Int("max-attached-per-user"); cfg.MaxAttachedPerUser < 0 {
				return engine.Errorf(engine.EINVALID, "--max-attached-per-user must be a number of one-off dynos, or 0 for no limit.")
			}
			for _, f := range []struct {
				flag string
				v    *int
			}{{"max-tails-per-user", &cfg.MaxTailsPerUser}, {"max-detached-per-user", &cfg.MaxDetachedPerUser}} {
				switch *f.v = c.Int(f.flag); {
				case *f.v < 0:
					return engine.Errorf(engine.EINVALID, "--%s must be a number, or 0 for no limit.", f.flag)
				case *f.v == 0:
					*f.v = -1 // the API's "no bound"
				}
			}
			cfg.Limits = engine.BuildLimits{SourceBytes: int64(c.Int("max-source")) << 20, SourceEntries: c.Int("max-source-files"),
				BuildBytes: int64(c.Int("build-disk")) << 20, SlugBytes: int64(c.Int("max-slug")) << 20, RepoBytes: int64(c.Int("max-repo")) << 20,
				BuildTime: c.Duration("build-timeout"), KeepSlugs: c.Int("keep-slugs")}
			mode, err := dyno.ParseMode(c.String("isolation"))
			if err != nil {
				return engine.Errorf(engine.EINVALID, "--isolation must be auto, required or none.")
			}
			if mode == dyno.ModeProcessGroup && os.Geteuid() == 0 {
				return engine.Errorf(engine.EINVALID, "--isolation none is only allowed when the server does not run as root: app code would run as root. Use --isolation auto or required.")
			}
			cfg.Dynos.Isolate = mode
			if err := applyClassroom(c, &cfg, mode); err != nil {
				return err
			}
			if cfg.Dynos.Network, err = dyno.ParseNetworkMode(c.String("dyno-network")); err != nil {
				return engine.Errorf(engine.EINVALID, "--dyno-network must be isolated or host.")
			}
			if cfg.Dynos.Subnet, err = dyno.ParseSubnet(c.String("dyno-subnet")); err != nil {
				return engine.Errorf(engine.EINVALID, "--dyno-subnet: %v.", err)
			}
			cfg.Dynos.ResolvConf = c.String("resolv-conf")
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if c.Bool("ephemeral") {
				for flag, addr := range map[string]*string{"ssh-addr": &cfg.SSHAddr, "http-addr": &cfg.HTTPAddr, "https-addr": &cfg.HTTPSAddr,
					"rendezvous-addr": &cfg.RendezvousAddr, "api-addr": &cfg.APIAddr} {
					if !c.IsSet(flag) {
						*addr = "127.0.0.1:0"
					}
				}
				if !c.IsSet("dyno-subnet") {
					cfg.Dynos.Subnet = netip.Prefix{} // one no other server holds
				}
				return serveEphemeral(ctx, env, cfg)
			}
			home, err := Home()
			if err != nil {
				return err
			}
			srv, err := NewServer(env, home, cfg)
			if err != nil {
				return err
			}
			return srv.Run(ctx)
		},
	}
}

type serverConfig struct {
	SSHAddr, HTTPAddr, APIAddr, Domain string
	// HTTPSAddr is the router's TLS address; RendezvousAddr where the
	// heroku CLI attaches to one-off dynos.
	HTTPSAddr, RendezvousAddr string
	// Dynos holds the dyno timings and limits from the flags.
	Dynos dyno.Options
	// RouterIdle closes idle client connections of the router;
	// RouterMaxConns caps them (0: a share of the open-files limit).
	RouterIdle     time.Duration
	RouterMaxConns int
	// Limits bound each deploy's source, build and slug.
	Limits engine.BuildLimits
	// MaxAppsPerUser bounds the apps a member owns (0: no limit);
	// MaxAttachedPerUser their attached one-off dynos (0: no limit).
	MaxAppsPerUser, MaxAttachedPerUser int
	// MaxPGBackup bounds each PostgreSQL dump (postgres.Options).
	MaxPGBackup int64
	// MaxTailsPerUser and MaxDetachedPerUser bound a member's log tails
	// and detached one-off dynos (api.Server's, 0: the default, below 0:
	// no limit).
	MaxTailsPerUser, MaxDetachedPerUser int
	// WarmGo compiles the Go standard library for the builds at start.
	WarmGo bool
	// ClientAlive is how often silent clients are probed (SSH and TCP
	// keepalives, see keepalive.go); zero means the default.
	ClientAlive time.Duration
	// SSHUnused, SSHMaxSessions and SSHMaxStartupsPerHost bound what one
	// SSH client holds open (see sshgit/connlimits.go); SSHMaxConns caps
	// the SSH connections (0: a share of the open-files limit).
	SSHUnused                                          time.Duration
	SSHMaxSessions, SSHMaxStartupsPerHost, SSHMaxConns int
	// CacheDir, when set, holds the build caches instead of HAKO_HOME
	// (an ephemeral server's, which outlive it).
	CacheDir string
	// DNSAddr, when set, is where the DNS responder for the classroom
	// answers (see classroom.go).
	DNSAddr string
}

// listen binds every address before anything else starts, so a busy
// port fails the start with a sentence naming the flag to change.
// Their connections are probed by TCP keepalives as lc says (see
// keepalive.go).
func listen(lc net.ListenConfig, addrs map[string]string) (map[string]net.Listener, error) {
	ls := map[string]net.Listener{}
	for flag, addr := range addrs {
		var l net.Listener
		err := errors.New("no address given")
		// An empty address would listen on every interface.
		if addr != "" {
			l, err = lc.Listen(context.Background(), "tcp", addr)
		}
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

func portOf(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// apiToken returns the admin token, generated on first start and kept in
// HAKO_HOME (mode 0600, at path) so that clients keep working across
// restarts.
func apiToken(path string) (string, error) {
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
	if _, httpsPort, err := net.SplitHostPort(info.HTTPSAddr); err == nil {
		fmt.Fprintf(w, "  router over HTTPS         https://APP.%s:%s/\n", info.Domain, httpsPort)
	}
	fmt.Fprintf(w, "  API                       %s (and https://, git over HTTPS)\n", info.APIURL)
	fmt.Fprintf(w, "  dashboard                 http://%s.%s:%s/ (and %s/dashboard)\n", engine.DashboardName, info.Domain, httpPort, info.APIURL)
	if info.RendezvousAddr != "" {
		fmt.Fprintf(w, "  heroku run (rendezvous)   %s\n", info.RendezvousAddr)
	}
	if info.CAFile != "" {
		fmt.Fprintf(w, "  CA to trust for HTTPS     %s\n", info.CAFile)
	}
	fmt.Fprintf(w, "  isolation                 %s\n", isolation)
	fmt.Fprintln(w, "Next, in another terminal:")
	fmt.Fprintln(w, "  hako keys:add ~/.ssh/id_ed25519.pub")
	fmt.Fprintln(w, "  hako apps:create my-app")
	fmt.Fprintf(w, "  git push ssh://git@%s:%s/my-app.git main\n", host, port)
}
