package dyno

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cgroupMount is where the kernel's cgroup filesystems are mounted.
const cgroupMount = "/sys/fs/cgroup"

// cgroupRemoveTimeout bounds the wait for a dyno's cgroup to empty once
// its processes are reaped (the kernel lets go of them asynchronously).
const cgroupRemoveTimeout = 2 * time.Second

// cgroupHost is how this host offers cgroups: the unified v2 hierarchy, or
// v1 with one hierarchy per controller (including the hybrid layout, whose
// v2 hierarchy holds no controllers).
type cgroupHost struct {
	v2    bool
	mount string
	self  string // the server's own v2 cgroup, "/..."
}

// detectCgroups finds out which cgroup hierarchy to use, reading only.
func detectCgroups(mount string) (*cgroupHost, error) {
	if b, err := os.ReadFile(filepath.Join(mount, "cgroup.controllers")); err == nil {
		if !slices.Contains(strings.Fields(string(b)), "memory") {
			return nil, errors.New("the cgroup v2 hierarchy has no memory controller")
		}
		self, _ := os.ReadFile("/proc/self/cgroup")
		return &cgroupHost{v2: true, mount: mount, self: ownCgroupV2(string(self))}, nil
	}
	if _, err := os.Stat(filepath.Join(mount, "memory", "memory.limit_in_bytes")); err != nil {
		return nil, errors.New("no cgroup memory controller mounted at " + mount)
	}
	return &cgroupHost{mount: mount}, nil
}

// ownCgroupV2 extracts the v2 cgroup from the text of /proc/self/cgroup.
func ownCgroupV2(text string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok {
			return path
		}
	}
	return ""
}

// cgroupPaths says where the cgroup named unique goes. Under v2 these are
// candidates for its one directory, best first: a "hako" group at the top
// of the hierarchy (only the root group may hold processes and hand
// controllers down at once), then one under the server's own group, which
// works where the server was given a delegated subtree. Under v1 they are
// its memory and pids directories, both needed.
func cgroupPaths(mount string, v2 bool, self, unique string) []string {
	if !v2 {
		return []string{
			filepath.Join(mount, "memory", "hako", unique),
			filepath.Join(mount, "pids", "hako", unique),
		}
	}
	paths := []string{filepath.Join(mount, "hako", unique)}
	if self != "" && self != "/" {
		paths = append(paths, filepath.Join(mount, self, "hako", unique))
	}
	return paths
}

// sweep removes the empty cgroups that servers which died without
// cleaning up left behind.
func (h *cgroupHost) sweep() {
	parents := map[string]bool{}
	for _, dir := range cgroupPaths(h.mount, h.v2, h.self, "x") {
		parents[filepath.Dir(dir)] = true
	}
	for dir := range parents {
		sweepStale(dir, processAlive, os.Remove)
		_ = os.Remove(dir) // only once no dyno's cgroup is left in it
	}
}

// cgroup is the cgroup of one dyno process.
type cgroup struct {
	v2   bool
	dirs []string // every directory of it, to enter and to remove
	mem  string   // the directory with its memory files
}

// create makes the cgroup named unique with a hard memory limit of memMax
// bytes (for a dyno, twice its quota: Heroku kills a dyno there) and a
// pids limit; a limit <= 0 is left out.
func (h *cgroupHost) create(unique string, memMax int64, pids int) (cg *cgroup, err error) {
	// Another dyno's cgroup removal may take the "hako" parent away just
	// as this one is created: try again then.
	for range 3 {
		if cg, err = h.tryCreate(unique, memMax, pids); !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	return cg, err
}

func (h *cgroupHost) tryCreate(unique string, memMax int64, pids int) (*cgroup, error) {
	paths := cgroupPaths(h.mount, h.v2, h.self, unique)
	if !h.v2 {
		cg := &cgroup{dirs: paths, mem: paths[0]}
		if err := h.createV1(cg, memMax, pids); err != nil {
			cg.remove()
			return nil, err
		}
		return cg, nil
	}
	var err error
	for _, dir := range paths {
		cg := &cgroup{v2: true, dirs: []string{dir}, mem: dir}
		if err = createV2(dir, memMax, pids); err == nil {
			return cg, nil
		}
		cg.remove()
	}
	return nil, err
}

func (h *cgroupHost) createV1(cg *cgroup, memMax int64, pids int) error {
	for _, dir := range cg.dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create cgroup: %w", err)
		}
	}
	if memMax > 0 {
		if err := writeFile(cg.mem, "memory.limit_in_bytes", strconv.FormatInt(memMax, 10)); err != nil {
			return err
		}
		// No swap beyond the limit, where swap is accounted at all.
		_ = writeFile(cg.mem, "memory.memsw.limit_in_bytes", strconv.FormatInt(memMax, 10))
	}
	if pids > 0 {
		return writeFile(cg.dirs[1], "pids.max", strconv.Itoa(pids))
	}
	return nil
}

// createV2 makes dir with the memory and pids controllers handed down to
// it by its parent (a "hako" group) and grandparent.
func createV2(dir string, memMax int64, pids int) error {
	parent := filepath.Dir(dir)
	if err := enableControllers(filepath.Dir(parent)); err != nil {
		return err
	}
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create cgroup: %w", err)
	}
	if err := enableControllers(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	if memMax > 0 {
		if err := writeFile(dir, "memory.max", strconv.FormatInt(memMax, 10)); err != nil {
			return err
		}
		_ = writeFile(dir, "memory.swap.max", "0")
	}
	if pids > 0 {
		return writeFile(dir, "pids.max", strconv.Itoa(pids))
	}
	return nil
}

// enableControllers hands the memory and pids controllers (pids where
// there is one) down to the children of dir, unless it already does.
func enableControllers(dir string) error {
	have, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	avail, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	var add []string
	for _, c := range []string{"memory", "pids"} {
		if slices.Contains(strings.Fields(string(avail)), c) && !slices.Contains(strings.Fields(string(have)), c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	return writeFile(dir, "cgroup.subtree_control", strings.Join(add, " "))
}

func writeFile(dir, name, value string) error {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o644); err != nil {
		return fmt.Errorf("set cgroup %s: %w", name, err)
	}
	return nil
}

// enter moves process pid (with its threads) into the cgroup.
func (c *cgroup) enter(pid int) error {
	for _, dir := range c.dirs {
		if err := writeFile(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// usage is the memory the dyno's processes use, as Heroku counts it:
// resident anonymous memory plus swap, not the page cache.
func (c *cgroup) usage() int64 {
	if c.v2 {
		b, _ := os.ReadFile(filepath.Join(c.mem, "memory.swap.current"))
		swap, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return statField(c.mem, "memory.stat", "anon") + swap
	}
	return statField(c.mem, "memory.stat", "total_rss") + statField(c.mem, "memory.stat", "total_swap")
}

// oomKills counts the processes the kernel killed for hitting the limit.
func (c *cgroup) oomKills() int64 {
	if c.v2 {
		return statField(c.mem, "memory.events", "oom_kill")
	}
	return statField(c.mem, "memory.oom_control", "oom_kill")
}

// statField reads the value of key from a cgroup file of "key value" lines.
func statField(dir, file, key string) int64 {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// remove deletes the cgroup once the kernel has let go of its processes,
// and its "hako" parent when no other dyno's cgroup is left in it.
func (c *cgroup) remove() {
	deadline := time.Now().Add(cgroupRemoveTimeout)
	for _, dir := range c.dirs {
		for {
			err := os.Remove(dir)
			if err == nil || errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		_ = os.Remove(filepath.Dir(dir))
	}
}
