package buildpacks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"hako/engine"
)

// waitDelay bounds how long a step's output is still read after the step
// exits or is cancelled: a daemon it left behind must not hold the build.
const waitDelay = 5 * time.Second

// runCmd runs a build step: spec.Argv in spec.Dir with exactly spec.Env,
// its output going to stdout and stderr as it is written. With a sandbox
// the step runs isolated, seeing only the paths spec lists besides the
// system's; a failure to set that up is reported on stderr too, for the
// pusher. Without one it runs on the host (spec's paths mean nothing
// then), in a process group of its own so that cancelling ctx, or the
// step ending, kills everything it started.
func runCmd(ctx context.Context, sb Sandbox, spec engine.SandboxSpec, stdout, stderr io.Writer) error {
	if sb == nil {
		return runPlain(ctx, spec.Dir, spec.Env, stdout, stderr, spec.Argv[0], spec.Argv[1:]...)
	}
	cmd, done, err := sb.Command(ctx, spec)
	if err != nil {
		fmt.Fprintf(stderr, " !     The build step could not be isolated: %v\n", err)
		return err
	}
	defer done()
	cmd.Stdin = nil
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", spec.Name, err)
	}
	return cmd.Wait()
}

// runPlain runs name with args in dir with exactly env on the host, as the
// server's user.
func runPlain(ctx context.Context, dir string, env []string, stdout, stderr io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = nil
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return err
	}
	err := cmd.Wait()
	// Whatever the step left running in its group goes with it.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return err
}

// syncWriter serialises writes to the build output, which the builder and
// the steps' output copiers share.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// limitedBuffer keeps the first max bytes written to it and drops the
// rest, so a buildpack printing forever cannot exhaust memory.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.Len(); room > 0 {
		if len(p) > room {
			l.Buffer.Write(p[:room])
		} else {
			l.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// step is one build of an app: what every buildpack script gets.
type step struct {
	ctx      context.Context
	buildDir string
	cacheDir string
	envDir   string
	home     string // the steps' HOME
	env      []string
	out      io.Writer
	// sandbox, when set, runs every step; writable lists what its steps
	// may write: the build, cache and home directories.
	sandbox  Sandbox
	writable []string
	// uid and gid are the app's identity, which every isolated step runs
	// as; app its name, whose attached add-ons the steps may reach.
	uid, gid int
	app      string
	// overlays are mounted in every isolated step (the Go build cache).
	overlays []engine.Overlay
	// background is set for work nobody waits on yet (WarmGo), which
	// runs at the lowest CPU priority.
	background bool
}

// run runs a script of pack p (or a shell over one) in the build
// directory, which it may change along with the caches; the pack's own
// files and the config in the env dir are read-only.
func (s *step) run(name string, p *pack, stdout, stderr io.Writer, argv ...string) error {
	return runCmd(s.ctx, s.sandbox, engine.SandboxSpec{
		Name: name, Argv: argv, Env: s.env, Dir: s.buildDir,
		Writable: s.writable, ReadOnly: []string{p.dir, s.envDir}, UID: s.uid, GID: s.gid, Overlays: s.overlays, App: s.app,
	}, stdout, stderr)
}

// detect runs bin/detect BUILD_DIR. It reports whether the pack applies
// and the name it prints (the pack's directory name when it prints none).
func (s *step) detect(p *pack) (name string, ok bool, err error) {
	if p.builtin {
		if name, ok, known := detectBuiltin(p.spec, s.buildDir); known {
			return name, ok, nil
		}
	}
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = 4096, 4096
	err = s.run("detect", p, &stdout, &stderr, filepath.Join(p.dir, "bin", "detect"), s.buildDir)
	if err != nil {
		var exit *exec.ExitError
		// In a sandbox, 126 and 127 say that the script could not be run
		// at all: an error to show rather than a pack that does not apply.
		if errors.As(err, &exit) && s.ctx.Err() == nil &&
			(s.sandbox == nil || exit.ExitCode() != 126 && exit.ExitCode() != 127) {
			return "", false, nil
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" && s.ctx.Err() == nil {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return "", false, s.stepError(err)
	}
	name, _, _ = strings.Cut(strings.TrimSpace(stdout.String()), "\n")
	if name = strings.TrimSpace(name); name == "" {
		name = filepath.Base(p.dir)
	}
	return name, true, nil
}

// compile runs bin/compile BUILD_DIR CACHE_DIR ENV_DIR in BUILD_DIR with
// its output streamed to the pusher; for a test build, bin/test-compile
// instead when the pack has one, as Heroku CI does.
func (s *step) compile(p *pack, test bool) error {
	script := filepath.Join(p.dir, "bin", "compile")
	if test && p.has("test-compile") {
		script = filepath.Join(p.dir, "bin", "test-compile")
	} else if isBuiltinProcfile(p) {
		_, err := io.WriteString(s.out, procfileCompiled)
		return err
	}
	err := s.run("compile", p, s.out, s.out, script, s.buildDir, s.cacheDir, s.envDir)
	return s.stepError(err)
}

// loadExport sources the pack's export file, if it has one, and makes the
// variables it sets part of the environment of the packs after it, which
// is how multi-buildpack builds pass on tools (a PATH entry, a GOROOT).
func (s *step) loadExport(p *pack) error {
	export := filepath.Join(p.dir, "export")
	if fi, err := os.Stat(export); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	var stdout limitedBuffer
	stdout.max = 1 << 20
	err := s.run("export", p, &stdout, s.out, "sh", "-c", `. "$1" && env -0`, "sh", export)
	if err != nil {
		return s.stepError(err)
	}
	s.env = parseExportedEnv(stdout.Bytes(), s.env)
	return nil
}

// release runs bin/release BUILD_DIR and parses what it prints. A pack
// without bin/release declares nothing.
func (s *step) release(p *pack) (*releaseInfo, error) {
	script := filepath.Join(p.dir, "bin", "release")
	if isBuiltinProcfile(p) {
		return parseRelease(procfileRelease)
	}
	if _, err := os.Stat(script); err != nil {
		return parseRelease("")
	}
	var stdout limitedBuffer
	stdout.max = 1 << 20
	if err := s.run("release", p, &stdout, s.out, script, s.buildDir); err != nil {
		return nil, s.stepError(err)
	}
	return parseRelease(stdout.String())
}

// errCanceled is returned when the build's context ends mid-step.
var errCanceled = errors.New("build canceled")

// stepError turns a step's failure into errCanceled when the context
// ended, which is the real cause then.
func (s *step) stepError(err error) error {
	if err != nil && s.ctx.Err() != nil {
		return errCanceled
	}
	return err
}
