package dyno

import (
	"crypto/rand"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"hako/engine"
)

// appDir is where an isolated dyno sees its slug, as on Heroku.
const appDir = "/app"

// footprint is what one process of an isolated dyno or build step holds
// on the host besides its processes: a scratch directory for its private
// root, a cgroup and a network address. (engine's SandboxSpec is another
// thing: the request for a build step.) Each process gets a fresh one, so a restart starts from the
// slug as released, and it is removed once the process is gone.
type footprint struct {
	root    rootConfig // root.Root is "" when it gets no private root
	scratch string     // "" when it has none
	cg      *cgroup    // nil when it has no limits
	net     *netLease  // its network namespace's address; nil when it shares the host's network
	netErr  error      // why it got no address though it should have
}

// sandboxSeq makes sandbox names unique within the server.
var sandboxSeq atomic.Int64

// newFootprint prepares what a new isolated process of spec needs. What
// cannot be prepared is recorded for Isolation and left out: the dyno
// then runs less isolated rather than not at all, unless the mode
// requires its private root.
func (s *Supervisor) newFootprint(spec engine.DynoSpec) *footprint {
	uid, gid := s.identity(spec.UID, spec.GID)
	b := &footprint{root: rootConfig{App: spec.Dir, UID: uid, GID: gid, Required: s.opts.Isolate == ModeNamespaces}}
	unique := sandboxName(os.Getpid(), sandboxSeq.Add(1))
	if s.rootable {
		// Dynos and build steps keep their scratch in one base directory,
		// Options.ScratchDir, given by the server from its layout.
		base := s.buildScratchBase()
		s.sweepScratch(base)
		if dir, err := makeScratch(filepath.Join(base, unique), uid, gid); err != nil {
			s.mu.Lock()
			if s.noRoot == "" {
				s.noRoot = err.Error()
			}
			s.mu.Unlock()
		} else {
			b.scratch = dir
			b.root.Root = filepath.Join(dir, "root")
			b.root.Upper = filepath.Join(dir, "upper")
			b.root.Work = filepath.Join(dir, "work")
			b.root.Binds = mountPlan(s.hostPath)
			b.root.Disk = s.makeDisk(dir)
		}
	}
	if s.net != nil {
		b.net, b.netErr = s.net.lease(spec.App, s.reachOf(spec.App))
	}
	if s.cgroups != nil && (s.opts.MemoryLimit > 0 || s.opts.PidsLimit > 0) {
		cg, err := s.cgroups.create(unique, 2*s.opts.MemoryLimit, s.opts.PidsLimit)
		if err != nil {
			s.warnLimits(err)
		} else {
			b.cg = cg
		}
	}
	return b
}

// makeDisk makes the disk of a process in its scratch directory dir and
// returns its path, or "" when disks are off or it could not be made
// (said once in the log and the banner).
func (s *Supervisor) makeDisk(dir string) string {
	if s.opts.DiskLimit <= 0 {
		return ""
	}
	img := filepath.Join(dir, diskImage)
	err := makeDiskImage(img, s.opts.DiskLimit)
	if err == nil {
		err = os.Mkdir(filepath.Join(dir, diskMount), 0o700)
	}
	if err != nil {
		_ = os.Remove(img)
		s.mu.Lock()
		first := s.noDisk == ""
		if first {
			s.noDisk = err.Error()
		}
		s.mu.Unlock()
		if first {
			log.Printf("dynos: warning: no disk quota for dynos: %v", err)
		}
		return ""
	}
	return img
}

// sandboxName names a process's scratch directory and cgroup: a random
// dyno id, never the app's name (which other host users would read in
// /sys/fs/cgroup and in /proc/PID/cgroup), unique across the processes
// of this server and those of any other server running at the same time,
// with the server's pid for sweepStale.
func sandboxName(pid int, seq int64) string {
	var id [8]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	return fmt.Sprintf("%x.%d.%d", id, pid, seq)
}

// makeScratch creates a process's scratch directory: upper (owned by the
// dyno's user, so that it can write in /app) and work for the overlay,
// and root, the mount point of its private root.
func makeScratch(dir string, uid, gid int) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", fmt.Errorf("create scratch directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("create scratch directory: %w", err)
	}
	for _, sub := range []string{"upper", "work", "root"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("create scratch directory: %w", err)
		}
	}
	if err := os.Chown(filepath.Join(dir, "upper"), uid, gid); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("give the scratch directory to uid %d: %w", uid, err)
	}
	return dir, nil
}

// finish records whether the kernel killed a process of the sandbox for
// memory, then removes it. The process must be gone.
func (b *footprint) finish() (oomKilled bool) {
	if b == nil {
		return false
	}
	if b.cg != nil {
		oomKilled = b.cg.oomKills() > 0
	}
	b.remove()
	return oomKilled
}

// remove deletes the sandbox's cgroup and scratch directory, discarding
// what the dyno wrote. It is safe on a nil sandbox.
func (b *footprint) remove() {
	if b == nil {
		return
	}
	if b.cg != nil {
		b.cg.remove()
	}
	b.net.release()
	b.net = nil
	if b.scratch != "" {
		_ = os.RemoveAll(b.scratch)
	}
}

// rootConfig is what the init of the sandbox's process needs.
func (b *footprint) rootConfig() rootConfig {
	if b == nil {
		return rootConfig{}
	}
	return b.root
}

// netOf is the sandbox's network lease, or nil.
func (b *footprint) netOf() *netLease {
	if b == nil {
		return nil
	}
	return b.net
}

// cgroupOf is the sandbox's cgroup, or nil.
func (b *footprint) cgroupOf() *cgroup {
	if b == nil {
		return nil
	}
	return b.cg
}

// sweepStale removes what servers that died without cleaning up (killed
// with SIGKILL, say) left in dir: the entries named by sandboxName whose
// server process is gone. remove is os.Remove for cgroups (which then go
// only once empty), os.RemoveAll for scratch directories.
func sweepStale(dir string, alive func(pid int) bool, remove func(string) error) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if pid, ok := sandboxOwner(e.Name()); ok && !alive(pid) {
			_ = remove(filepath.Join(dir, e.Name()))
		}
	}
}

// sandboxOwner extracts the server's pid from a sandbox name.
func sandboxOwner(name string) (int, bool) {
	f := strings.Split(name, ".")
	if len(f) < 3 {
		return 0, false
	}
	pid, err := strconv.Atoi(f[len(f)-2])
	if _, serr := strconv.Atoi(f[len(f)-1]); err != nil || serr != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// sweepScratch sweeps a scratch base directory, once per supervisor.
func (s *Supervisor) sweepScratch(base string) {
	if _, done := s.swept.LoadOrStore(base, true); !done {
		sweepStale(base, processAlive, os.RemoveAll)
	}
}
