package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hako/engine"

	"hako/engine/addons/localproc"
	"hako/engine/userfs"
)

// fallbackBase holds the clusters whose provider directory the
// unprivileged user cannot reach. hako's home defaults to ~/.hako, and
// root's home is mode 0700 on most systems, so a server running as root
// with the default home needs it. /var/lib is where system services keep
// their state, is searchable by every user, and is not among the host
// directories a dyno's private root shows.
const fallbackBase = "/var/lib/hako-postgres"

// maxSocketPath is the longest path a Unix socket can have on Linux
// (sun_path holds 108 bytes with the terminating NUL).
const maxSocketPath = 107

// layout says where the cluster's pieces live.
type layout struct {
	dir  string // the provider's directory: hako's own files (port, password)
	home string // holds data and socket; searchable by the user
	data string // the data directory, owned by the user, 0700
	sock string // the directory of the server's Unix socket
	log  string // the server's output, in the provider's directory
	port int

	// asUser is set when hako is root: the PostgreSQL programs then run
	// as uid and gid.
	asUser   bool
	uid, gid int
}

// prepare decides the layout on first use and makes its directories.
// A cluster already made keeps its place: an existing dir/data (a
// directory, or a link to the fallback place) wins over the reachability
// test, so that a permission change cannot hide a cluster behind a new
// empty one.
func (p *Provider) prepare(portHint int) error {
	if p.lay != nil {
		return nil
	}
	dir, err := filepath.Abs(p.dir)
	if err != nil {
		return fmt.Errorf("postgres: resolving %s: %w", p.dir, err)
	}
	l := &layout{dir: dir, log: filepath.Join(dir, "postgres.log"), uid: os.Getuid(), gid: os.Getgid()}
	if os.Geteuid() == 0 {
		l.asUser, l.uid, l.gid = true, p.opts.User, p.opts.Group
	}
	// Directories made here are searchable so that they do not by
	// themselves keep the user from the cluster; none is listable.
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("postgres: creating %s: %w", dir, err)
	}
	tag := dirTag(dir)
	link := filepath.Join(dir, "data")
	fi, err := os.Lstat(link)
	switch {
	case err == nil && fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(link)
		if err != nil || !filepath.IsAbs(target) {
			return fmt.Errorf("postgres: %s should link to the cluster's data directory: %v", link, err)
		}
		l.home = filepath.Dir(target)
	case err == nil:
		l.home = dir
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("postgres: %w", err)
	case !l.asUser || userfs.Searchable(filepath.Dir(dir), l.uid, l.gid) == nil && len(filepath.Join(dir, "socket"))+15 <= maxSocketPath:
		l.home = dir
	default:
		l.home = filepath.Join(fallbackBase, tag)
		if err := os.MkdirAll(l.home, 0o711); err != nil {
			return fmt.Errorf("postgres: creating %s: %w", l.home, err)
		}
		if err := os.Chmod(fallbackBase, 0o711); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if err := os.Symlink(filepath.Join(l.home, "data"), link); err != nil {
			return fmt.Errorf("postgres: recording the cluster's place: %w", err)
		}
		p.opts.Logf("postgres: %s is not reachable by uid %d, keeping the cluster in %s", dir, l.uid, l.home)
	}
	l.data = filepath.Join(l.home, "data")
	l.sock = filepath.Join(l.home, "socket")
	if len(l.sock)+15 > maxSocketPath {
		l.sock = filepath.Join(os.TempDir(), "hako-postgres-"+tag)
	}
	if l.asUser {
		// Search permission only: the user must pass through home to reach
		// its own directories inside, and needs nothing else there.
		if fi, err := os.Stat(l.home); err != nil {
			return fmt.Errorf("postgres: %w", err)
		} else if err := os.Chmod(l.home, fi.Mode().Perm()|0o011); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if err := userfs.Searchable(l.home, l.uid, l.gid); err != nil {
			return engine.Errorf(engine.EINVALID, "PostgreSQL cannot run: %v, and the server runs as uid %d. Make that directory searchable (chmod o+x) or move hako's home elsewhere.", err, l.uid)
		}
	}
	for _, d := range []string{l.data, l.sock} {
		if err := l.ownedDir(d); err != nil {
			return err
		}
	}
	if err := p.pickPort(l, dir, portHint); err != nil {
		return err
	}
	p.lay = l
	return nil
}

// dirTag names the fallback place of the cluster of the provider
// directory dir (absolute), so that two hako servers on one machine do not
// share a cluster.
func dirTag(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return hex.EncodeToString(sum[:8])
}

// ownedDir makes d (mode 0700) and gives it to the user. A directory that
// already exists must be the user's or hako's, since the socket directory
// may sit in the world-writable temporary directory; one of a cluster
// made when the servers ran as nobody is handed, whole, to the user.
func (l *layout) ownedDir(d string) error {
	if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("postgres: creating %s: %w", d, err)
	}
	fi, err := os.Lstat(d)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && fi.IsDir() && l.asUser && int(st.Uid) == legacyUID && l.uid != legacyUID {
		if err := localproc.ChownTree(d, l.uid, l.gid); err != nil {
			return fmt.Errorf("postgres: giving %s to uid %d: %w", d, l.uid, err)
		}
		st.Uid = uint32(l.uid)
	}
	if !fi.IsDir() || !ok || int(st.Uid) != l.uid && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("postgres: %s is not a directory owned by uid %d", d, l.uid)
	}
	if l.asUser {
		if err := os.Chown(d, l.uid, l.gid); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	if err := os.Chmod(d, 0o700); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// pickPort sets l.port: the configured one, else the one kept in
// dir/port, else hint (the port existing add-ons were given), else a
// free one, which is then kept.
func (p *Provider) pickPort(l *layout, dir string, hint int) error {
	if p.opts.Port > 0 {
		l.port = p.opts.Port
		return nil
	}
	file := filepath.Join(dir, "port")
	if b, err := os.ReadFile(file); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 && n < 65536 {
			l.port = n
			return nil
		}
	}
	if hint == 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("postgres: finding a free port: %w", err)
		}
		hint = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	if err := os.WriteFile(file, []byte(strconv.Itoa(hint)+"\n"), 0o644); err != nil {
		return fmt.Errorf("postgres: keeping the port: %w", err)
	}
	l.port = hint
	return nil
}

// programs are the PostgreSQL programs used, all from one installation.
type programs struct {
	initdb, postgres, psql, isready string
}

// findPrograms looks for PostgreSQL's programs in PATH, then in the
// newest of Debian's versioned directories, which are not in PATH
// (Debian puts only wrappers of the client programs there).
func findPrograms() (*programs, error) {
	bin := ""
	if pg, err := exec.LookPath("postgres"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			if real, err := filepath.EvalSymlinks(pg); err == nil {
				pg = real
			}
			bin = filepath.Dir(pg)
		}
	}
	if bin == "" {
		dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		best := -1.0
		for _, d := range dirs {
			v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
			if err == nil && v > best && isFile(filepath.Join(d, "postgres")) && isFile(filepath.Join(d, "initdb")) {
				best, bin = v, d
			}
		}
	}
	if bin == "" {
		return nil, notInstalled()
	}
	// Prefer the client programs next to the server, so that they match
	// its version; fall back to PATH for installations that split them.
	find := func(name string) string {
		if f := filepath.Join(bin, name); isFile(f) {
			return f
		}
		if f, err := exec.LookPath(name); err == nil {
			return f
		}
		return ""
	}
	ps := &programs{initdb: find("initdb"), postgres: find("postgres"), psql: find("psql"), isready: find("pg_isready")}
	if slices.Contains([]string{ps.initdb, ps.postgres, ps.psql, ps.isready}, "") {
		return nil, notInstalled()
	}
	return ps, nil
}

func notInstalled() error {
	return engine.Errorf(engine.EINVALID, "PostgreSQL is not installed on this machine: install it (Debian: apt-get install postgresql) to use heroku-postgresql.")
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// command returns a PostgreSQL program run as the cluster's user, with a
// small environment of its own: hako's PG* variables must not redirect
// it, and hako's other variables are none of its business.
func (p *Provider) command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + p.lay.sock}
	cmd.Dir = p.lay.sock
	cmd.SysProcAttr = userAttr(p.lay)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// psql runs sql as the superuser over the Unix socket, stopping at the
// first error.
func (p *Provider) psql(ctx context.Context, sql string) error {
	pw, err := p.superPassword()
	if err != nil {
		return err
	}
	cmd := p.command(ctx, p.progs.psql, "-h", p.lay.sock, "-p", strconv.Itoa(p.lay.port),
		"-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-X", "-q", "-w")
	cmd.Env = append(cmd.Env, "PGPASSWORD="+pw)
	cmd.Stdin = strings.NewReader(sql)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("psql: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// initdb makes the cluster when dir has none. Every connection, over the
// socket (which only the user can open) or TCP, needs a role's password;
// the superuser's is hako's (see superPassword).
func (p *Provider) initdb(ctx context.Context) error {
	if isFile(filepath.Join(p.lay.data, "PG_VERSION")) {
		return nil
	}
	if p.lay.asUser {
		// initdb refuses to run as a uid the host has no name for.
		if err := userfs.EnsureAccount(p.lay.uid, addonAccount); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	pw, err := p.superPassword()
	if err != nil {
		return err
	}
	pwfile, removePwfile, err := p.pwfile(pw)
	if err != nil {
		return err
	}
	defer removePwfile()
	base := []string{"-D", p.lay.data, "-U", "postgres", "--pwfile=" + pwfile,
		"--auth-local=" + authMethod, "--auth-host=" + authMethod, "-E", "UTF8"}
	var errs []error
	// C.UTF-8 sorts like C but knows Unicode's character classes; systems
	// without it get the plain C locale.
	for _, loc := range [][]string{{"--locale=C.UTF-8"}, {"--no-locale"}} {
		// initdb wants an empty directory; a failed run may leave files.
		if err := os.RemoveAll(p.lay.data); err != nil {
			return fmt.Errorf("postgres: clearing %s: %w", p.lay.data, err)
		}
		if err := p.lay.ownedDir(p.lay.data); err != nil {
			return err
		}
		out, err := p.command(ctx, p.progs.initdb, append(base, loc...)...).CombinedOutput()
		if err == nil {
			p.opts.Logf("postgres: created a cluster in %s", p.lay.data)
			return nil
		}
		errs = append(errs, fmt.Errorf("initdb %s: %w: %s", loc[0], err, bytes.TrimSpace(out)))
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("postgres: creating the cluster: %w", errors.Join(errs...))
}
