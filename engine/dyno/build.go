package dyno

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"hako/engine"
)

// The supervisor also runs the steps of builds, with the isolation dynos
// get: a build runs code the server did not write just as a dyno does.

// buildHostname is the hostname every build step sees, as on Heroku
// where a build runs on a dyno of its own rather than on the app's.
const buildHostname = "build"

// buildOnlyDirs are the paths a build's root makes its own, which no host
// path may be bound over: /tmp itself (paths under it are fine), and
// /proc, /dev and /sys with everything under them.
var buildOnlyDirs = []string{"/proc", "/dev", "/sys"}

// Isolated reports whether Command isolates build steps: exactly when
// dynos run in namespaces.
func (s *Supervisor) Isolated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isolated
}

// Command returns a command that runs one build step (see buildpacks.Sandbox).
// Isolated, the command is the server binary as a dyno's init ("Exe
// dyno-init") in new PID, mount, UTS and IPC namespaces: it builds a
// private root like a dyno's, without /app but with spec's paths bound at
// their own path, and hostname "build", then runs spec.Argv in spec.Dir as
// the dyno user with no_new_privs, in a cgroup with the build limits
// (BuildMemoryLimit, BuildPidsLimit). It refuses to run the step if the
// root cannot be built. The Writable paths are given to the dyno user
// here, recursively. Killing the init (which cancelling ctx does) kills
// every process of the step; done removes its scratch directory and
// cgroup. Without isolation the command is a plain one in a process group
// of its own, which cancelling ctx and done kill whole. Where the server
// refuses to run builds (see Refusal), so does Command.
func (s *Supervisor) Command(ctx context.Context, spec engine.SandboxSpec) (*exec.Cmd, func(), error) {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return nil, nil, fmt.Errorf("sandbox %s: no command to run", spec.Name)
	}
	if err := s.Refusal(); err != nil {
		return nil, nil, err
	}
	if !s.Isolated() {
		cmd := plainCommand(ctx, spec)
		return cmd, plainDone(cmd), nil
	}
	mounts, err := buildMounts(spec.Writable, spec.ReadOnly)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox %s: %w", spec.Name, err)
	}
	if err := checkOverlays(spec.Overlays); err != nil {
		return nil, nil, fmt.Errorf("sandbox %s: %w", spec.Name, err)
	}
	if spec.Dir != "" && !slices.ContainsFunc(mounts, func(m bindMount) bool { return within(filepath.Clean(spec.Dir), m.Path) }) {
		return nil, nil, fmt.Errorf("sandbox %s: its directory %s is not among the paths it can see", spec.Name, spec.Dir)
	}
	cmd, done, err := s.isolatedCommand(ctx, spec, mounts)
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox %s: %w", spec.Name, err)
	}
	return cmd, done, nil
}

// buildMounts plans the host paths a build step's root shows: each clean
// and absolute, once (writable if listed both ways), sorted so that a
// directory is bound before the paths under it, which are then bound over
// it with their own access.
func buildMounts(writable, readOnly []string) ([]bindMount, error) {
	access := map[string]bool{}
	for _, list := range []struct {
		paths    []string
		writable bool
	}{{writable, true}, {readOnly, false}} {
		for _, p := range list.paths {
			if !filepath.IsAbs(p) {
				return nil, fmt.Errorf("%q is not an absolute path", p)
			}
			p = filepath.Clean(p)
			if p == "/" || p == "/tmp" || slices.ContainsFunc(buildOnlyDirs, func(d string) bool { return within(p, d) }) {
				return nil, fmt.Errorf("%s cannot be bound into a build's root", p)
			}
			access[p] = access[p] || list.writable
		}
	}
	mounts := make([]bindMount, 0, len(access))
	for p, w := range access {
		mounts = append(mounts, bindMount{Path: p, Writable: w})
	}
	// A directory sorts before every path under it, as its prefix.
	slices.SortFunc(mounts, func(a, b bindMount) int { return strings.Compare(a.Path, b.Path) })
	return mounts, nil
}

// checkOverlays refuses overlays whose paths are not clean and absolute,
// or that would be mounted where a build's root has its own directories.
func checkOverlays(overlays []engine.Overlay) error {
	for _, o := range overlays {
		for _, p := range []string{o.Path, o.Lower, o.Upper, o.Work} {
			if !filepath.IsAbs(p) || filepath.Clean(p) != p {
				return fmt.Errorf("overlay path %q is not a clean absolute path", p)
			}
		}
		if o.Path == "/" || o.Path == "/tmp" || slices.ContainsFunc(buildOnlyDirs, func(d string) bool { return within(o.Path, d) }) {
			return fmt.Errorf("an overlay cannot be mounted on %s in a build's root", o.Path)
		}
	}
	return nil
}

// buildScratchBase is the directory holding the mount points of build
// steps' roots: empty directories on the host, as each root lives in its
// step's own mount namespace.
func (s *Supervisor) buildScratchBase() string {
	if s.opts.ScratchDir != "" {
		return s.opts.ScratchDir
	}
	return filepath.Join(os.TempDir(), "hako-builds")
}

// makeBuildScratch creates the mount point of a build step's root.
func makeBuildScratch(base, unique string) (string, error) {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", fmt.Errorf("create scratch directory: %w", err)
	}
	dir := filepath.Join(base, unique)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("create scratch directory: %w", err)
	}
	return dir, nil
}

// plainCommand is a build step without isolation, as the server's user:
// in a process group of its own, which cancelling ctx kills whole, and
// which its done kills too, for what the step left running. It has no
// Pdeathsig: that fires when the thread that started the step exits,
// which the caller does not control, and would kill steps at random.
func plainCommand(ctx context.Context, spec engine.SandboxSpec) *exec.Cmd {
	cmd := exec.CommandContext(ctx, spec.Argv[0], spec.Argv[1:]...)
	cmd.Env = spec.Env
	cmd.Dir = spec.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return cmd
}

// plainDone returns the done function of a plain command.
func plainDone(cmd *exec.Cmd) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			if cmd.Process != nil {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
		})
	}
}
