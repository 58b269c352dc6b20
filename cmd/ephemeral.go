package cmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"hako/engine"
	"hako/engine/dyno"
)

// An ephemeral server is one made for a single run (`hako ci`, `hako
// server --ephemeral`): its HAKO_HOME is a new temporary directory, it
// listens on free ports, and when it stops it leaves nothing behind:
// processes, add-on data, mounts, network namespaces and the home itself
// go. Only the build caches stay, in the user's cache directory (see
// cacheRoot), so that the next run on the machine builds warm.
type ephemeral struct {
	srv  *Server
	home string
	done chan error
	stop context.CancelFunc
}

// cacheRoot is where ephemeral servers keep the build caches between
// runs: $HAKO_CACHE_DIR, else hako in the user's cache directory
// ($XDG_CACHE_HOME or ~/.cache).
func cacheRoot() (string, error) {
	if d := os.Getenv("HAKO_CACHE_DIR"); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the cache directory (set HAKO_CACHE_DIR): %w", err)
	}
	return filepath.Join(d, "hako"), nil
}

// ephemeralConfig is the configuration of the embedded server of `hako
// ci`: the defaults of `hako server` on free ports, with the few settings
// a CI runner may need from the environment (HAKO_ISOLATION,
// HAKO_DYNO_NETWORK, HAKO_DYNO_SUBNET, HAKO_WARM_GO, HAKO_DYNO_MEMORY).
func ephemeralConfig() (serverConfig, error) {
	cfg := serverConfig{
		SSHAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", RendezvousAddr: "127.0.0.1:0",
		APIAddr: "127.0.0.1:0", Domain: "localhost",
		Dynos: dyno.Options{BootTimeout: dyno.DefaultBootTimeout, StopGrace: dyno.DefaultStopGrace,
			CycleAfter: 24 * time.Hour, MemoryLimit: 512 << 20},
		RouterIdle: 90 * time.Second, WarmGo: true,
	}
	var err error
	if cfg.Dynos.Isolate, err = dyno.ParseMode(envOr("HAKO_ISOLATION", "auto")); err != nil {
		return cfg, engine.Errorf(engine.EINVALID, "HAKO_ISOLATION must be auto, required or none.")
	}
	if cfg.Dynos.Isolate == dyno.ModeProcessGroup && os.Geteuid() == 0 {
		return cfg, engine.Errorf(engine.EINVALID, "HAKO_ISOLATION=none is only allowed when hako does not run as root: app code would run as root.")
	}
	if cfg.Dynos.Network, err = dyno.ParseNetworkMode(envOr("HAKO_DYNO_NETWORK", "isolated")); err != nil {
		return cfg, engine.Errorf(engine.EINVALID, "HAKO_DYNO_NETWORK must be isolated or host.")
	}
	if s := os.Getenv("HAKO_DYNO_SUBNET"); s != "" {
		if cfg.Dynos.Subnet, err = dyno.ParseSubnet(s); err != nil {
			return cfg, engine.Errorf(engine.EINVALID, "HAKO_DYNO_SUBNET: %v.", err)
		}
	}
	if s := os.Getenv("HAKO_WARM_GO"); s != "" {
		if cfg.WarmGo, err = strconv.ParseBool(s); err != nil {
			return cfg, engine.Errorf(engine.EINVALID, "HAKO_WARM_GO must be true or false.")
		}
	}
	if s := os.Getenv("HAKO_DYNO_MEMORY"); s != "" {
		mib, err := strconv.Atoi(s)
		if err != nil || mib < 16 {
			return cfg, engine.Errorf(engine.EINVALID, "HAKO_DYNO_MEMORY must be at least 16 (MiB).")
		}
		cfg.Dynos.MemoryLimit = int64(mib) << 20
	}
	if cfg.CacheDir, err = cacheRoot(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// startEphemeral starts a server on a new temporary home with cfg, its
// output (banner, dyno lines, log) going to out. The dyno subnet, unless
// cfg names one, is a /24 of 10.215.0.0/16 no other server holds.
func startEphemeral(out io.Writer, cfg serverConfig) (*ephemeral, error) {
	pick := !cfg.Dynos.Subnet.IsValid() && os.Geteuid() == 0 && cfg.Dynos.Network != dyno.NetworkHost
	for try := 0; ; try++ {
		if pick {
			subnet, err := dyno.ParseSubnet(fmt.Sprintf("10.215.%d.0/24", rand.IntN(256)))
			if err != nil {
				return nil, err
			}
			cfg.Dynos.Subnet = subnet
		}
		e, err := tryEphemeral(out, cfg)
		if err != nil {
			return nil, err
		}
		if !pick || try == 7 || e.srv.sup.Subnet() != "" || !strings.Contains(e.srv.sup.Isolation(), "used by another hako server") {
			e.run()
			return e, nil
		}
		// That subnet is another server's: another one.
		e.remove(e.srv.Shutdown(context.Background()))
	}
}

// tryEphemeral makes the home and the server, removing the home again
// if the server cannot be made.
func tryEphemeral(out io.Writer, cfg serverConfig) (*ephemeral, error) {
	home, err := os.MkdirTemp("", "hako-ephemeral-")
	if err != nil {
		return nil, fmt.Errorf("make a temporary home: %w", err)
	}
	e := &ephemeral{home: home, done: make(chan error, 1)}
	env := &Env{Stdout: out, Stderr: out}
	if e.srv, err = NewServer(env, home, cfg); err != nil {
		e.remove(nil)
		return nil, err
	}
	return e, nil
}

// run serves in the background until Close.
func (e *ephemeral) run() {
	ctx, stop := context.WithCancel(context.Background())
	e.stop = stop
	go func() { e.done <- e.srv.Run(ctx) }()
}

// Close stops the server, which stops its dynos and add-on servers and
// removes its network, then removes every file of its home and what its
// add-ons kept elsewhere. It returns the server's failure, if any.
func (e *ephemeral) Close() error {
	e.stop()
	var err error
	select {
	case err = <-e.done:
	case <-time.After(2 * time.Minute):
		err = errors.New("the server did not stop within 2 minutes")
	}
	return e.remove(err)
}

// remove deletes the home and the add-ons' places outside it.
func (e *ephemeral) remove(err error) error {
	return errors.Join(err, removeHome(e.home))
}

// removeHome removes a server's home once the server has stopped: first
// any mount left under it (a dyno's, were one left), then its files,
// then what PostgreSQL and Redis keep outside a home their user cannot
// reach (see the add-on packages: /var/lib/hako-postgres/TAG,
// /var/lib/hako-redis/TAG and a socket directory TMP/hako-postgres-TAG,
// TAG naming the provider's directory).
func removeHome(home string) error {
	unmountUnder(home)
	errs := os.RemoveAll(home)
	for service, base := range map[string]string{"postgres": "/var/lib/hako-postgres", "redis": "/var/lib/hako-redis"} {
		sum := sha256.Sum256([]byte(filepath.Join(home, "addons", service)))
		tag := hex.EncodeToString(sum[:8])
		errs = errors.Join(errs, os.RemoveAll(filepath.Join(base, tag)))
		if service == "postgres" {
			errs = errors.Join(errs, os.RemoveAll(filepath.Join(os.TempDir(), "hako-postgres-"+tag)))
		}
	}
	if errs != nil {
		return fmt.Errorf("remove the ephemeral server's files: %w", errs)
	}
	return nil
}

// serveEphemeral is `hako server --ephemeral`: an ephemeral server that
// serves until ctx ends (Ctrl-C) or it fails, for suites that drive hako
// themselves. Clients reach it with the HAKO_HOME it prints.
func serveEphemeral(ctx context.Context, env *Env, cfg serverConfig) error {
	var err error
	if cfg.CacheDir, err = cacheRoot(); err != nil {
		return err
	}
	sweptEphemeral(env.Stdout)
	e, err := startEphemeral(env.Stdout, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Ephemeral: HAKO_HOME=%s is removed, with every trace of the server, when it stops (build caches stay in %s)\n", e.home, cfg.CacheDir)
	select {
	case <-ctx.Done():
		err = e.Close()
	case err = <-e.done:
		// The server failed on its own: its home goes all the same.
		e.done <- err
		err = e.Close()
	}
	if err == nil {
		fmt.Fprintf(env.Stdout, "Removed %s\n", e.home)
	}
	return err
}

// sweptEphemeral removes the homes killed ephemeral servers left in the
// temporary directory, saying so on out.
func sweptEphemeral(out io.Writer) {
	for _, home := range sweepEphemeral(os.TempDir()) {
		fmt.Fprintf(out, "Removed %s, left by an ephemeral server that was killed\n", home)
	}
}
