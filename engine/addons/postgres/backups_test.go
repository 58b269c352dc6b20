package postgres

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hako/engine"
)

// TestDumpToLimit: a dump past its limit is stopped, says so and leaves
// no file; one within it is kept whole.
func TestDumpToLimit(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	_, err := dumpTo(exec.Command("head", "-c", "1048577", "/dev/zero"), big, 1<<20, "pg_dump of x")
	if err == nil || engine.ErrorMessage(err) != "pg_dump of x stopped: the dump passed this server's limit of 1 MiB (hako server --max-pg-backup)." {
		t.Errorf("a dump over the limit: %v", err)
	}
	if _, err := os.Stat(big); !os.IsNotExist(err) {
		t.Errorf("the stopped dump's file is left: %v", err)
	}
	small := filepath.Join(dir, "small")
	n, err := dumpTo(exec.Command("head", "-c", "1048576", "/dev/zero"), small, 1<<20, "pg_dump of x")
	if fi, serr := os.Stat(small); err != nil || n != 1<<20 || serr != nil || fi.Size() != 1<<20 {
		t.Errorf("a dump at the limit: %d bytes, %v, %v", n, err, serr)
	}
}

// TestLimitedReader: a dump read for a restore stops with an error, not
// a quiet end, one byte past its limit; one that ends at the limit is
// read whole.
func TestLimitedReader(t *testing.T) {
	for _, tc := range []struct {
		size, limit int64
		over        bool
	}{{1 << 20, 1 << 20, false}, {1<<20 + 1, 1 << 20, true}, {0, 1, false}, {5, 0, true}} {
		lr := &limitedReader{r: io.LimitReader(zeros{}, tc.size), left: tc.limit}
		n, err := io.Copy(io.Discard, lr)
		if lr.over != tc.over || (err != nil) != tc.over || (!tc.over && n != tc.size) {
			t.Errorf("%d bytes, limit %d: read %d, over %v, err %v; want over %v", tc.size, tc.limit, n, lr.over, err, tc.over)
		}
	}
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// TestCheckURL: a URL reaches a database with what it says and nothing
// of hako's: no socket directory, no file named by a parameter.
func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"postgres://u:p@127.0.0.1:5432/db", true},
		{"postgresql://u:p@db.example.test/db?sslmode=require", true},
		{"postgres://u:p@127.0.0.1/db?host=/var/run/postgresql", false},
		{"postgres://u:p@127.0.0.1/db?passfile=/root/.pgpass", false},
		{"postgres://u:p@127.0.0.1/db?sslkey=/etc/shadow", false},
		{"postgres://u:p@127.0.0.1/db?service=prod", false},
		{"postgres:///db", false},
		{"postgres://%2Fvar%2Frun/db", false},
		// libpq takes a comma as a list of hosts; an empty one is the
		// default socket directory.
		{"postgres://u:p@127.0.0.1:1,/db", false},
		{"postgres://u:p@,127.0.0.1/db", false},
		{"postgres://u:p@h1:5432,h2:5432/db", false},
		{"postgres://u:p@[::1]:5432/db", true},
		{"postgres://u:p@db-1.example.test:5433/db?connect_timeout=5", true},
		{"mysql://u:p@127.0.0.1/db", false},
		{"host=127.0.0.1 dbname=db", false},
		{"-d postgres", false},
	} {
		_, err := checkURL(c.url)
		if (err == nil) != c.ok {
			t.Errorf("checkURL(%q) = %v, want ok %v", c.url, err, c.ok)
		}
		if err != nil && strings.Contains(engine.ErrorMessage(err), ":p@") {
			t.Errorf("checkURL(%q) shows the password: %v", c.url, err)
		}
	}
}

// TestLastNum: the number of the last backup survives the backups'
// deletion, and a missing or garbled record counts as none.
func TestLastNum(t *testing.T) {
	for _, c := range []struct {
		name, content string
		want          int
	}{
		{"missing", "", 0},
		{"number", "7\n", 7},
		{"garbled", "seven", 0},
		{"negative", "-3", 0},
	} {
		dir := t.TempDir()
		if c.content != "" {
			if err := os.WriteFile(filepath.Join(dir, lastFile), []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if got := lastNum(dir); got != c.want {
			t.Errorf("%s: lastNum = %d, want %d", c.name, got, c.want)
		}
	}
}

// TestDeleteRefusesNames: only a backup's own name (b001) is deleted,
// never a path.
func TestDeleteRefusesNames(t *testing.T) {
	p := &Provider{}
	for _, id := range []string{"", "../b001", "b1", "b001/../../x", "last", "b001.dump"} {
		if err := p.Delete(map[string]string{"database": "db"}, id); engine.ErrorCode(err) != engine.EINVALID {
			t.Errorf("Delete(%q) = %v, want EINVALID", id, err)
		}
	}
}
