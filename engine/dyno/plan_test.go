package dyno

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"
)

func TestMountPlan(t *testing.T) {
	sys := systemDirs
	tests := []struct {
		name, path string
		extra      []string
	}{
		{"system dirs only", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", nil},
		{"toolchain under /usr/local is covered", "/usr/local/go/bin:/usr/bin", nil},
		{"toolchains in a home", "/usr/local/go/bin:/root/go/bin:/root/.cargo/bin:/usr/bin", []string{"/root/go/bin", "/root/.cargo/bin"}},
		{"duplicates once", "/root/.cargo/bin:/root/.cargo/bin", []string{"/root/.cargo/bin"}},
		{"shims bring their manager", "/root/.pyenv/shims:/root/.pyenv/bin", []string{"/root/.pyenv"}},
		{"outer dir replaces inner", "/srv/tools/bin:/srv/tools", []string{"/srv/tools"}},
		{"relative, root and private dirs skipped", "bin:.::/:/tmp/x/bin:/proc/1:/dev:/app/bin:/sys", nil},
		{"unclean paths", "/srv//tools/bin/", []string{"/srv/tools/bin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := append(slices.Clone(sys), tt.extra...)
			if got := planBinds(tt.path); !slices.Equal(got, want) {
				t.Errorf("planBinds(%q) = %q, want %q", tt.path, got, want)
			}
		})
	}
	// A resolver configuration that leads out of /etc brings its
	// directory along.
	if got := planBinds("/usr/bin", "/run/systemd/resolve"); !slices.Equal(got, append(slices.Clone(sys), "/run/systemd/resolve")) {
		t.Errorf("planBinds with a resolver dir = %q", got)
	}
}

func TestResolverDir(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "run", "resolve")
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "stub-resolv.conf"), []byte("nameserver 127.0.0.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "resolv.conf")
	if err := os.Symlink(filepath.Join(target, "stub-resolv.conf"), link); err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(target)
	if got := resolverDir(link); got != real {
		t.Errorf("resolverDir(symlink) = %q, want %q", got, real)
	}
	if got := resolverDir(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("resolverDir(missing) = %q", got)
	}
}

func TestCgroupPaths(t *testing.T) {
	tests := []struct {
		name string
		v2   bool
		self string
		want []string
	}{
		{"v1", false, "", []string{"/sys/fs/cgroup/memory/hako/u", "/sys/fs/cgroup/pids/hako/u"}},
		{"v2 at the root", true, "/", []string{"/sys/fs/cgroup/hako/u"}},
		{"v2 in a service", true, "/system.slice/hako.service", []string{"/sys/fs/cgroup/hako/u", "/sys/fs/cgroup/system.slice/hako.service/hako/u"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cgroupPaths("/sys/fs/cgroup", tt.v2, tt.self, "u"); !slices.Equal(got, tt.want) {
				t.Errorf("cgroupPaths = %q, want %q", got, tt.want)
			}
		})
	}
	if got := ownCgroupV2("12:pids:/a\n0::/user.slice/x.scope\n"); got != "/user.slice/x.scope" {
		t.Errorf("ownCgroupV2 = %q", got)
	}
	named := regexp.MustCompile(`^[0-9a-f]{16}\.42\.7$`)
	if a, b := sandboxName(42, 7), sandboxName(42, 7); !named.MatchString(a) || a == b {
		t.Errorf("sandboxName = %q then %q, want two random ids with pid 42 and sequence 7", a, b)
	}
	if pid, ok := sandboxOwner(sandboxName(42, 7)); !ok || pid != 42 {
		t.Errorf("sandboxOwner = %d, %v", pid, ok)
	}
}

func TestOverlayEscape(t *testing.T) {
	if got := overlayEscape(`/a,b:c\d`); got != `/a\,b\:c\\d` {
		t.Errorf("overlayEscape = %q", got)
	}
}

func TestCycleDelay(t *testing.T) {
	if d := New(Options{Isolate: ModeProcessGroup}).cycleDelay(); d < DefaultCycleAfter || d > DefaultCycleAfter+DefaultCycleJitter {
		t.Errorf("default cycle delay = %v", d)
	}
	if d := New(Options{Isolate: ModeProcessGroup, CycleAfter: time.Minute}).cycleDelay(); d != time.Minute {
		t.Errorf("cycle delay without jitter = %v", d)
	}
	if d := New(Options{Isolate: ModeProcessGroup, CycleAfter: -1}).cycleDelay(); d != 0 {
		t.Errorf("cycle delay when off = %v", d)
	}
}

func TestSweepStale(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"app.web_1.100.1", "app.web_1.200.2", "not-a-sandbox", "a.b.c.d"} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sweepStale(dir, func(pid int) bool { return pid == 200 }, os.RemoveAll)
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if want := []string{"a.b.c.d", "app.web_1.200.2", "not-a-sandbox"}; !slices.Equal(left, want) {
		t.Errorf("left after sweep: %q, want %q", left, want)
	}
}
