package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"hako/engine"
)

// Backups are pg_dump's custom format (-Fc), one file per backup under
// the provider's directory (backups/DATABASE/b001.dump), hako's own user
// alone able to read them. Each add-on keeps at most MaxBackups of them
// and MaxBackupBytes in all: a capture past the count drops the oldest,
// one that alone would pass the bytes is stopped and removed.
const (
	MaxBackups     = 10
	MaxBackupBytes = 4 << 30
)

var _ engine.PGBackuper = (*Provider)(nil)

// backupRe is a backup's id: aNNN for a scheduled one, bNNN for one
// captured by hand, numbered in one sequence (see Begin).
var backupRe = regexp.MustCompile(`^[ab](\d{3,})$`)

// backupDir is where the backups of a database live; db is checked.
func (p *Provider) backupDir(db string) (string, error) {
	if !ident.MatchString(db) || len(db) > 63 {
		return "", fmt.Errorf("postgres: invalid database name %q in the add-on's record", db)
	}
	return filepath.Join(p.lay.dir, "backups", db), nil
}

// session holds the cluster's layout and programs for one long operation
// (a dump, a restore), so that p.mu is not held while it runs.
type session struct {
	p     *Provider
	lay   *layout
	progs *programs
	pw    string
}

// open makes sure the server runs and returns what a long operation
// needs, without holding p.mu afterwards.
func (p *Provider) open(ctx context.Context) (*session, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.ensure(ctx, 0); err != nil {
		return nil, err
	}
	pw, err := p.superPassword()
	if err != nil {
		return nil, err
	}
	return &session{p: p, lay: p.lay, progs: p.progs, pw: pw}, nil
}

// tool returns one of PostgreSQL's client programs next to the server,
// so that its version matches the server's.
func (s *session) tool(name string) (string, error) {
	bin := filepath.Dir(s.progs.postgres)
	if f := filepath.Join(bin, name); isFile(f) {
		return f, nil
	}
	if f, err := exec.LookPath(name); err == nil {
		return f, nil
	}
	return "", engine.Errorf(engine.EINVALID, "%s is not installed next to PostgreSQL on this machine.", name)
}

// super returns a program run as the superuser against db over the
// server's socket.
func (s *session) super(ctx context.Context, name, db string, args ...string) (*exec.Cmd, error) {
	prog, err := s.tool(name)
	if err != nil {
		return nil, err
	}
	base := []string{"-h", s.lay.sock, "-p", strconv.Itoa(s.lay.port), "-U", "postgres", "-w"}
	if name == "pg_dump" || name == "pg_restore" {
		base = append(base, "-d", db)
	} else {
		base = append(base, "-d", db, "-v", "ON_ERROR_STOP=1", "-X", "-q")
	}
	cmd := s.p.command(ctx, prog, append(base, args...)...)
	cmd.Env = append(cmd.Env, "PGPASSWORD="+s.pw)
	return cmd, nil
}

// foreign returns a program that connects only with what url says: no
// superuser password, no password file, no service file, no socket of
// hako's; it runs as the add-on servers' user, in the socket's directory.
// So a URL naming another app's database gets in only with that
// database's own password.
func (s *session) foreign(ctx context.Context, name, raw string, args ...string) (*exec.Cmd, error) {
	conn, err := checkURL(raw)
	if err != nil {
		return nil, err
	}
	prog, err := s.tool(name)
	if err != nil {
		return nil, err
	}
	flag := "-d"
	if name == "pg_dump" {
		flag = "--dbname"
	}
	cmd := s.p.command(ctx, prog, append([]string{flag, conn, "-w"}, args...)...)
	cmd.Env = append(cmd.Env, "PGPASSFILE=/dev/null", "PGSERVICEFILE=/dev/null", "PGSYSCONFDIR=/nonexistent", "PGCONNECT_TIMEOUT=10")
	return cmd, nil
}

// checkURL accepts a postgres:// URL with a host, and no parameters but
// sslmode and connect_timeout: parameters such as host (a socket
// directory), passfile, service or sslkey would let a URL reach what
// hako, not its owner, may reach.
func checkURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || !oneHost(u.Hostname()) {
		return "", engine.Errorf(engine.EINVALID, "The database URL must be postgres://USER:PASSWORD@HOST:PORT/DATABASE.")
	}
	for k := range u.Query() {
		if k != "sslmode" && k != "connect_timeout" {
			return "", engine.Errorf(engine.EINVALID, "The database URL may carry only the parameters sslmode and connect_timeout, not %q.", k)
		}
	}
	return u.String(), nil
}

var _ engine.PGChecker = (*Provider)(nil)

// CheckURL implements engine.PGChecker: a URL Pull would refuse (see
// checkURL).
func (p *Provider) CheckURL(raw string) error {
	_, err := checkURL(raw)
	return err
}

// CheckDump implements engine.PGChecker: a dump past the limit, which
// Restore would refuse.
func (p *Provider) CheckDump(resource map[string]string, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if limit := p.maxBackup(); fi.Size() > limit {
		return engine.Errorf(engine.EINVALID, "The dump is %s, past this server's limit of %s for a restore (hako server --max-pg-backup): %s was not changed.", mib(fi.Size()), mib(limit), resource["database"])
	}
	return nil
}

// hostNameRe is a DNS name, the only host besides an IP address a URL
// may name.
var hostNameRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)

// oneHost reports whether h is one host, a name or an address. libpq
// reads "a,b" as a list of hosts, of which an empty one means its default
// socket directory: a host's own PostgreSQL, reached as the user pg_dump
// runs as.
func oneHost(h string) bool {
	return net.ParseIP(h) != nil || hostNameRe.MatchString(h)
}

// maxBackup is the bytes a dump may reach (Options.MaxBackupBytes).
func (p *Provider) maxBackup() int64 {
	if p.opts.MaxBackupBytes > 0 {
		return p.opts.MaxBackupBytes
	}
	return MaxBackupBytes
}

// mib shows a byte count in MiB, for messages.
func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// maxToolOutput bounds what run keeps of a tool's output: its first
// lines are all a message shows, and a tool fed a hostile dump may
// write without end.
const maxToolOutput = 64 << 10

// cappedBuffer keeps the first maxToolOutput bytes written to it and
// drops the rest, never failing the writer.
type cappedBuffer struct{ bytes.Buffer }

func (c *cappedBuffer) Write(b []byte) (int, error) {
	if room := maxToolOutput - c.Len(); room > 0 {
		c.Buffer.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}

// run runs cmd and returns its error with its output, cleaned of the
// password-bearing URL.
func run(cmd *exec.Cmd, what string) error {
	var out cappedBuffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return engine.Errorf(engine.EINVALID, "%s failed: %s", what, firstLines(out.String()))
	}
	return nil
}

// firstLines keeps the first lines of a tool's complaint, for messages.
func firstLines(s string) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > 3 {
		ls = ls[:3]
	}
	return strings.Join(ls, "; ")
}

// limitedFile is a file that refuses writes past max bytes.
type limitedFile struct {
	f    *os.File
	n    int64
	max  int64
	over bool
}

var errTooBig = errors.New("backup too large")

func (l *limitedFile) Write(b []byte) (int, error) {
	if l.n+int64(len(b)) > l.max {
		l.over = true
		return 0, errTooBig
	}
	n, err := l.f.Write(b)
	l.n += int64(n)
	return n, err
}

// dumpTo runs cmd (a pg_dump -Fc) into path, a new file, at most max
// bytes.
func dumpTo(cmd *exec.Cmd, path string, max int64, what string) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	return dumpInto(cmd, f, path, max, what)
}

// dumpInto runs cmd (a pg_dump -Fc) into f, open on path, at most max
// bytes, and closes f; path is removed when the dump fails.
func dumpInto(cmd *exec.Cmd, f *os.File, path string, max int64, what string) (int64, error) {
	lf := &limitedFile{f: f, max: max}
	cmd.Stdout = lf
	err := run(cmd, what)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("postgres: %w", cerr)
	}
	if lf.over {
		err = engine.Errorf(engine.EINVALID, "%s stopped: the dump passed this server's limit of %s (hako server --max-pg-backup).", what, mib(max))
	}
	if err != nil {
		os.Remove(path)
		return 0, err
	}
	return lf.n, nil
}

// Backups implements engine.PGBackuper: the add-on's backups, oldest
// first.
func (p *Provider) Backups(resource map[string]string) ([]engine.PGBackup, error) {
	p.mu.Lock()
	err := p.prepare(0)
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	dir, err := p.backupDir(resource["database"])
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: listing backups: %w", err)
	}
	var out []engine.PGBackup
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".dump")
		m := backupRe.FindStringSubmatch(id)
		if !ok || m == nil || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		path := filepath.Join(dir, e.Name())
		out = append(out, engine.PGBackup{ID: id, Num: n, Size: fi.Size(), CreatedAt: fi.ModTime().UTC(), Path: path, Running: p.running(path)})
	}
	slices.SortFunc(out, func(a, b engine.PGBackup) int { return a.Num - b.Num })
	return out, nil
}

// Begin implements engine.PGBackuper: the next number of the add-on's
// database is given to a new backup (aNNN when scheduled, else bNNN),
// recorded as given before its dump starts, so that a capture that fails
// or is canceled does not give it again. Run takes a pg_dump -Fc of the
// database as the superuser (a consistent snapshot; the app's
// connections go on); the oldest backups go past MaxBackups. One capture
// of a database runs at a time: another is refused (ECONFLICT) until it
// ends.
func (p *Provider) Begin(ctx context.Context, resource map[string]string, scheduled bool) (*engine.PGCapture, error) {
	db := resource["database"]
	s, err := p.open(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := p.backupDir(db)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	have, err := p.Backups(resource)
	if err != nil {
		return nil, err
	}
	c, err := p.begin(dir, db, have, scheduled)
	if err != nil {
		return nil, err
	}
	run := func(ctx context.Context) (*engine.PGBackup, []string, error) {
		return p.runCapture(ctx, s, c, db, have)
	}
	return &engine.PGCapture{Backup: c.backup, Run: run}, nil
}

// runCapture takes the dump of capture c, begun on db with the backups
// have; ctx's end or a Cancel stops it.
func (p *Provider) runCapture(ctx context.Context, s *session, c *capture, db string, have []engine.PGBackup) (*engine.PGBackup, []string, error) {
	stop := context.AfterFunc(ctx, func() { c.cancel(context.Cause(ctx)) })
	defer stop()
	defer p.untrack(c)
	id, path := c.backup.ID, c.backup.Path
	cmd, err := s.super(c.ctx, "pg_dump", db, "-Fc", "--no-owner", "--no-acl")
	if err != nil {
		c.file.Close()
		os.Remove(path)
		return nil, nil, err
	}
	size, err := dumpInto(cmd, c.file, path, p.maxBackup(), "pg_dump of "+db)
	if err != nil {
		return nil, nil, canceled(c.ctx, err, "The backup "+id+" of "+db)
	}
	// Room for the new one: the oldest go, by count, then by bytes.
	var dropped []string
	var used int64
	for _, b := range have {
		used += b.Size
	}
	used += size
	for len(have) > 0 && (len(have)+1 > MaxBackups || used > p.maxBackup()) {
		if err := os.Remove(have[0].Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("postgres: removing backup %s: %w", have[0].ID, err)
		}
		used -= have[0].Size
		dropped = append(dropped, have[0].ID)
		have = have[1:]
	}
	p.opts.Logf("postgres: backup %s of %s (%d bytes)", id, db, size)
	bk := c.backup
	bk.Size, bk.Running = size, false
	return &bk, dropped, nil
}

// lastFile records, in a database's backup directory, the number last
// given to one of its backups: a number is never given twice, even once
// its backup is deleted or its capture failed, as Heroku's transfer
// numbers are not.
const lastFile = "last"

// lastNum is the number of the last backup taken in dir (0 for none).
func lastNum(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, lastFile))
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Delete implements engine.PGBackuper: backup id of the add-on is
// removed. Its number is not given again (see lastFile).
func (p *Provider) Delete(resource map[string]string, id string) error {
	if !backupRe.MatchString(id) {
		return engine.Errorf(engine.EINVALID, "Backup %q is invalid: name one as b001.", id)
	}
	dir, err := p.backupDir(resource["database"])
	if err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, id+".dump")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return engine.Errorf(engine.ENOTFOUND, "There is no backup %s.", id)
		}
		return fmt.Errorf("postgres: deleting backup %s: %w", id, err)
	}
	p.opts.Logf("postgres: backup %s of %s deleted", id, resource["database"])
	return nil
}

// Restore implements engine.PGBackuper: the add-on's database is
// replaced by the dump at path. The dump is restored into a new
// database, owned by the add-on's role, as that role (so everything in it
// is the app's and nothing keeps the dump's owners or grants); only when
// that succeeded is the old database dropped (its clients disconnected,
// as a restore on Heroku does) and the new one renamed in its place. A
// dump that fails to restore changes nothing.
func (p *Provider) Restore(ctx context.Context, resource map[string]string, path string) error {
	db, role := resource["database"], resource["role"]
	if !ident.MatchString(db) || !ident.MatchString(role) || len(db) > 50 {
		return fmt.Errorf("postgres: invalid database or role name in the add-on's record")
	}
	// The dump streams from disk, never whole in memory, and one past
	// the limit is refused before anything is touched.
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	limit := p.maxBackup()
	if fi.Size() > limit {
		return engine.Errorf(engine.EINVALID, "The dump is %s, past this server's limit of %s for a restore (hako server --max-pg-backup): %s was not changed.", mib(fi.Size()), mib(limit), db)
	}
	s, err := p.open(ctx)
	if err != nil {
		return err
	}
	tmp := db + "_restoring"
	q, t, r := quoteIdent(db), quoteIdent(tmp), quoteIdent(role)
	if err := s.sql(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE);\nCREATE DATABASE %s OWNER %s;\nREVOKE ALL ON DATABASE %s FROM PUBLIC;", t, t, r, t)); err != nil {
		return fmt.Errorf("postgres: preparing the restore of %s: %w", db, err)
	}
	cmd, err := s.super(ctx, "pg_restore", tmp, "--no-owner", "--no-acl", "--role="+role, "--exit-on-error")
	if err != nil {
		return err
	}
	// pg_restore runs as the add-on servers' user, which cannot read
	// hako's backups: the dump comes on its standard input, cut off past
	// the limit should the file have grown since.
	lr := &limitedReader{r: f, left: limit}
	cmd.Stdin = lr
	err = run(cmd, "pg_restore into "+db)
	if lr.over {
		err = engine.Errorf(engine.EINVALID, "The dump passed this server's limit of %s for a restore (hako server --max-pg-backup): %s was not changed.", mib(limit), db)
	}
	if err != nil {
		if derr := s.sql(context.WithoutCancel(ctx), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE);", t)); derr != nil {
			p.opts.Logf("postgres: removing %s after a failed restore: %v", tmp, derr)
		}
		return err
	}
	// Restored whole: the swap is not stopped half way by a cancel, which
	// comes too late from here on.
	if err := s.sql(context.WithoutCancel(ctx), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE);\nALTER DATABASE %s RENAME TO %s;", q, t, q)); err != nil {
		return fmt.Errorf("postgres: putting the restored %s in place: %w", db, err)
	}
	return nil
}

// sql runs statements as the superuser, one at a time across the
// provider (p.mu), as Provision does.
func (s *session) sql(ctx context.Context, sql string) error {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return s.p.psql(ctx, sql)
}

// Pull implements engine.PGBackuper: the database at url, reached with
// url's own credentials only (see foreign), replaces the add-on's.
// Nothing changes when the dump fails.
func (p *Provider) Pull(ctx context.Context, resource map[string]string, url string) error {
	s, err := p.open(ctx)
	if err != nil {
		return err
	}
	dir, err := p.backupDir(resource["database"])
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("pull-%d.tmp", time.Now().UnixNano()))
	defer os.Remove(path)
	cmd, err := s.foreign(ctx, "pg_dump", url, "-Fc", "--no-owner", "--no-acl")
	if err != nil {
		return err
	}
	if _, err := dumpTo(cmd, path, p.maxBackup(), "pg_dump of the source"); err != nil {
		return err
	}
	return p.Restore(ctx, resource, path)
}

// Push implements engine.PGBackuper: the add-on's database is copied
// into the database at url, which must be empty, with url's credentials
// only.
func (p *Provider) Push(ctx context.Context, resource map[string]string, url string) error {
	db := resource["database"]
	s, err := p.open(ctx)
	if err != nil {
		return err
	}
	check, err := s.foreign(ctx, "psql", url, "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-c",
		"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'")
	if err != nil {
		return err
	}
	var out bytes.Buffer
	check.Stdout = &out
	if err := run(check, "Connecting to the target"); err != nil {
		return err
	}
	if strings.TrimSpace(out.String()) != "0" {
		return engine.Errorf(engine.EINVALID, "The target database is not empty: push into an empty database.")
	}
	dir, err := p.backupDir(db)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("push-%d.tmp", time.Now().UnixNano()))
	defer os.Remove(path)
	dump, err := s.super(ctx, "pg_dump", db, "-Fc", "--no-owner", "--no-acl")
	if err != nil {
		return err
	}
	if _, err := dumpTo(dump, path, p.maxBackup(), "pg_dump of "+db); err != nil {
		return err
	}
	restore, err := s.foreign(ctx, "pg_restore", url, "--no-owner", "--no-acl", "--exit-on-error")
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer f.Close()
	restore.Stdin = f
	return run(restore, "pg_restore into the target")
}

// limitedReader reads r until left bytes are read, then fails, and
// says so: io.LimitReader would end quietly, as if the dump ended there.
type limitedReader struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells a dump that ends right at the limit from
		// one that goes on.
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			l.over = true
			return 0, errTooBig
		}
		return 0, io.EOF
	}
	if int64(len(b)) > l.left {
		b = b[:l.left]
	}
	n, err := l.r.Read(b)
	l.left -= int64(n)
	return n, err
}

var (
	_ io.Writer = (*limitedFile)(nil)
	_ io.Reader = (*limitedReader)(nil)
)
