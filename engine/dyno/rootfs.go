package dyno

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"hako/engine"
)

// rootConfig is what an isolated dyno's init needs to build its private
// root; the supervisor hands it over in the init's initConfig.
type rootConfig struct {
	Root  string   `json:"root,omitempty"`  // mount point of the new root; "" for none
	App   string   `json:"app"`             // the slug: /app's lower layer
	Upper string   `json:"upper,omitempty"` // the overlay's private upper and work dirs
	Work  string   `json:"work,omitempty"`
	Binds []string `json:"binds,omitempty"` // host dirs bound read-only at the same path
	// Disk is the process's disk image (see disk.go), holding /app's
	// writable layer and /tmp; "" for none (a tmpfs /tmp, Upper on the
	// host's disk).
	Disk string `json:"disk,omitempty"`
	UID  int    `json:"uid"` // who the command runs as
	GID  int    `json:"gid"`

	// The rest is for builds, whose root has no /app (App is "").
	Mounts []bindMount `json:"mounts,omitempty"` // host paths bound at the same path, after Binds
	// Overlays are mounted after Mounts (see engine.Overlay).
	Overlays  []engine.Overlay `json:"overlays,omitempty"`
	Hostname  string           `json:"hostname,omitempty"`   // "" for $DYNO
	Dir       string           `json:"dir,omitempty"`        // where the command starts; "" for /app
	Cgroups   []string         `json:"cgroups,omitempty"`    // cgroup directories the init enters itself
	FileLimit int64            `json:"file_limit,omitempty"` // RLIMIT_FSIZE of the command, 0 for none
	// TTY is the host path of a one-off dyno's terminal (/dev/pts/N),
	// shown at the same path so that ttyname(3) and `tty` find it.
	TTY string `json:"tty,omitempty"`
	// Required makes the init refuse to run the command without its
	// private root, rather than fall back to the host's root as a dyno
	// may: a build step always, a dyno under --isolation required.
	Required bool `json:"required,omitempty"`
}

// bindMount is a host path a build's root shows at the same path.
type bindMount struct {
	Path     string `json:"path"`
	Writable bool   `json:"writable,omitempty"`
}

// systemDirs are the host directories a dyno's root shows, read-only,
// where they exist: the programs and libraries of the stack (/usr/local
// is covered by /usr) and its configuration.
var systemDirs = []string{"/bin", "/sbin", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"}

// privateDirs are the paths of a dyno's root that are its own, never the
// host's.
var privateDirs = []string{appDir, "/tmp", "/proc", "/dev", "/sys"}

// mountPlan lists the host directories to bind read-only into a dyno's
// root for the server's PATH: the system directories, then every PATH
// directory outside them, so that the tools the server offers dynos (a
// toolchain in root's home, say) are there at the same path. A "shims"
// directory brings its parent: version managers' shims (pyenv, rbenv,
// asdf...) only run with the rest of their tree. Nested directories are
// bound once, through the outermost.
//
// The directory that /etc/resolv.conf leads to comes too when it lies
// outside them (a symlink into /run, as systemd-resolved and others
// make it), or dynos would have no DNS.
func mountPlan(pathList string) []string {
	return planBinds(pathList, resolverDir("/etc/resolv.conf"))
}

// resolverDir returns the directory the resolver configuration at path
// really lives in, when a symlink leads it out of /etc, else "".
func resolverDir(path string) string {
	real, err := filepath.EvalSymlinks(path)
	if err != nil || within(real, "/etc") {
		return ""
	}
	return filepath.Dir(real)
}

// planBinds is mountPlan for a given PATH and extra directories.
func planBinds(pathList string, extra ...string) []string {
	plan := slices.Clone(systemDirs)
	dirs := filepath.SplitList(pathList)
	for _, e := range extra {
		if e != "" {
			dirs = append(dirs, e)
		}
	}
	for _, dir := range dirs {
		if !filepath.IsAbs(dir) {
			continue // relative entries mean nothing in another root
		}
		dir = filepath.Clean(dir)
		if filepath.Base(dir) == "shims" {
			dir = filepath.Dir(dir)
		}
		if dir == "/" || slices.ContainsFunc(privateDirs, func(p string) bool { return within(dir, p) }) {
			continue
		}
		if slices.ContainsFunc(plan, func(p string) bool { return within(dir, p) }) {
			continue
		}
		plan = slices.DeleteFunc(plan, func(p string) bool { return within(p, dir) && !slices.Contains(systemDirs, p) })
		plan = append(plan, dir)
	}
	return plan
}

// within reports whether path is dir or lies under it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// privateRootUnavailable says why isolated dynos cannot get a private
// root on this host, or "" when they can: the overlay that makes /app
// writable needs overlayfs.
func privateRootUnavailable() string {
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return "cannot tell whether the kernel has overlayfs: " + err.Error()
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == "overlay" {
			return ""
		}
	}
	return "the kernel has no overlayfs"
}

// overlayEscape escapes a path for overlayfs's option string, in which
// commas separate options and colons separate lower layers.
func overlayEscape(path string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`, `:`, `\:`).Replace(path)
}
