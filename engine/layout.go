package engine

import (
	"fmt"
	"os"
	"path/filepath"
)

// Layout names every path under HAKO_HOME, so that the server, the
// engine, the builder and the supervisor agree on them from one place
// rather than each joining names of its own. Every path the engine builds
// from user input below these passes ValidateAppName first.
//
// A field left empty (as in tests that build an Engine by hand) turns off
// what uses it: the engine then neither reads nor removes anything there.
type Layout struct {
	// Home is HAKO_HOME itself, whose total size Status reports.
	Home string
	// DB is the store (bbolt), opened by one server at a time.
	DB string
	// Repos holds each app's bare git repository (REPOS/APP.git); the
	// engine only removes it with the app.
	Repos string
	// Slugs holds the builder's slugs, tar.gz files named by their sha256.
	Slugs string
	// Run holds the unpacked slugs of each app (RUN/APP/SLUG), shared by
	// the dynos of every release with that slug (see unpacked.go).
	Run string
	// Scratch holds, for each process of an isolated dyno or build step,
	// a directory of the supervisor's (overlay layers, the mount point of
	// its private root), removed when the process is gone. It lies in Run,
	// under a name the engine's sweep of Run leaves to the supervisor.
	Scratch string
	// Cache holds each app's build cache (CACHE/APP), kept between builds.
	Cache string
	// SharedCache is what the builder shares between apps' builds.
	SharedCache string
	// Buildpacks holds the third-party buildpacks the operator installed.
	Buildpacks string
	// Addons holds the add-on servers' data, a directory per kind
	// (postgres, redis).
	Addons string
	// Builds holds the output of each app's builds
	// (BUILDS/APP_ID/BUILD_ID.log), kept with their records.
	Builds string
	// Sources holds the uploads of POST /sources (SOURCES/ID.tgz), kept
	// with their records until they expire.
	Sources string
	// Tmp is the builder's scratch directory, swept at start; its path
	// also tags the engine's temporary directories elsewhere as this
	// home's (see Sweep).
	Tmp string
	// HookSocket is the unix socket git's hooks call the server on.
	HookSocket string
	// HostKey is the SSH server's host key.
	HostKey string
	// ServerInfo is server.json: where a running server listens, for the
	// clients on this machine.
	ServerInfo string
	// APIToken holds the admin token of the API, kept across restarts.
	APIToken string
}

// NewLayout returns the layout of the data directory home.
func NewLayout(home string) Layout {
	at := func(name ...string) string { return filepath.Join(append([]string{home}, name...)...) }
	return Layout{
		Home: home, DB: at("hako.db"),
		Repos: at("repos"), Slugs: at("slugs"), Run: at("run"), Scratch: at("run", ".dynos"),
		Cache: at("cache"), SharedCache: at("cache", "_shared"), Buildpacks: at("buildpacks"),
		Addons: at("addons"), Tmp: at("tmp"), Builds: at("builds"), Sources: at("sources"),
		HookSocket: at("hook.sock"), HostKey: at("ssh_host_ed25519_key"),
		ServerInfo: at("server.json"), APIToken: at("api-token"),
	}
}

// AppRepo is app's bare git repository; "" when the layout has no Repos.
func (l Layout) AppRepo(app string) string { return under(l.Repos, app+".git") }

// AppRun holds app's unpacked slugs (AppRun/SLUG); "" when the layout has
// no Run.
func (l Layout) AppRun(app string) string { return under(l.Run, app) }

// AppCache is app's build cache; "" when the layout has no Cache.
func (l Layout) AppCache(app string) string { return under(l.Cache, app) }

// AppBuilds holds the output of the builds of the app with id appID; ""
// when the layout has no Builds.
func (l Layout) AppBuilds(appID string) string {
	if appID == "" || filepath.Base(appID) != appID || appID[0] == '.' {
		return ""
	}
	return under(l.Builds, appID)
}

// under joins name to dir, or returns "" for no dir: never a path
// relative to wherever the server happens to run.
func under(dir, name string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, name)
}

// Create makes the directories of the layout that must exist before the
// server starts. Dynos run as unprivileged users and must reach their app
// directories, so Home and Run are traversable (0711), not listable; the
// rest is the server's alone.
func (l Layout) Create() error {
	for _, d := range []string{l.Home, l.Repos, l.Slugs, l.Tmp, l.Run, l.Cache, l.Buildpacks, l.Builds, l.Sources} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
	}
	for _, d := range []string{l.Home, l.Run} {
		if err := os.Chmod(d, 0o711); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
	}
	return nil
}
