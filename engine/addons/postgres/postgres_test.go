package postgres

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hako/engine"
)

// needPostgres skips a test on machines without PostgreSQL, except in CI,
// where a missing installation is a broken test setup.
func needPostgres(t *testing.T) *programs {
	t.Helper()
	progs, err := findPrograms()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL is required in CI: %v", err)
		}
		t.Skipf("PostgreSQL is not installed: %v", err)
	}
	return progs
}

// testDir returns a provider directory inside a fresh temporary directory,
// whose top is mode 0700 and root's when the tests run as root: the
// unprivileged user cannot reach it unless reachable is set. It arranges
// for the cluster's files to be removed and checks, last, that no server
// of the test is left running.
func testDir(t *testing.T, reachableDir bool) string {
	t.Helper()
	tmp := t.TempDir()
	if reachableDir {
		for d := tmp; d != filepath.Dir(d) && d != os.TempDir(); d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := filepath.Join(tmp, "addons", "postgres")
	fallback := filepath.Join(fallbackBase, dirTag(dir))
	t.Cleanup(func() {
		for _, marker := range []string{dir, fallback} {
			if pids := processesUsing(marker); len(pids) > 0 {
				t.Errorf("processes still running on %s: %v", marker, pids)
				for _, pid := range pids {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		os.RemoveAll(fallback)
		os.Remove(fallbackBase) // only when empty
	})
	return dir
}

// processesUsing lists the processes whose command line mentions s.
func processesUsing(s string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func newProvider(t *testing.T, dir string) *Provider {
	t.Helper()
	p := New(dir, Options{Logf: t.Logf})
	t.Cleanup(p.Stop)
	return p
}

// query runs sql over TCP with the credentials of url, as a client app
// would, and returns its output.
func query(progs *programs, url, sql string) (string, error) {
	cmd := exec.Command(progs.psql, url, "-X", "-q", "-t", "-A", "-c", sql)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func provision(t *testing.T, p *Provider, name string) (string, map[string]string) {
	t.Helper()
	url, res, err := p.Provision(context.Background(), name, "")
	if err != nil {
		t.Fatalf("Provision(%s): %v", name, err)
	}
	return url, res
}

func TestProvisionIsolatesDatabases(t *testing.T) {
	progs := needPostgres(t)
	dir := testDir(t, false)
	p := newProvider(t, dir)
	urlA, resA := provision(t, p, "postgresql-misty-04211")
	urlB, resB := provision(t, p, "postgresql-sunny-1")

	if resA["database"] != "postgresql_misty_04211" || resA["role"] != resA["database"] || resA["port"] != strconv.Itoa(p.lay.port) {
		t.Errorf("resource A = %v", resA)
	}
	if urlA == urlB || resA["database"] == resB["database"] {
		t.Fatalf("same database twice: %s %s", urlA, urlB)
	}
	for url, want := range map[string]string{urlA: resA["database"], urlB: resB["database"]} {
		got, err := query(progs, url, "select current_database()")
		if err != nil || got != want {
			t.Errorf("connecting to %s: %q, %v; want %q", url, got, err, want)
		}
	}
	// A's credentials on B's database.
	crossed := strings.TrimSuffix(urlA, resA["database"]) + resB["database"]
	if out, err := query(progs, crossed, "select 1"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("role A connected to database B: %q, %v", out, err)
	}
	// A wrong password.
	if _, err := query(progs, strings.Replace(urlA, ":", ":x", 2), "select 1"); err == nil {
		t.Error("a wrong password was accepted")
	}

	if os.Geteuid() == 0 {
		// The temporary directory is root's and 0700, so the cluster lives
		// in the fallback place, linked from the provider's directory.
		want := filepath.Join(fallbackBase, dirTag(dir))
		if p.lay.home != want {
			t.Errorf("cluster in %s, want %s", p.lay.home, want)
		}
		if target, err := os.Readlink(filepath.Join(dir, "data")); err != nil || target != filepath.Join(want, "data") {
			t.Errorf("data link = %q, %v", target, err)
		}
		fi, err := os.Stat(p.lay.data)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != engine.AddonUID || fi.Mode().Perm() != 0o700 {
			t.Errorf("data directory owned by %d, mode %v", st.Uid, fi.Mode().Perm())
		}
	}
}

func TestReachableDirHoldsCluster(t *testing.T) {
	progs := needPostgres(t)
	dir := testDir(t, true)
	p := newProvider(t, dir)
	url, res := provision(t, p, "postgresql-a")
	if p.lay.home != dir {
		t.Errorf("cluster in %s, want %s", p.lay.home, dir)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "data")); err != nil || !fi.IsDir() {
		t.Errorf("no data directory in %s: %v", dir, err)
	}
	if got, err := query(progs, url, "select current_database()"); err != nil || got != res["database"] {
		t.Errorf("query: %q, %v", got, err)
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	progs := needPostgres(t)
	dir := testDir(t, false)
	p := newProvider(t, dir)
	url, res := provision(t, p, "postgresql-keep")
	if _, err := query(progs, url, "create table t (v text); insert into t values ('kept')"); err != nil {
		t.Fatal(err)
	}
	port := p.lay.port
	p.Stop()
	p.Stop() // idempotent
	if _, err := query(progs, url, "select 1"); err == nil {
		t.Fatal("the server still answers after Stop")
	}

	p2 := newProvider(t, dir)
	if err := p2.Start(context.Background(), []map[string]string{res}); err != nil {
		t.Fatal(err)
	}
	if p2.lay.port != port {
		t.Errorf("port changed from %d to %d", port, p2.lay.port)
	}
	if got, err := query(progs, url, "select v from t"); err != nil || got != "kept" {
		t.Errorf("after restart: %q, %v", got, err)
	}
}

func TestDeprovision(t *testing.T) {
	progs := needPostgres(t)
	dir := testDir(t, false)
	p := newProvider(t, dir)
	url, res := provision(t, p, "postgresql-gone")
	keptURL, _ := provision(t, p, "postgresql-kept")
	ctx := context.Background()
	if err := p.Deprovision(ctx, res); err != nil {
		t.Fatal(err)
	}
	if _, err := query(progs, url, "select 1"); err == nil {
		t.Error("the database still accepts connections after Deprovision")
	}
	if _, err := query(progs, keptURL, "select 1"); err != nil {
		t.Errorf("the other database is gone: %v", err)
	}
	if err := p.Deprovision(ctx, res); err != nil {
		t.Errorf("Deprovision again: %v", err)
	}
	if err := p.Deprovision(ctx, map[string]string{"database": `x"; drop role postgres; --`, "role": "x"}); err == nil {
		t.Error("an unsafe database name was accepted")
	}
}

func TestStartWithoutResources(t *testing.T) {
	dir := testDir(t, false)
	p := newProvider(t, dir)
	if err := p.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if p.srv != nil {
		t.Error("a server was started for no add-on")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Start without resources made %s: %v", dir, err)
	}
	p.Stop()
	p.Stop()
}

func TestInvalidName(t *testing.T) {
	p := New(t.TempDir(), Options{})
	defer p.Stop()
	_, _, err := p.Provision(context.Background(), "Bad_Name", "")
	if engine.ErrorCode(err) != engine.EINVALID {
		t.Errorf("Provision(Bad_Name) = %v, want EINVALID", err)
	}
	if p.srv != nil {
		t.Error("a server was started for an invalid name")
	}
}

func TestConcurrentProvision(t *testing.T) {
	progs := needPostgres(t)
	p := newProvider(t, testDir(t, false))
	var wg sync.WaitGroup
	urls := make([]string, 4)
	errs := make([]error, 4)
	for i := range urls {
		wg.Go(func() {
			urls[i], _, errs[i] = p.Provision(context.Background(), fmt.Sprintf("postgresql-c%d", i), "")
		})
	}
	wg.Wait()
	for i, url := range urls {
		if errs[i] != nil {
			t.Fatalf("Provision %d: %v", i, errs[i])
		}
		if _, err := query(progs, url, "select 1"); err != nil {
			t.Errorf("database %d: %v", i, err)
		}
	}
}

func TestRestartsAfterCrash(t *testing.T) {
	progs := needPostgres(t)
	p := newProvider(t, testDir(t, false))
	url, _ := provision(t, p, "postgresql-crash")
	p.mu.Lock()
	pid := p.srv.Pid()
	p.mu.Unlock()
	syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := query(progs, url, "select 1"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the server did not come back: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv == nil || p.srv.Pid() == pid {
		t.Error("no new server")
	}
}

// TestKilledHakoStopsServer kills, with SIGKILL, a process running a
// provider (this test binary, in helper mode) and checks that its server
// shuts down by itself.
func TestKilledHakoStopsServer(t *testing.T) {
	if dir := os.Getenv("HAKO_POSTGRES_HELPER_DIR"); dir != "" {
		p := New(dir, Options{})
		url, _, err := p.Provision(context.Background(), "postgresql-orphan", "")
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(url)
		select {}
	}
	progs := needPostgres(t)
	dir := testDir(t, false)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledHakoStopsServer$")
	cmd.Env = append(os.Environ(), "HAKO_POSTGRES_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "postgres://") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %q", line)
	}
	if _, err := query(progs, url, "select 1"); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for _, err := query(progs, url, "select 1"); err == nil || len(processesUsing(dir))+len(processesUsing(filepath.Join(fallbackBase, dirTag(dir)))) > 0; _, err = query(progs, url, "select 1") {
		if time.Now().After(deadline) {
			t.Fatal("the server outlived the killed provider")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestStopsLeftoverServer starts a cluster whose data directory another
// provider's server still runs on, as after a hako that died without its
// server, then one whose postmaster.pid names a process that is not
// PostgreSQL.
func TestStopsLeftoverServer(t *testing.T) {
	progs := needPostgres(t)
	dir := testDir(t, false)
	old := newProvider(t, dir)
	url, res := provision(t, old, "postgresql-left")
	old.mu.Lock()
	old.wanted = false // orphaned: nobody restarts it
	oldPid := old.srv.Pid()
	old.mu.Unlock()

	p := newProvider(t, dir)
	if err := p.Start(context.Background(), []map[string]string{res}); err != nil {
		t.Fatal(err)
	}
	if alive(oldPid) {
		t.Errorf("the leftover server (pid %d) still runs", oldPid)
	}
	if _, err := query(progs, url, "select 1"); err != nil {
		t.Fatal(err)
	}
	p.Stop()

	pidfile := filepath.Join(p.lay.data, "postmaster.pid")
	if err := os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"+p.lay.data+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), []map[string]string{res}); err != nil {
		t.Fatal(err)
	}
	if _, err := query(progs, url, "select 1"); err != nil {
		t.Fatal(err)
	}
}
