package buildpacks

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hako/engine"
	"hako/engine/dyno"
	"hako/engine/dyno/hosttest"
)

// TestMain lets the test binary be the init of sandboxed build steps, as
// the server binary is, and checks that those left no mounts or cgroups.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "dyno-init" {
		os.Exit(dyno.InitMain(os.Args[2:]))
	}
	tmp, err := hosttest.NewTemp("hako-buildpacks-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if sharedCache.dir != "" {
		os.RemoveAll(sharedCache.dir)
	}
	if err := tmp.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	for _, pattern := range []string{"/sys/fs/cgroup/*/hako/*", "/sys/fs/cgroup/hako/*"} {
		left, _ := filepath.Glob(pattern)
		for _, dir := range left {
			if strings.Contains(filepath.Base(dir), fmt.Sprintf(".%d.", os.Getpid())) {
				fmt.Fprintf(os.Stderr, "cgroup of a build step left behind: %s\n", dir)
				code = 1
			}
		}
	}
	os.Exit(code)
}

// sandboxed returns a Builder whose steps run isolated, with the
// directory that holds the mount points of their roots. It skips the test
// unless the host allows isolation (root), failing instead in CI.
func sandboxed(t *testing.T) (b *Builder, workDir, scratch string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("sandboxed builds must be tested in CI: run the tests as root")
		}
		t.Skip("sandboxed builds need root")
	}
	exe, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	scratch = t.TempDir()
	// The host's network: these tests are about the root and the user, and
	// a server running on the default dyno subnet must not refuse them.
	sup := dyno.New(dyno.Options{Exe: exe, Isolate: dyno.ModeNamespaces, ScratchDir: scratch, Network: dyno.NetworkHost})
	if !sup.Isolated() {
		t.Fatal("the supervisor does not isolate as root")
	}
	b, _, workDir = newTestBuilder(t)
	b.Sandbox = sup
	return b, workDir, scratch
}

// checkClean fails the test if a build left anything in its work or
// scratch directories.
func checkClean(t *testing.T, workDir, scratch string) {
	t.Helper()
	if extra := leftovers(t, workDir); len(extra) > 0 {
		t.Errorf("build left %v", extra)
	}
	if extra := listDir(t, scratch); len(extra) > 0 {
		t.Errorf("sandboxes left %v", extra)
	}
}

func TestBuildAppsInSandbox(t *testing.T) {
	for _, tt := range []struct {
		app, pack string
		tools     []string
		built     string // a file the compile step makes
	}{
		{"go-app", "Go", []string{"go"}, "bin/hello-go"},
		{"node-app", "Node.js", []string{"node", "npm"}, ".profile.d/nodejs.sh"},
		{"procfile-app", "Procfile", nil, "Procfile"},
	} {
		t.Run(tt.app, func(t *testing.T) {
			needTools(t, tt.tools...)
			b, workDir, scratch := sandboxed(t)
			b.SharedCache = testSharedCache(t)
			src := copyApp(t, tt.app)
			var out lockedBuffer
			res, err := b.Build(context.Background(), engine.BuildRequest{
				App: tt.app, SourceDir: src, CacheDir: filepath.Join(t.TempDir(), "cache"), Out: &out,
			})
			t.Logf("output:\n%s", out.String())
			if err != nil {
				t.Fatal(err)
			}
			if res.Buildpack != tt.pack || len(res.ProcessTypes) == 0 {
				t.Errorf("result = %+v", res)
			}
			dest := filepath.Join(t.TempDir(), "app")
			if err := b.Unpack(res.SlugID, dest); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dest, tt.built)); err != nil {
				t.Errorf("the slug lacks %s: %v", tt.built, err)
			}
			checkClean(t, workDir, scratch)
		})
	}
}

// A third-party pack, fetched with git, runs as the dyno user on a host
// name of its own, and can write only to the build's directories.
func TestSandboxConfinesPacks(t *testing.T) {
	needTools(t, "git")
	b, workDir, scratch := sandboxed(t)
	hidden := t.TempDir()
	probe := "/etc/hako-build-probe"
	t.Cleanup(func() { os.Remove(probe) })
	repo := t.TempDir()
	writeFiles(t, repo, map[string]string{
		"bin/detect": "#!/bin/sh\necho Probe\n",
		"bin/compile": `#!/bin/sh
echo "uid=$(id -u) host=$(hostname)"
try() { if ( echo x > "$1" ) 2>/dev/null; then echo "$2 writable"; else echo "$2 read-only"; fi; }
try /root/x root
try ` + probe + ` etc
try "$(cat "$3/HIDDEN")/x" hidden
try "$(dirname "$0")/x" pack
try "$3/x" env
try "$1/built.txt" build
try "$2/cached" cache
try "$HOME/x" home
test -e "$(cat "$3/HIDDEN")/secret" && echo "hidden seen" || echo "hidden unseen"
`,
	})
	if err := os.WriteFile(filepath.Join(hidden, "secret"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	gitInit(t, repo)
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"Procfile": "web: ./run\n"})
	var out lockedBuffer
	res, err := b.Build(context.Background(), engine.BuildRequest{
		App: "probe", SourceDir: src, Out: &out, Buildpacks: []string{"file://" + repo},
		Config: map[string]string{"HIDDEN": hidden},
	})
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"uid=65534 host=build\n", "root read-only\n", "etc read-only\n", "hidden read-only\n", "hidden unseen\n",
		"pack read-only\n", "env read-only\n", "build writable\n", "cache writable\n", "home writable\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, p := range []string{probe, "/root/x", filepath.Join(hidden, "x")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("the pack wrote %s on the host", p)
		}
	}
	dest := filepath.Join(t.TempDir(), "app")
	if err := b.Unpack(res.SlugID, dest); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dest, "built.txt")); err != nil {
		t.Errorf("the slug lacks what the pack built: %v", err)
	}
	checkClean(t, workDir, scratch)
}

// The server reads and writes files of the app as root after the steps:
// a link a step left there must not lead it onto the host.
func TestSandboxLinksDoNotLeadOut(t *testing.T) {
	packDir := t.TempDir()
	writeFiles(t, packDir, map[string]string{
		"bin/detect": "#!/bin/sh\necho Sneaky\n",
		"bin/compile": `#!/bin/sh
case "$(cat "$3/MODE")" in
profile) rm -rf "$1/.profile.d"; ln -s "$(cat "$3/TARGET")" "$1/.profile.d" ;;
procfile) ln -s /etc/passwd "$1/Procfile" ;;
esac
`,
		"bin/release": "#!/bin/sh\nprintf -- '---\\nconfig_vars:\\n  LANG: C\\n'\n",
	})
	for _, tt := range []struct{ mode, want string }{
		{"profile", " !     Push rejected, the release's config vars could not be saved.\n"},
		{"procfile", " !     The Procfile could not be read: it is a link that leads out of the app.\n"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			b, workDir, scratch := sandboxed(t)
			target := t.TempDir()
			src := t.TempDir()
			writeFiles(t, src, map[string]string{"run": "#!/bin/sh\n"})
			var out lockedBuffer
			_, err := b.Build(context.Background(), engine.BuildRequest{
				App: "sneaky", SourceDir: src, Out: &out, Buildpacks: []string{packDir},
				Config: map[string]string{"TARGET": target, "MODE": tt.mode},
			})
			t.Logf("output:\n%s", out.String())
			if engine.ErrorCode(err) != engine.EBUILD || !strings.Contains(out.String(), tt.want) {
				t.Errorf("Build = %v, want a failure saying %q", err, tt.want)
			}
			if names := listDir(t, target); len(names) > 0 {
				t.Errorf("the server wrote %v through the link", names)
			}
			if strings.Contains(out.String(), "root:") {
				t.Error("the server showed a host file")
			}
			checkClean(t, workDir, scratch)
		})
	}
}

// gitInit commits dir's files to a new repository in it.
func gitInit(t *testing.T, dir string) {
	t.Helper()
	for _, args := range [][]string{
		{"init", "-q"}, {"add", "."},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "pack"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}
