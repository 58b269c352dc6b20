package e2e

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"hako/engine"
)

// needRootE2E skips a test of the isolated server where hako cannot run
// as root, and fails it under CI.
func needRootE2E(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("the isolation checks need root under CI")
	}
	t.Skip("not root: dynos run as the server's user")
}

// asUser runs argv on the host as uid:uid without supplementary groups,
// as a process of that app (or add-on) escaped onto the host would, and
// returns its combined output.
func asUser(uid int, argv ...string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// procStatus returns a field of /proc/PID/status ("Uid": its real uid).
func procUID(t *testing.T, pid string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatalf("no Uid line in /proc/%s/status", pid)
	return -1
}

// hostProcs lists the host pids whose environment (read as root) holds
// kv exactly.
func hostProcs(kv string) []string {
	var pids []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		env, _ := os.ReadFile(dir + "/environ")
		if slices.Contains(strings.Split(string(env), "\x00"), kv) {
			pids = append(pids, filepath.Base(dir))
		}
	}
	return pids
}

// listener returns the pid of the process listening on 127.0.0.1:port,
// found through its socket's inode (a server's command line may be
// rewritten by the server itself).
func listener(t *testing.T, port string) string {
	t.Helper()
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	inode := ""
	for line := range strings.SplitSeq(string(b), "\n") {
		// sl local_address rem_address st ... inode: 0A is LISTEN.
		if f := strings.Fields(line); len(f) > 9 && f[1] == fmt.Sprintf("0100007F:%04X", n) && f[3] == "0A" {
			inode = f[9]
		}
	}
	if inode == "" {
		t.Fatalf("nothing listens on 127.0.0.1:%s", port)
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && target == "socket:["+inode+"]" {
			return strings.Split(fd, "/")[2]
		}
	}
	t.Fatalf("no process holds the socket of 127.0.0.1:%s", port)
	return ""
}

var whoami = regexp.MustCompile(`^uid=(\d+) host=web\.1 pid=\d+$`)

// TestAppIdentities checks that two apps run under uids of their own,
// neither root nor nobody, and that one app's uid can read neither the
// other's environment (its config vars) through /proc, nor its released
// code nor its build cache on the host.
func TestAppIdentities(t *testing.T) {
	need(t, "python3", "psql", "redis-cli", "cat", "ls")
	needRootE2E(t)
	s := startServer(t)
	// A home that every user can reach, so that only the files' own
	// owners and modes keep one app's uid out of another's.
	for _, d := range []string{filepath.Dir(s.home), s.home, filepath.Join(s.home, "cache")} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	uids := map[string]int{}
	for _, app := range []string{"ids-a", "ids-b"} {
		s.hako(t, "apps:create", app)
		if out, err := s.push(repo(t, "env-app"), s.key, app, "main"); err != nil {
			t.Fatalf("push %s: %v\n%s", app, err, out)
		}
	}
	s.hako(t, "config:set", "-a", "ids-b", "B_SECRET=hunter2")
	s.waitPath(t, "ids-b", "/env/B_SECRET", "hunter2")
	for _, app := range []string{"ids-a", "ids-b"} {
		_, body, err := s.get(app, "/whoami")
		m := whoami.FindStringSubmatch(body)
		if err != nil || m == nil {
			t.Fatalf("%s /whoami = %q, %v", app, body, err)
		}
		uids[app], _ = strconv.Atoi(m[1])
		if uid := uids[app]; uid == 0 || uid == 65534 || !engine.ValidAppUID(uid) || uid == engine.AddonUID {
			t.Errorf("%s runs as uid %d, want one of the apps' range of its own", app, uid)
		}
		// A one-off dyno runs as the app's uid too.
		if out := s.hako(t, "run", "-a", app, "--no-tty", "id -u"); !hasLine(out, strconv.Itoa(uids[app])) {
			t.Errorf("a one-off dyno of %s is not uid %d:\n%s", app, uids[app], out)
		}
	}
	uidA, uidB := uids["ids-a"], uids["ids-b"]
	if uidA == uidB {
		t.Fatalf("both apps run as uid %d", uidA)
	}

	// B's web process, found on the host by its environment.
	var bProcs []string
	for _, pid := range hostProcs("B_SECRET=hunter2") {
		if procUID(t, pid) == uidB {
			bProcs = append(bProcs, pid)
		}
	}
	if len(bProcs) == 0 {
		t.Fatalf("no process of ids-b (uid %d) on the host", uidB)
	}
	for _, pid := range bProcs {
		environ := "/proc/" + pid + "/environ"
		if out, err := asUser(uidA, "cat", environ); err == nil || !hasLine(out, "cat: "+environ+": Permission denied") {
			t.Errorf("uid %d (ids-a) read %s of ids-b: %v\n%q", uidA, environ, err, out)
		}
		if out, err := asUser(uidB, "cat", environ); err != nil || !slices.Contains(strings.Split(out, "\x00"), "B_SECRET=hunter2") {
			t.Errorf("ids-b's own uid cannot read %s: %v", environ, err)
		}
	}

	// B's released code and build cache.
	releases, _ := filepath.Glob(filepath.Join(s.home, "run", "ids-b", "*"))
	if len(releases) == 0 {
		t.Fatal("no unpacked release of ids-b")
	}
	// The build cache is on a disk image in cache/ids-b, the server's
	// alone: neither app's uid may enter.
	cacheB := filepath.Join(s.home, "cache", "ids-b")
	if fi, err := os.Stat(cacheB); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o700 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("%s is uid %d's, mode %v; want root's, 0700", cacheB, fi.Sys().(*syscall.Stat_t).Uid, fi.Mode())
	}
	for _, uid := range []int{uidA, uidB} {
		if out, err := asUser(uid, "ls", cacheB); err == nil {
			t.Errorf("uid %d lists %s:\n%s", uid, cacheB, out)
		}
	}
	for _, dir := range releases {
		var st syscall.Stat_t
		if err := syscall.Stat(dir, &st); err != nil || int(st.Uid) != uidB {
			t.Errorf("%s belongs to uid %d (%v), want ids-b's %d", dir, st.Uid, err, uidB)
		}
		// Releases sit in run/ids-b, which uid A cannot even enter.
		if out, err := asUser(uidA, "ls", dir); err == nil || !hasLine(out, "ls: cannot open directory '"+dir+"': Permission denied") && !hasLine(out, "ls: cannot access '"+dir+"': Permission denied") {
			t.Errorf("uid %d (ids-a) lists %s: %v\n%s", uidA, dir, err, out)
		}
		if _, err := asUser(uidB, "ls", dir); err != nil {
			t.Errorf("ids-b's own uid cannot list %s: %v", dir, err)
		}
	}
	// run/ids-b itself: closed to uid A, open to ids-b's group.
	runB := filepath.Join(s.home, "run", "ids-b")
	if out, err := asUser(uidA, "ls", runB); err == nil || !hasLine(out, "ls: cannot open directory '"+runB+"': Permission denied") {
		t.Errorf("uid %d (ids-a) lists %s: %v\n%s", uidA, runB, err, out)
	}
	if out, err := asUser(uidB, "ls", runB); err != nil {
		t.Errorf("ids-b's own uid cannot list %s: %v\n%s", runB, err, out)
	}
	if out, err := asUser(uidA, "cat", filepath.Join(releases[0], "server.py")); err == nil {
		t.Errorf("uid %d (ids-a) reads ids-b's code:\n%s", uidA, out)
	}
}

// TestDynoCannotBecomePostgresSuperuser checks that a dyno's own
// DATABASE_URL works while the PostgreSQL superuser is out of its reach,
// over TCP and over the socket, and that on the host neither the app's
// uid nor the add-on servers' own uid gets in without the password.
func TestDynoCannotBecomePostgresSuperuser(t *testing.T) {
	need(t, "python3", "psql")
	needRootE2E(t)
	s := startServer(t)
	s.hako(t, "apps:create", "ids-a")
	if out, err := s.push(repo(t, "env-app"), s.key, "ids-a", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	_, body, err := s.get("ids-a", "/whoami")
	m := whoami.FindStringSubmatch(body)
	if err != nil || m == nil {
		t.Fatalf("ids-a /whoami = %q, %v", body, err)
	}
	uidA, _ := strconv.Atoi(m[1])
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "ids-a")
	dbURL, err := url.Parse(strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "ids-a")))
	if err != nil {
		t.Fatal(err)
	}
	_, sock := postmaster(t, s.home)
	port := dbURL.Port()
	script := `psql "$DATABASE_URL" -w -tAc "select 'own database'"
psql -h 127.0.0.1 -p ` + port + ` -U postgres -d postgres -w -tAc "select 'superuser over tcp'"; echo "tcp exit $?"
psql -h ` + sock + ` -p ` + port + ` -U postgres -d postgres -w -tAc "select 'superuser over the socket'"; echo "socket exit $?"
`
	out := s.hako(t, "run", "-a", "ids-a", "--no-tty", script)
	for _, line := range []string{"own database", "tcp exit 2", "socket exit 2"} {
		if !hasLine(out, line) {
			t.Errorf("no line %q from the one-off dyno:\n%s", line, out)
		}
	}
	if hasLine(out, "superuser over tcp") || hasLine(out, "superuser over the socket") {
		t.Errorf("a dyno is the PostgreSQL superuser:\n%s", out)
	}
	// On the host, the app's uid cannot reach the socket, and even the
	// add-on servers' own uid, which can, is asked for the password: the
	// socket is not trusted.
	for uid, why := range map[int]string{uidA: "Permission denied", engine.AddonUID: "fe_sendauth: no password supplied"} {
		out, err := asUser(uid, "psql", "-h", sock, "-p", port, "-U", "postgres", "-d", "postgres", "-w", "-tAc", "select 'superuser'")
		want := `psql: error: connection to server on socket "` + sock + `/.s.PGSQL.` + port + `" failed: ` + why
		if err == nil || !hasLine(out, want) {
			t.Errorf("uid %d over the socket: %v\n%s\nwant the line %s", uid, err, out, want)
		}
	}
}

// TestAddonServersRunAsTheirOwnUID checks that the PostgreSQL and Redis
// servers run under the add-on uid, neither root nor an app's.
func TestAddonServersRunAsTheirOwnUID(t *testing.T) {
	need(t, "psql", "redis-cli")
	needRootE2E(t)
	s := startServer(t)
	s.hako(t, "apps:create", "ids-a")
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "ids-a")
	s.hako(t, "addons:create", "heroku-redis", "-a", "ids-a")
	pid, _ := postmaster(t, s.home)
	if uid := procUID(t, pid); uid != engine.AddonUID {
		t.Errorf("the postmaster runs as uid %d, want %d", uid, engine.AddonUID)
	}
	redisURL, err := url.Parse(strings.TrimSpace(s.hako(t, "config:get", "REDIS_URL", "-a", "ids-a")))
	if err != nil {
		t.Fatal(err)
	}
	redis := listener(t, redisURL.Port())
	if uid := procUID(t, redis); uid != engine.AddonUID {
		t.Errorf("redis-server runs as uid %d, want %d", uid, engine.AddonUID)
	}
}

// postmaster reads the server's pid and socket directory from the
// cluster's postmaster.pid.
func postmaster(t *testing.T, home string) (pid, sock string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, "addons", "postgres", "data", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 5 {
		t.Fatalf("postmaster.pid: %q", b)
	}
	return strings.TrimSpace(lines[0]), strings.TrimSpace(lines[4])
}
