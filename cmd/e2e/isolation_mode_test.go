package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// nobody is the unprivileged user a non-root server runs as here.
const nobody = 65534

// needRootHost fails (under CI) or skips a test that must start servers
// as other users or with fewer privileges than root has.
func needRootHost(t *testing.T) {
	t.Helper()
	need(t, "setpriv")
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("this test starts servers as another user, which takes root; CI runs as root")
		}
		t.Skip("starting servers as another user takes root")
	}
}

// startNonRootServer starts a server as uid nobody, with a home of its
// own, through setpriv.
func startNonRootServer(t *testing.T, flags ...string) *server {
	t.Helper()
	needRootHost(t)
	// The binary's directory is the test's, closed to other users.
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	home, err := os.MkdirTemp("", "hako-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	if err := os.Chown(home, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	id := strconv.Itoa(nobody)
	return startServerWith(t, &server{
		home: home, flags: flags,
		wrap: []string{"setpriv", "--reuid=" + id, "--regid=" + id, "--clear-groups", "--"},
		env:  []string{"HOME=" + home},
	})
}

// startServerWithoutSysAdmin starts a root server without CAP_SYS_ADMIN,
// as in a container that is not privileged: it cannot create namespaces.
func startServerWithoutSysAdmin(t *testing.T, flags ...string) *server {
	t.Helper()
	needRootHost(t)
	return startServerWith(t, &server{
		home: t.TempDir(), flags: flags,
		wrap: []string{"setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", "--"},
	})
}

// bannerIsolation is the isolation line of the server's banner.
func (s *server) bannerIsolation(t *testing.T) string {
	t.Helper()
	for line := range strings.SplitSeq(s.out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "  isolation "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no isolation line in the banner:\n%s", s.out.String())
	return ""
}

// infoIsolation is the Isolation field of apps:info.
func (s *server) infoIsolation(t *testing.T, app string) string {
	t.Helper()
	out := s.hako(t, "apps:info", "-a", app)
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Isolation:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Isolation in apps:info:\n%s", out)
	return ""
}

// refusedPush pushes an app and checks that the server refused it with
// the line want, without a release or a dyno.
func (s *server) refusedPush(t *testing.T, app, want string) {
	t.Helper()
	s.hako(t, "apps:create", app)
	out, err := s.push(repo(t, "procfile-app"), s.key, app, "main")
	if err == nil {
		t.Fatalf("push accepted:\n%s", out)
	}
	found := false
	for line := range strings.SplitSeq(out, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "remote:"))
		found = found || line == "!     "+want
	}
	if !found {
		t.Errorf("push output lacks the line %q:\n%s", "!     "+want, out)
	}
	if strings.Contains(out, "Building on the") {
		t.Errorf("a refused push still built:\n%s", out)
	}
	var a struct {
		Release int `json:"current_release"`
	}
	if err := json.Unmarshal([]byte(s.hako(t, "apps:info", "-a", app, "--json")), &a); err != nil {
		t.Fatal(err)
	}
	if a.Release != 1 {
		t.Errorf("a refused push made release v%d", a.Release)
	}
	if ds := s.dynos(t, app); len(ds) != 0 {
		t.Errorf("dynos of a refused push: %+v", ds)
	}
}

// TestIsolationRequiredRefusesNonRoot runs a server that is not root with
// --isolation required: it says at start that it runs nothing, and
// refuses a push before building it.
func TestIsolationRequiredRefusesNonRoot(t *testing.T) {
	s := startNonRootServer(t, "--isolation", "required")
	const why = "This server refuses to run dynos and builds: --isolation required, but the server does not run as root, so it cannot isolate them (start it as root, or with --isolation auto on a single-user machine)."
	if got := s.bannerIsolation(t); got != "required: REFUSED: "+why {
		t.Errorf("banner isolation = %q", got)
	}
	s.refusedPush(t, "strict", why)
	if got := s.infoIsolation(t, "strict"); got != "required: REFUSED: "+why {
		t.Errorf("apps:info isolation = %q", got)
	}
}

// TestIsolationAutoNonRootWarns runs a server that is not root with the
// default --isolation auto: it says loudly, at start and in apps:info,
// that apps run as its own user, and they do.
func TestIsolationAutoNonRootWarns(t *testing.T) {
	need(t, "python3")
	s := startNonRootServer(t)
	want := "auto: WARNING: not running as root: dynos and builds are NOT isolated, they run as the server's own user (uid " + strconv.Itoa(nobody) + ") as plain process groups without namespaces"
	if got := s.bannerIsolation(t); got != want {
		t.Errorf("banner isolation = %q, want %q", got, want)
	}
	s.hako(t, "apps:create", "laptop")
	if got := s.infoIsolation(t, "laptop"); got != want {
		t.Errorf("apps:info isolation = %q, want %q", got, want)
	}
	if out, err := s.push(repo(t, "procfile-app"), s.key, "laptop", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "laptop", "hello from procfile")
	if uid := dynoUID(t, s, "laptop"); uid != nobody {
		t.Errorf("dynos run as uid %d, want the server's %d", uid, nobody)
	}
}

// TestRootWithoutNamespacesRefuses runs a root server that cannot create
// namespaces (no CAP_SYS_ADMIN, as in an unprivileged container): in
// every mode it refuses to run builds and dynos rather than run them as
// root; and --isolation none is refused to a root server outright.
func TestRootWithoutNamespacesRefuses(t *testing.T) {
	for _, mode := range []string{"auto", "required"} {
		t.Run(mode, func(t *testing.T) {
			s := startServerWithoutSysAdmin(t, "--isolation", mode)
			got := s.bannerIsolation(t)
			const prefix, suffix = "This server refuses to run dynos and builds: the server runs as root but cannot create namespaces (", "), and app code never runs as root."
			why, ok := strings.CutPrefix(got, mode+": REFUSED: ")
			if !ok || !strings.HasPrefix(why, prefix) || !strings.HasSuffix(why, suffix) || !strings.Contains(why, "operation not permitted") {
				t.Fatalf("banner isolation = %q", got)
			}
			s.refusedPush(t, "rooted", why)
		})
	}
	t.Run("none", func(t *testing.T) {
		needRootHost(t)
		home := t.TempDir()
		c := exec.Command(bin, "server", "--isolation", "none", "--ssh-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0")
		c.Env = append(os.Environ(), "HAKO_HOME="+home)
		out, err := c.CombinedOutput()
		want := " ▸    --isolation none is only allowed when the server does not run as root: app code would run as root. Use --isolation auto or required."
		if err == nil || !strings.Contains("\n"+string(out), "\n"+want+"\n") {
			t.Errorf("hako server --isolation none as root: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(home, "server.json")); err == nil {
			t.Error("the server started")
		}
	})
}
