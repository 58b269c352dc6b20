package dyno

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"hako/engine"
)

// isolatedCommand prepares an isolated build step (see Command): the
// Writable paths given to the app's user, a scratch mount point for its
// root, a cgroup, and the init's command line. What it prepared is
// removed again if it fails.
func (s *Supervisor) isolatedCommand(ctx context.Context, spec engine.SandboxSpec, mounts []bindMount) (*exec.Cmd, func(), error) {
	uid, gid := s.identity(spec.UID, spec.GID)
	for _, m := range mounts {
		if !m.Writable {
			continue
		}
		if err := chownTree(m.Path, uid, gid); err != nil {
			return nil, nil, fmt.Errorf("give %s to uid %d: %w", m.Path, uid, err)
		}
	}
	// An overlay's upper layer is where the step writes: its user's. The
	// work directory needs nothing: the kernel uses it with the rights of
	// the init that mounts it.
	for _, o := range spec.Overlays {
		if err := chownTree(o.Upper, uid, gid); err != nil {
			return nil, nil, fmt.Errorf("give %s to uid %d: %w", o.Upper, uid, err)
		}
	}
	unique := sandboxName(os.Getpid(), sandboxSeq.Add(1))
	base := s.buildScratchBase()
	s.sweepScratch(base)
	dir, err := makeBuildScratch(base, unique)
	if err != nil {
		return nil, nil, err
	}
	box := &footprint{scratch: dir}
	if s.net != nil {
		if box.net, err = s.net.lease(spec.App, s.reachOf(spec.App)); err != nil {
			box.remove()
			return nil, nil, err
		}
	}
	cfg := rootConfig{
		Root: dir, Binds: mountPlan(s.hostPath), Mounts: mounts, Overlays: spec.Overlays, UID: uid, GID: gid,
		Hostname: buildHostname, Dir: spec.Dir, Required: true, FileLimit: s.opts.BuildFileLimit,
	}
	if s.cgroups != nil && (s.opts.BuildMemoryLimit > 0 || s.opts.BuildPidsLimit > 0) {
		if cg, err := s.cgroups.create(unique, s.opts.BuildMemoryLimit, s.opts.BuildPidsLimit); err != nil {
			s.warnLimits(err)
		} else {
			box.cg = cg
			cfg.Cgroups = cg.dirs
		}
	}
	// The init is root: the step's environment (what buildpacks exported
	// included) reaches it only through conf, for the step's command.
	ic := initConfig{Argv: spec.Argv, Env: slices.Clone(spec.Env), Root: cfg, LifelineFD: 4}
	if box.net != nil {
		ic.Net = box.net.config(5)
	}
	conf, err := initConfigFile(ic)
	if err != nil {
		box.remove()
		return nil, nil, err
	}
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		conf.Close()
		box.remove()
		return nil, nil, fmt.Errorf("create the lifeline pipe: %w", err)
	}
	cmd := exec.CommandContext(ctx, s.opts.Exe, "dyno-init")
	cmd.Env = initEnviron()
	cmd.ExtraFiles = []*os.File{conf, lifeR} // fds 3 and 4
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Cloneflags: namespaceFlags}
	if box.net != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, s.net.hostNS) // fd 5
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWNET
	}
	// The kernel kills every process of a PID namespace whose init dies.
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	var once sync.Once
	done := func() {
		once.Do(func() {
			lifeW.Close() // ends an init still running, should there be one
			lifeR.Close()
			conf.Close()
			box.remove()
		})
	}
	return cmd, done, nil
}

// chownTree gives dir and everything under it to uid:gid, so that a build
// step running as that user can write there. The tree may hold what
// earlier steps wrote, links included, so it never follows a symbolic
// link, not even a directory swapped for one while it walks: it works
// through directory descriptors. Entries owned by uid:gid already are
// left alone, which makes walking a cache again cheap.
func chownTree(dir string, uid, gid int) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOTDIR) {
		return os.Chown(dir, uid, gid)
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return chownDir(fd, dir, uid, gid)
}

// chownDir chowns the directory open on fd (which it closes) and its
// contents; name is its path, for errors.
func chownDir(fd int, name string, uid, gid int) error {
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: name, Err: err}
	}
	if int(st.Uid) != uid || int(st.Gid) != gid {
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return &os.PathError{Op: "chown", Path: name, Err: err}
		}
	}
	entries, err := f.ReadDir(-1)
	if err != nil {
		return err
	}
	for _, e := range entries {
		path := name + "/" + e.Name()
		if e.IsDir() {
			sub, err := unix.Openat(fd, e.Name(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err == nil {
				if err := chownDir(sub, path, uid, gid); err != nil {
					return err
				}
				continue
			}
			if !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.ENOTDIR) && !errors.Is(err, unix.ENOENT) {
				return &os.PathError{Op: "open", Path: path, Err: err}
			}
			// Replaced meanwhile: treated as what it is now.
		}
		if err := unix.Fstatat(fd, e.Name(), &st, unix.AT_SYMLINK_NOFOLLOW); errors.Is(err, unix.ENOENT) {
			continue
		} else if err != nil {
			return &os.PathError{Op: "stat", Path: path, Err: err}
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR || int(st.Uid) == uid && int(st.Gid) == gid {
			continue // a directory here appeared just now: not ours to follow
		}
		if err := unix.Fchownat(fd, e.Name(), uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil && !errors.Is(err, unix.ENOENT) {
			return &os.PathError{Op: "chown", Path: path, Err: err}
		}
	}
	return nil
}
