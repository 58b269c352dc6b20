package redis

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"hako/engine/addons/localproc"
	"hako/engine/userfs"
)

// fallbackRoot holds the data of add-ons whose directory the servers'
// user cannot reach. When hako runs as root its home is often under a
// directory closed to others (/root is 0700), and Redis, running as
// nobody, could not open its data directory there. Making hako's
// directories world-searchable instead would expose more than Redis, so
// the data moves to a place made for it, one subdirectory per provider
// directory (named by a hash of it) so that several hako homes never mix.
var fallbackRoot = "/var/lib/hako-redis"

// commandsOff are the commands renamed to nothing: an app has no business
// changing the server's configuration, files or replication, loading
// code, or stopping the server under its neighbours' feet.
var commandsOff = []string{
	"CONFIG", "DEBUG", "SHUTDOWN", "MODULE", "ACL",
	"REPLICAOF", "SLAVEOF", "SYNC", "PSYNC", "FAILOVER",
}

// localData is the data directory of an add-on inside the provider's own
// directory, next to its redis.conf.
func (p *Provider) localData(name string) string {
	return filepath.Join(p.dir, name, "data")
}

// fallbackBase is this provider's subdirectory of fallbackRoot.
func (p *Provider) fallbackBase() string {
	sum := sha256.Sum256([]byte(p.dir))
	return filepath.Join(fallbackRoot, hex.EncodeToString(sum[:8]))
}

// fallbackData is the data directory of an add-on when the provider's
// directory is out of the servers' reach.
func (p *Provider) fallbackData(name string) string {
	return filepath.Join(p.fallbackBase(), name)
}

// dataDir chooses where a new add-on keeps its data. The choice is
// recorded in its resource, so that a later change of permissions does
// not lose the data.
func (p *Provider) dataDir(name string) (string, error) {
	if p.cred == nil {
		return p.localData(name), nil
	}
	if userfs.Searchable(p.dir, p.cred.uid, p.cred.gid) == nil {
		return p.localData(name), nil
	}
	return p.fallbackData(name), nil
}

// prepareDirs makes the add-on's directories if missing (after a restore
// or a wiped /var/lib) and hands the data directory to the servers' user.
func (p *Provider) prepareDirs(r resource) error {
	home := filepath.Join(p.dir, r.name)
	if err := os.MkdirAll(home, 0o711); err != nil {
		return fmt.Errorf("create the add-on directory: %w", err)
	}
	if r.data == p.fallbackData(r.name) {
		if err := os.MkdirAll(fallbackRoot, 0o755); err != nil {
			return fmt.Errorf("create the redis data root: %w", err)
		}
		if err := mkdirExist(p.fallbackBase(), 0o711); err != nil {
			return fmt.Errorf("create the redis data root: %w", err)
		}
	}
	if err := mkdirExist(r.data, 0o700); err != nil {
		return fmt.Errorf("create the data directory: %w", err)
	}
	if p.cred != nil {
		// The whole tree: the files of a server that ran as another user
		// (nobody, before add-ons had a uid of their own) become this one's.
		if err := localproc.ChownTree(r.data, p.cred.uid, p.cred.gid); err != nil {
			return fmt.Errorf("hand the data directory to uid %d: %w", p.cred.uid, err)
		}
		if err := userfs.Searchable(r.data, p.cred.uid, p.cred.gid); err != nil {
			return fmt.Errorf("data directory %s is out of the servers' reach: %w", r.data, err)
		}
	}
	return nil
}

// mkdirExist makes dir with perm, which os.Mkdir would narrow by the
// umask, and accepts a directory already there.
func mkdirExist(dir string, perm fs.FileMode) error {
	if err := os.Mkdir(dir, perm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	return os.Chmod(dir, perm)
}

// writeConfig writes the configuration a server runs with to the add-on
// directory, for people to read: the server itself gets it on stdin.
func (p *Provider) writeConfig(r resource, conf string) error {
	path := filepath.Join(p.dir, r.name, "redis.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("write redis.conf: %w", err)
	}
	return nil
}

// removeData removes every place an add-on may keep files; both are
// derived from its validated name, never taken from a stored path.
func (p *Provider) removeData(name string) error {
	var errs []error
	if err := os.RemoveAll(filepath.Join(p.dir, name)); err != nil {
		errs = append(errs, fmt.Errorf("remove redis add-on %s: %w", name, err))
	}
	if err := os.RemoveAll(p.fallbackData(name)); err != nil {
		errs = append(errs, fmt.Errorf("remove the data of redis add-on %s: %w", name, err))
	}
	_ = os.Remove(p.fallbackBase()) // only once empty
	return errors.Join(errs...)
}

// config is the server's configuration. The server reads it from stdin,
// so that the password shows neither in the process list nor in a file
// the server's user could read.
func config(r resource, host string) string {
	var b strings.Builder
	b.WriteString("# Written by hako at each start and given to redis-server on stdin:\n# edits here are not read.\n")
	line := func(args ...string) { b.WriteString(strings.Join(args, " ") + "\n") }
	line(append([]string{"bind", "127.0.0.1"}, nonEmpty(host)...)...)
	line("port", strconv.Itoa(r.port))
	line("protected-mode", "yes")
	line("daemonize", "no")
	line("requirepass", r.password)
	line("dir", quote(r.data))
	line("logfile", `""`) // stdout, which is the log file hako opened
	line("appendonly", "yes")
	line("appendfsync", "everysec")
	line("maxmemory", strconv.FormatInt(r.plan.maxmemory, 10))
	line("maxmemory-policy", "noeviction")
	line("maxclients", strconv.Itoa(r.plan.clients))
	for _, c := range commandsOff {
		line("rename-command", c, `""`)
	}
	return b.String()
}

// quote writes s as a double-quoted Redis configuration argument.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// nonEmpty is s as a list, empty when s is.
func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
