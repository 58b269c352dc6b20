package buildpacks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"hako/engine"
)

// The built-in Go pack's build cache (GOCACHE) is each app's own, so
// that no build can change what another app's build reads: a build
// script of any language could otherwise rewrite the cached fmt package
// and every Go app built after it would link the injected code.
//
// So that a new app does not compile the standard library again (most of
// a first build's time), the cache an isolated build sees is an overlay:
// a read-only lower layer holding the standard library, and the app's
// own layer above it, where everything the build writes lands. The lower
// layer is written by a trusted step only: lib/build-std.sh of the Go
// pack, which runs `go build -trimpath std` with the settings of
// bin/compile, in a sandbox, as the unprivileged user, with a clean
// environment and no app's files; the server then gives the result to
// root, read-only, and renames it into place. There is one such layer
// per toolchain (see goToolchainKey), filled by the first Go build that
// needs it.
//
// On the host, an app's layer is CACHE_DIR/go-build/upper (with the
// overlay's work directory beside it); in the build's root the overlay
// is mounted on CACHE_DIR/go-build, hiding both. Builds that are not
// isolated run as the server's user, which can write every app's files
// anyway: they share one writable cache, as there is nothing to keep
// them apart from.

// goCacheDir is the build cache's directory in an app's CACHE_DIR.
const goCacheDir = "go-build"

// layerTime is the modification time of the shared layer's files. Go
// trims cache entries unused for five days by their modification time,
// which it refreshes on use: the shared files cannot be refreshed (they
// are root's), and an old time would make every app's build remove them
// from its view (a whiteout in its own layer) and compile them again. A
// time in the future is never refreshed nor trimmed.
var layerTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// goCacheState is the Builder's knowledge of the shared layers.
type goCacheState struct {
	mu sync.Mutex // held while a layer is filled
	// toolchain and key cache goToolchainKey for the go binary it saw,
	// under keyMu (not mu: a build waiting for a fill says so).
	keyMu          sync.Mutex
	toolchain, key string
	// probed is set once build steps were seen mounting an overlay, or
	// failing to, which refused says.
	probed  bool
	refused string
	legacy  sync.Once // removes the caches of older versions
}

// isBuiltinGo reports whether p is the built-in Go pack.
func (b *Builder) isBuiltinGo(p *pack) bool {
	return p.dir == filepath.Join(b.packsDir, "go")
}

// goCache prepares the Go build cache of build s, whose packs include
// the built-in Go pack: it returns the directory the pack uses as
// GOCACHE (given as HAKO_GOCACHE) and the overlay the build's steps
// mount there, if any. What cannot be prepared costs time, never
// isolation: the build then uses a cache of its app alone.
func (b *Builder) goCache(s *step, base []string) (string, []engine.Overlay, error) {
	if b.SharedCache != "" {
		b.gocache.legacy.Do(func() {
			// A cache every build could write (hako before layers) must
			// never be read again.
			_ = removeAll(filepath.Join(b.SharedCache, "go-build"))
			_ = removeAll(filepath.Join(b.SharedCache, "go-mod"))
		})
	}
	dir := filepath.Join(s.cacheDir, goCacheDir)
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	if b.SharedCache != "" && (s.sandbox == nil || !s.sandbox.Isolated()) {
		shared := filepath.Join(b.SharedCache, "go-build-shared")
		return shared, nil, os.MkdirAll(shared, 0o755)
	}
	if err := makeLayerDirs(upper, work); err != nil {
		return "", nil, err
	}
	if b.SharedCache == "" {
		return upper, nil, nil
	}
	lower, err := b.goStdLayer(s, base)
	if err != nil {
		if s.ctx.Err() != nil {
			return "", nil, errCanceled
		}
		fmt.Fprintf(s.out, " !     The Go standard library could not be compiled for all apps (%v): this build compiles what it needs itself.\n", err)
		return upper, nil, nil
	}
	if why := b.overlaysRefused(s, lower); why != "" {
		if s.ctx.Err() != nil {
			return "", nil, errCanceled
		}
		fmt.Fprintf(s.out, " !     The Go standard library cannot be shared here (%s): this build compiles what it needs itself.\n", why)
		return upper, nil, nil
	}
	return dir, []engine.Overlay{{Path: dir, Lower: lower, Upper: upper, Work: work}}, nil
}

// WarmGo fills the shared layer of the Go standard library (see
// goStdLayer) and tries the overlay over it, as the first Go build of
// the server would: the server runs it in the background at its start,
// so that a newcomer's first push of a Go app finds the standard library
// compiled. A build that needs the layer meanwhile waits for this fill
// instead of starting its own. It does nothing when builds are not
// isolated (they share one cache then), when Go is not installed, or
// when the layer is there; a cancelled ctx stops the fill, which the
// next Go build then does.
func (b *Builder) WarmGo(ctx context.Context) error {
	if b.SharedCache == "" || b.Sandbox == nil || !b.Sandbox.Isolated() {
		return nil
	}
	base := buildEnv(b.hostEnv(), nil)
	if _, err := b.goToolchainKey(base); err != nil {
		return nil // no Go here
	}
	s := &step{ctx: ctx, sandbox: b.Sandbox, out: io.Discard, background: true}
	lower, err := b.goStdLayer(s, base)
	if err == nil {
		b.overlaysRefused(s, lower)
	}
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("compile the Go standard library: %w", err)
	}
	return nil
}

// overlaysRefused says why build steps cannot mount an overlay over
// lower, or "" when they can: the first Go build of the server tries it
// with a step that does nothing (a filesystem that cannot hold an
// overlay's upper layer, say, would otherwise fail every Go build).
func (b *Builder) overlaysRefused(s *step, lower string) string {
	b.gocache.mu.Lock()
	defer b.gocache.mu.Unlock()
	if b.gocache.probed {
		return b.gocache.refused
	}
	probe, err := os.MkdirTemp(b.SharedCache, ".probe-*")
	if err != nil {
		return err.Error()
	}
	defer removeAll(probe)
	mnt, upper, work := filepath.Join(probe, "mnt"), filepath.Join(probe, "upper"), filepath.Join(probe, "work")
	for _, d := range []string{mnt, upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err.Error()
		}
	}
	var output limitedBuffer
	output.max = 4096
	err = runCmd(s.ctx, s.sandbox, engine.SandboxSpec{
		Name: "overlay-probe", Argv: []string{"true"}, Env: []string{"PATH=" + defaultPath}, Dir: mnt,
		Writable: []string{mnt}, Overlays: []engine.Overlay{{Path: mnt, Lower: lower, Upper: upper, Work: work}},
	}, &output, &output)
	if s.ctx.Err() != nil {
		return "the build was canceled" // tried again by the next build
	}
	b.gocache.probed = true
	if err != nil {
		b.gocache.refused = err.Error()
		if msg := strings.TrimSpace(output.String()); msg != "" {
			b.gocache.refused = firstLine(msg)
		}
	}
	return b.gocache.refused
}

// makeLayerDirs creates an app's layer and the overlay's work directory.
// The layer gets Go's 256 cache subdirectories: those of the shared
// layer are root's, and the app's build could not add entries to them
// unless its own layer has them too (an overlay shows a directory with
// the attributes of its upper copy).
func makeLayerDirs(upper, work string) error {
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(upper, "ff")); err == nil {
		return nil
	}
	for i := 0; i < 256; i++ {
		if err := os.Mkdir(filepath.Join(upper, fmt.Sprintf("%02x", i)), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// goStdLayer returns the shared layer of the host's Go toolchain, filling
// it first if need be. base is the environment the builds start from.
func (b *Builder) goStdLayer(s *step, base []string) (string, error) {
	key, err := b.goToolchainKey(base)
	if err != nil {
		return "", err
	}
	root := filepath.Join(b.SharedCache, "go-std")
	layer := filepath.Join(root, key)
	if _, err := os.Stat(layer); err == nil {
		return layer, nil
	}
	if !b.gocache.mu.TryLock() {
		// The warm-up at the server's start (WarmGo), or another build,
		// is filling it: one fill is enough.
		fmt.Fprintln(s.out, "-----> Waiting for the Go standard library, being compiled once for every app's builds")
		b.gocache.mu.Lock()
	}
	defer b.gocache.mu.Unlock()
	if _, err := os.Stat(layer); err == nil {
		return layer, nil // filled by the fill this one waited for
	}
	// Closed to everyone but root: nobody outside a build's root reaches
	// the layer while it is being filled, nor afterwards.
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", err
	}
	if err := os.Chmod(root, 0o700); err != nil {
		return "", err
	}
	fill, err := os.MkdirTemp(root, ".fill-*")
	if err != nil {
		return "", err
	}
	defer removeAll(fill)
	cache, home := filepath.Join(fill, "cache"), filepath.Join(fill, "home")
	for _, d := range []string{cache, home} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", err
		}
	}
	fmt.Fprintln(s.out, "-----> Compiling the Go standard library, once for every app's builds to share")
	env := append(append([]string{}, base...), "HOME="+home, "STACK="+engine.Stack)
	pack := filepath.Join(b.packsDir, "go")
	spec := engine.SandboxSpec{
		Name: "go-std", Argv: []string{"sh", filepath.Join(pack, "lib", "build-std.sh"), cache},
		Env: env, Dir: fill, Writable: []string{fill}, ReadOnly: []string{pack},
	}
	if s.background {
		// The warm-up gives way to the builds and dynos of the moment:
		// at nice 19 it still takes a share of both cores from a one-off
		// or a push started beside it (twice the time of `hako run` in the
		// first seconds of a server); under SCHED_IDLE it runs only on
		// time nothing else wants.
		spec.Argv = append([]string{"nice", "-n", "19"}, spec.Argv...)
		if _, err := exec.LookPath("chrt"); err == nil {
			spec.Argv = append([]string{"chrt", "--idle", "0"}, spec.Argv...)
		}
	}
	var output limitedBuffer
	output.max = 4096
	if err := runCmd(s.ctx, s.sandbox, spec, &output, &output); err != nil {
		if msg := strings.TrimSpace(output.String()); msg != "" {
			err = fmt.Errorf("%w: %s", err, firstLine(msg))
		}
		return "", err
	}
	if err := sealLayer(cache); err != nil {
		return "", fmt.Errorf("seal the layer: %w", err)
	}
	if err := os.Rename(cache, layer); err != nil {
		return "", err
	}
	// Layers of earlier toolchains are no longer used.
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if e.Name() != key && e.Name() != filepath.Base(fill) {
			_ = removeAll(filepath.Join(root, e.Name()))
		}
	}
	return layer, nil
}

// sealLayer makes what the trusted step wrote in dir root's and
// read-only, dated layerTime, and removes anything that is neither a
// directory nor a regular file (Go's cache holds no other kind).
func sealLayer(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode()
		if !mode.IsDir() && !mode.IsRegular() {
			return os.Remove(p)
		}
		if err := os.Lchown(p, 0, 0); err != nil {
			return err
		}
		perm := mode.Perm()&^0o222 | 0o444
		if mode.IsDir() {
			perm = 0o755
		}
		if err := os.Chmod(p, perm); err != nil {
			return err
		}
		return os.Chtimes(p, layerTime, layerTime)
	})
}

// goToolchainKey names the shared layer of the Go toolchain that builds
// with environment env run: a hash of the go binary found in its PATH
// (path, size, time) and of env, so that a new toolchain, or other host
// Go settings, get a layer of their own. It is worked out again only when
// the binary changes.
func (b *Builder) goToolchainKey(env []string) (string, error) {
	m := envMap(env)
	path, err := lookPathIn("go", m["PATH"])
	if err != nil {
		return "", errors.New("go is not installed")
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	id := fmt.Sprintf("%s\x00%d\x00%d\x00%s", real, fi.Size(), fi.ModTime().UnixNano(), strings.Join(env, "\x00"))
	b.gocache.keyMu.Lock()
	defer b.gocache.keyMu.Unlock()
	if b.gocache.toolchain != id {
		sum := sha256.Sum256([]byte(id))
		b.gocache.toolchain, b.gocache.key = id, hex.EncodeToString(sum[:])[:16]
	}
	return b.gocache.key, nil
}

// lookPathIn finds an executable named name in the directories of path.
func lookPathIn(name, path string) (string, error) {
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// firstLine is the first line of s.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
