package postgres

import (
	"bytes"
	"context"
	"os"

	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"hako/engine"
)

// asSuperuser runs psql as the superuser, with password pw when it is
// not empty, over the socket (tcp false) or TCP, as the cluster's user.
func asSuperuser(p *Provider, pw string, tcp bool) (string, error) {
	host := p.lay.sock
	if tcp {
		host = "127.0.0.1"
	}
	cmd := p.command(context.Background(), p.progs.psql, "-h", host, "-p", strconv.Itoa(p.lay.port),
		"-U", "postgres", "-d", "postgres", "-X", "-w", "-tAc", "select current_user")
	if pw != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+pw)
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestSuperuserNeedsPassword checks that no connection is trusted: the
// cluster's own user, over the socket or TCP, is refused without the
// superuser's password, which only hako's user can read.
func TestSuperuserNeedsPassword(t *testing.T) {
	needPostgres(t)
	dir := testDir(t, false)
	p := newProvider(t, dir)
	provision(t, p, "postgresql-guarded")

	pwPath := filepath.Join(dir, passwordFile)
	fi, err := os.Stat(pwPath)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Geteuid() || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s owned by %d, mode %v; want %d, 0600", pwPath, st.Uid, fi.Mode().Perm(), os.Geteuid())
	}
	b, err := os.ReadFile(pwPath)
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimSpace(string(b))
	for _, tcp := range []bool{false, true} {
		if out, err := asSuperuser(p, "", tcp); err == nil || !strings.Contains(out, "no password supplied") {
			t.Errorf("superuser without a password (tcp %v): %q, %v", tcp, out, err)
		}
		if out, err := asSuperuser(p, "not-"+pw, tcp); err == nil || !strings.Contains(out, "password authentication failed") {
			t.Errorf("superuser with a wrong password (tcp %v): %q, %v", tcp, out, err)
		}
		if out, err := asSuperuser(p, pw, tcp); err != nil || out != "postgres" {
			t.Errorf("superuser with the password (tcp %v): %q, %v", tcp, out, err)
		}
	}
	hba, err := os.ReadFile(filepath.Join(p.lay.data, "pg_hba.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if _, trusted := withoutTrust(hba); trusted {
		t.Errorf("pg_hba.conf trusts connections:\n%s", hba)
	}
	if os.Geteuid() == 0 {
		if got := procUID(t, p.srv.Pid()); got != engine.AddonUID {
			t.Errorf("postmaster runs as uid %d, want %d", got, engine.AddonUID)
		}
	}
}

// TestTrustClusterSecured starts a cluster as older servers left it:
// local connections trusted, no superuser password, files owned by
// nobody. The start must move it to passwords and to the add-on user,
// keeping its data.
func TestTrustClusterSecured(t *testing.T) {
	progs := needPostgres(t)
	dir := testDir(t, false)
	old := New(dir, Options{Logf: t.Logf, User: legacyUID, Group: legacyUID})
	t.Cleanup(old.Stop)
	url, res := provision(t, old, "postgresql-legacy")
	if _, err := query(progs, url, "create table t (v text); insert into t values ('kept')"); err != nil {
		t.Fatal(err)
	}
	old.Stop()
	hbaPath := filepath.Join(old.lay.data, "pg_hba.conf")
	hba, err := os.ReadFile(hbaPath)
	if err != nil {
		t.Fatal(err)
	}
	var trusting []string
	for _, line := range strings.Split(string(hba), "\n") {
		if strings.HasPrefix(line, "local") {
			line = strings.Replace(line, authMethod, "trust", 1)
		}
		trusting = append(trusting, line)
	}
	if err := os.WriteFile(hbaPath, []byte(strings.Join(trusting, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, passwordFile)); err != nil {
		t.Fatal(err)
	}

	p := newProvider(t, dir)
	if err := p.Start(context.Background(), []map[string]string{res}); err != nil {
		t.Fatal(err)
	}
	if got, err := query(progs, url, "select v from t"); err != nil || got != "kept" {
		t.Errorf("the data after the move: %q, %v", got, err)
	}
	if out, err := asSuperuser(p, "", false); err == nil {
		t.Errorf("the socket is still trusted: %q", out)
	}
	b, err := os.ReadFile(filepath.Join(dir, passwordFile))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := asSuperuser(p, strings.TrimSpace(string(b)), false); err != nil || out != "postgres" {
		t.Errorf("the superuser with its new password: %q, %v", out, err)
	}
	provision(t, p, "postgresql-after")
	if os.Geteuid() == 0 {
		fi, err := os.Stat(filepath.Join(p.lay.data, "PG_VERSION"))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != engine.AddonUID {
			t.Errorf("the cluster's files are still owned by %d", st.Uid)
		}
	}
}

func TestWithoutTrust(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"local   all   all   trust", "local\tall\tall\tscram-sha-256"},
		{"host all all 127.0.0.1/32 trust # mine", "host\tall\tall\t127.0.0.1/32\tscram-sha-256 # mine"},
		{"host all all 127.0.0.1 255.255.255.255 trust", "host\tall\tall\t127.0.0.1\t255.255.255.255\tscram-sha-256"},
		{"# local all all trust", "# local all all trust"},
		{"local all all peer", "local all all peer"},
		{"host all all ::1/128 scram-sha-256", "host all all ::1/128 scram-sha-256"},
	} {
		got, changed := withoutTrust([]byte(tt.in))
		if string(got) != tt.want || changed != (tt.in != tt.want) {
			t.Errorf("withoutTrust(%q) = %q, %v; want %q", tt.in, got, changed, tt.want)
		}
	}
}

// procUID is the real uid of a process.
func procUID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("Uid:")); ok {
			f := strings.Fields(string(rest))
			n, _ := strconv.Atoi(f[0])
			return n
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return -1
}
