package buildpacks

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hako/engine"
)

func TestBuildApps(t *testing.T) {
	cacheDir := t.TempDir() // shared so the Go builds reuse their cache
	tests := []struct {
		app       string
		tools     []string
		wantPack  string
		wantTypes map[string]string
		wantOut   []string
		// wantErr is the error code of a failed build, "" for success.
		wantErr string
		wantMsg string
		check   func(t *testing.T, dir string)
	}{
		{
			app:       "go-app",
			tools:     []string{"go"},
			wantPack:  "Go",
			wantTypes: map[string]string{"web": "hello-go"},
			wantOut: []string{
				"-----> Building on the heroku-24 stack\n",
				"-----> Go app detected\n",
				"(host toolchain)\n",
				"       Running: go build",
				"-----> Discovering process types\n",
				"       Default types for buildpack -> web\n",
				"-----> Compressing...\n",
				"       Done: ",
			},
			check: func(t *testing.T, dir string) {
				fi, err := os.Stat(filepath.Join(dir, "bin", "hello-go"))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode()&0o111 == 0 || !fi.Mode().IsRegular() {
					t.Errorf("bin/hello-go mode = %v, want an executable file", fi.Mode())
				}
			},
		},
		{
			app:       "node-app",
			tools:     []string{"node", "npm"},
			wantPack:  "Node.js",
			wantTypes: map[string]string{"web": "npm start"},
			wantOut: []string{
				"-----> Node.js app detected\n",
				"       Running: npm install --no-audit --no-fund\n",
				"       Default types for buildpack -> web\n",
				"       Done: ",
			},
			check: func(t *testing.T, dir string) {
				if _, err := os.Stat(filepath.Join(dir, "server.js")); err != nil {
					t.Error(err)
				}
			},
		},
		{
			app:       "procfile-app",
			wantPack:  "Procfile",
			wantTypes: map[string]string{"web": "python3 -m http.server $PORT"},
			wantOut: []string{
				"-----> Procfile app detected\n",
				"       Procfile declares types -> web\n",
				"       Done: ",
			},
			check: func(t *testing.T, dir string) {
				data, err := os.ReadFile(filepath.Join(dir, "index.html"))
				if err != nil || string(data) != "hello from procfile\n" {
					t.Errorf("index.html = %q, %v", data, err)
				}
			},
		},
		{
			app:      "multi",
			wantPack: "Procfile",
			wantTypes: map[string]string{
				"web":    "python3 -m http.server $PORT",
				"worker": "sh -c 'while true; do echo tick; sleep 5; done'",
			},
			wantOut: []string{"       Procfile declares types -> web, worker\n"},
		},
		{
			app:     "broken-go",
			tools:   []string{"go"},
			wantErr: engine.EBUILD,
			wantMsg: "failed to compile Go app",
			wantOut: []string{"-----> Go app detected\n", " !     Push rejected, failed to compile Go app.\n"},
		},
		{
			app:     "no-language",
			wantErr: engine.EBUILD,
			wantMsg: "No default language could be detected",
			wantOut: []string{" !     No default language could be detected for this app.\n", "Procfile"},
		},
		{
			app:     "bad-procfile",
			wantErr: engine.EBUILD,
			wantMsg: "line 2",
			wantOut: []string{" !     Procfile line 2: "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			needTools(t, tt.tools...)
			b, slugDir, workDir := newTestBuilder(t)
			var out lockedBuffer
			res, err := b.Build(context.Background(), engine.BuildRequest{
				App:       tt.app,
				SourceDir: copyApp(t, tt.app),
				CacheDir:  cacheDir,
				Config:    map[string]string{"SECRET": "s3cret"},
				Out:       &out,
			})
			t.Logf("output:\n%s", out.String())
			for _, want := range tt.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q", want)
				}
			}
			if extra := leftovers(t, workDir); len(extra) > 0 {
				t.Errorf("build left %v in the work directory", extra)
			}
			if tt.wantErr != "" {
				if engine.ErrorCode(err) != tt.wantErr || !strings.Contains(engine.ErrorMessage(err), tt.wantMsg) {
					t.Fatalf("err = %v (%s), want %s containing %q", err, engine.ErrorCode(err), tt.wantErr, tt.wantMsg)
				}
				if slugs := listDir(t, slugDir); len(slugs) > 0 {
					t.Errorf("failed build left %v in the slug directory", slugs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Buildpack != tt.wantPack {
				t.Errorf("Buildpack = %q, want %q", res.Buildpack, tt.wantPack)
			}
			if !maps.Equal(res.ProcessTypes, tt.wantTypes) {
				t.Errorf("ProcessTypes = %v, want %v", res.ProcessTypes, tt.wantTypes)
			}
			fi, err := os.Stat(filepath.Join(slugDir, res.SlugID+".tgz"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != res.Size {
				t.Errorf("Size = %d, file has %d", res.Size, fi.Size())
			}
			dest := filepath.Join(t.TempDir(), "app")
			if err := b.Unpack(res.SlugID, dest); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out.String(), "s3cret") {
				t.Error("a config var leaked into the build output")
			}
			if tt.check != nil {
				tt.check(t, dest)
			}
			if err := b.RemoveSlug(res.SlugID); err != nil {
				t.Fatal(err)
			}
			if err := b.RemoveSlug(res.SlugID); err != nil {
				t.Errorf("removing a removed slug: %v", err)
			}
		})
	}
}

func TestBuildEmptyCommit(t *testing.T) {
	b, slugDir, _ := newTestBuilder(t)
	src := t.TempDir()
	writeFiles(t, src, map[string]string{".git/HEAD": "ref: refs/heads/main\n"})
	var out lockedBuffer
	_, err := b.Build(context.Background(), engine.BuildRequest{App: "empty", SourceDir: src, Out: &out})
	if engine.ErrorCode(err) != engine.EBUILD || !strings.Contains(out.String(), " !     Push rejected: the pushed commit has no files.\n") {
		t.Fatalf("err = %v, output:\n%s", err, out.String())
	}
	if len(listDir(t, slugDir)) > 0 {
		t.Error("a slug was stored")
	}
}

// A third-party pack given as a directory sees the classic API: its
// arguments, the config vars in ENV_DIR and a clean environment.
func TestThirdPartyPack(t *testing.T) {
	packDir := t.TempDir()
	writeFiles(t, packDir, map[string]string{
		"bin/detect": "#!/bin/sh\necho Custom\n",
		"bin/compile": `#!/bin/sh
set -e
echo "-----> Custom compile"
[ "$(pwd)" = "$1" ] || { echo "cwd is not BUILD_DIR"; exit 1; }
[ -d "$2" ] || { echo "no CACHE_DIR"; exit 1; }
echo "GREETING from env dir: $(cat "$3/GREETING")"
echo "GREETING exported: ${GREETING:-no}"
echo "stack: $STACK"
echo "leak: ${HAKO_TEST_LEAK:-none}"
echo "version: ${SOURCE_VERSION:-none}"
echo "made by custom" > "$1/made.txt"
touch "$2/cached"
`,
		"bin/release": "#!/bin/sh\ncat <<'YAML'\n---\naddons:\n  - heroku-postgresql\nconfig_vars:\n  LANG: \"en_US.UTF-8\"\ndefault_process_types:\n  web: ./serve --port $PORT\n  console: 'sh'\nYAML\n",
	})
	t.Setenv("HAKO_TEST_LEAK", "leaked")
	b, _, _ := newTestBuilder(t)
	src := t.TempDir()
	// A .git of the source is never read: SOURCE_VERSION is the request's.
	writeFiles(t, src, map[string]string{"serve": "#!/bin/sh\n", ".git/HEAD": "ref: refs/heads/main\n"})
	cache := filepath.Join(t.TempDir(), "cache")
	var out lockedBuffer
	res, err := b.Build(context.Background(), engine.BuildRequest{
		App: "custom", SourceDir: src, CacheDir: cache, Out: &out, Commit: "v1.2.3",
		Config:     map[string]string{"GREETING": "hi"},
		Buildpacks: []string{packDir},
	})
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"-----> Custom app detected\n", "-----> Custom compile\n",
		"GREETING from env dir: hi\n", "GREETING exported: no\n",
		"stack: heroku-24\n", "leak: none\n", "version: v1.2.3\n",
		"       Default types for buildpack -> web, console\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if res.Buildpack != "Custom" || res.ProcessTypes["web"] != "./serve --port $PORT" || res.ProcessTypes["console"] != "sh" {
		t.Errorf("result = %+v", res)
	}
	if _, err := os.Stat(filepath.Join(cache, "cached")); err != nil {
		t.Error("CACHE_DIR is not the request's cache dir")
	}
	dest := filepath.Join(t.TempDir(), "app")
	if err := b.Unpack(res.SlugID, dest); err != nil {
		t.Fatal(err)
	}
	profile, err := os.ReadFile(filepath.Join(dest, configVarsProfile))
	if err != nil || !strings.Contains(string(profile), "LANG='en_US.UTF-8'") {
		t.Errorf("config vars profile = %q, %v", profile, err)
	}
	if _, err := os.Stat(filepath.Join(dest, "made.txt")); err != nil {
		t.Error(err)
	}
}

// With several packs, what one exports is in the environment of the next,
// and the last one's release decides the default process types.
func TestMultiBuildpackExport(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	writeFiles(t, first, map[string]string{
		"bin/detect":  "#!/bin/sh\necho First\n",
		"bin/compile": "#!/bin/sh\necho \"-----> first compile\"\n",
		"bin/release": "#!/bin/sh\nprintf -- '---\\ndefault_process_types:\\n  web: first\\n'\n",
		"export":      "export FROM_FIRST='hello from first'\nexport PATH=\"/opt/first/bin:$PATH\"\n",
	})
	writeFiles(t, second, map[string]string{
		"bin/detect":  "#!/bin/sh\necho Second\n",
		"bin/compile": "#!/bin/sh\necho \"FROM_FIRST=$FROM_FIRST\"\necho \"PATH=$PATH\"\n",
		"bin/release": "#!/bin/sh\nprintf -- '---\\ndefault_process_types:\\n  web: second\\n'\n",
	})
	b, _, _ := newTestBuilder(t)
	src := t.TempDir()
	writeFiles(t, src, map[string]string{
		"README": "x",
		// The request's list wins over the app's .buildpacks file.
		".buildpacks": "procfile\n",
	})
	var out lockedBuffer
	res, err := b.Build(context.Background(), engine.BuildRequest{
		App: "multi", SourceDir: src, Out: &out, Buildpacks: []string{first, second},
	})
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "FROM_FIRST=hello from first\n") || !strings.Contains(out.String(), "PATH=/opt/first/bin:") {
		t.Error("the first pack's export did not reach the second")
	}
	if res.Buildpack != "Second" || res.ProcessTypes["web"] != "second" {
		t.Errorf("result = %+v", res)
	}
}

// The app's .buildpacks file names built-in and installed packs; a git
// URL the server trusts (the request's list) is cloned, a local
// repository like a remote one.
func TestBuildpacksFileAndGit(t *testing.T) {
	needTools(t, "git")
	repo := t.TempDir()
	writeFiles(t, repo, map[string]string{
		"bin/detect":  "#!/bin/sh\necho FromGit\n",
		"bin/compile": "#!/bin/sh\necho '-----> compiled by the cloned pack'\n",
	})
	for _, args := range [][]string{
		{"init", "-q"}, {"add", "."},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "pack"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	b, _, workDir := newTestBuilder(t)
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"Procfile": "web: ./run\n"})
	var out lockedBuffer
	res, err := b.Build(context.Background(), engine.BuildRequest{App: "git", SourceDir: src, Out: &out, Buildpacks: []string{"file://" + repo, "procfile"}})
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "-----> compiled by the cloned pack\n") || res.Buildpack != "Procfile" {
		t.Errorf("result = %+v", res)
	}

	b.InstalledDir = t.TempDir()
	writeFiles(t, filepath.Join(b.InstalledDir, "mypack"), map[string]string{
		"bin/detect":  "#!/bin/sh\necho Installed\n",
		"bin/compile": "#!/bin/sh\necho '-----> compiled by the installed pack'\n",
	})
	src = t.TempDir()
	writeFiles(t, src, map[string]string{".buildpacks": "# packs\nmypack\n\nprocfile\n", "Procfile": "web: ./run\n"})
	out = lockedBuffer{}
	if _, err := b.Build(context.Background(), engine.BuildRequest{App: "installed", SourceDir: src, Out: &out}); err != nil || !strings.Contains(out.String(), "compiled by the installed pack") {
		t.Errorf("installed pack: %v\n%s", err, out.String())
	}

	// An app may not point the server at its own paths or repositories.
	for _, bad := range []string{repo, "file://" + repo, "../" + filepath.Base(repo), "mypack/../../etc"} {
		src := t.TempDir()
		writeFiles(t, src, map[string]string{".buildpacks": bad + "\n", "Procfile": "web: ./run\n"})
		out := lockedBuffer{}
		_, err := b.Build(context.Background(), engine.BuildRequest{App: "sneaky", SourceDir: src, Out: &out})
		want := fmt.Sprintf(" !     Line 1 of .buildpacks (%s) is not a buildpack an app may name: ", quoteLine(bad))
		if engine.ErrorCode(err) != engine.EBUILD || !strings.Contains(out.String(), "\n"+want) {
			t.Errorf(".buildpacks %q: %v\n%s", bad, err, out.String())
		}
	}
	if extra := leftovers(t, workDir); len(extra) > 0 {
		t.Errorf("build left %v", extra)
	}
}

func TestBuildFailures(t *testing.T) {
	tests := []struct {
		name    string
		packs   []string
		files   map[string]string
		wantOut string
	}{
		{"unknown pack", []string{"no-such-pack"}, map[string]string{"Procfile": "web: x\n"}, `Buildpack "no-such-pack" was not found`},
		{"incompatible pack", []string{"go"}, map[string]string{"Procfile": "web: x\n"}, " !     App not compatible with buildpack: go\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, slugDir, workDir := newTestBuilder(t)
			src := t.TempDir()
			writeFiles(t, src, tt.files)
			var out lockedBuffer
			_, err := b.Build(context.Background(), engine.BuildRequest{App: "x", SourceDir: src, Out: &out, Buildpacks: tt.packs})
			if engine.ErrorCode(err) != engine.EBUILD || !strings.Contains(out.String(), tt.wantOut) {
				t.Fatalf("err = %v, output:\n%s", err, out.String())
			}
			if len(listDir(t, slugDir)) > 0 || len(leftovers(t, workDir)) > 0 {
				t.Error("the failed build left files behind")
			}
		})
	}
}

func TestNoProcessTypes(t *testing.T) {
	pack := t.TempDir()
	writeFiles(t, pack, map[string]string{
		"bin/detect":  "#!/bin/sh\necho Bare\n",
		"bin/compile": "#!/bin/sh\n",
		"bin/release": "#!/bin/sh\necho '--- {}'\n",
	})
	b, _, _ := newTestBuilder(t)
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"main.txt": "x"})
	var out lockedBuffer
	_, err := b.Build(context.Background(), engine.BuildRequest{App: "x", SourceDir: src, Out: &out, Buildpacks: []string{pack}})
	want := ` !     No process types: add a Procfile with a line such as "web: ./server"` + "\n"
	if engine.ErrorCode(err) != engine.EBUILD || !strings.Contains(out.String(), want) {
		t.Fatalf("err = %v, output:\n%s", err, out.String())
	}
}

// Cancelling the build kills the compile step and everything it started.
func TestBuildCancel(t *testing.T) {
	pack := t.TempDir()
	writeFiles(t, pack, map[string]string{
		"bin/detect":  "#!/bin/sh\necho Slow\n",
		"bin/compile": "#!/bin/sh\necho started\nsleep 300 &\nsleep 300\n",
	})
	b, slugDir, workDir := newTestBuilder(t)
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"Procfile": "web: x\n"})
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	go func() {
		for !strings.Contains(out.String(), "started") {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	_, err := b.Build(ctx, engine.BuildRequest{App: "x", SourceDir: src, Out: &out, Buildpacks: []string{pack}})
	if engine.ErrorCode(err) != engine.EBUILD || !strings.Contains(out.String(), "Build canceled.") {
		t.Fatalf("err = %v, output:\n%s", err, out.String())
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("cancel took %v", d)
	}
	if len(listDir(t, slugDir)) > 0 || len(leftovers(t, workDir)) > 0 {
		t.Error("the canceled build left files behind")
	}
}

// A build canceled before it starts runs no step of a pack and says only
// that it was canceled.
func TestBuildCanceledBeforeStart(t *testing.T) {
	pack := t.TempDir()
	ran := filepath.Join(t.TempDir(), "ran")
	writeFiles(t, pack, map[string]string{
		"bin/detect":  "#!/bin/sh\ntouch " + ran + "\necho Never\n",
		"bin/compile": "#!/bin/sh\ntouch " + ran + "\n",
	})
	b, slugDir, workDir := newTestBuilder(t)
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"Procfile": "web: x\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out lockedBuffer
	_, err := b.Build(ctx, engine.BuildRequest{App: "x", SourceDir: src, Out: &out, Buildpacks: []string{pack}})
	if engine.ErrorCode(err) != engine.EBUILD || out.String() != " !     Build canceled.\n" {
		t.Fatalf("err = %v, output:\n%s", err, out.String())
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("a step of the pack ran after the build was canceled")
	}
	if len(listDir(t, slugDir)) > 0 || len(leftovers(t, workDir)) > 0 {
		t.Error("the canceled build left files behind")
	}
}

// The built-in packs are real executable files, written once.
func TestBuiltinPacksExtracted(t *testing.T) {
	b, _, workDir := newTestBuilder(t)
	for _, p := range builtinOrder {
		for _, s := range []string{"detect", "compile", "release"} {
			fi, err := os.Stat(filepath.Join(b.packsDir, p, "bin", s))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o755 {
				t.Errorf("%s/bin/%s mode = %v", p, s, fi.Mode())
			}
		}
	}
	b2, err := New(filepath.Join(workDir, "..", "slugs"), workDir)
	if err != nil {
		t.Fatal(err)
	}
	if b2.packsDir != b.packsDir || len(listDir(t, workDir)) != 1 {
		t.Errorf("packs written twice: %v", listDir(t, workDir))
	}
}

// Without the host toolchain a build fails saying what to install.
func TestMissingToolchain(t *testing.T) {
	tests := []struct {
		app, want string
	}{
		{"go-app", "Go must be installed on the hako host"},
		{"node-app", "Node.js and npm must be installed on the hako host"},
	}
	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			b, slugDir, _ := newTestBuilder(t)
			emptyPath := t.TempDir() // the packs' scripts start with an absolute #! line
			b.hostEnv = func() []string { return []string{"PATH=" + emptyPath} }
			var out lockedBuffer
			_, err := b.Build(context.Background(), engine.BuildRequest{App: "x", SourceDir: copyApp(t, tt.app), Out: &out})
			if engine.ErrorCode(err) != engine.EBUILD || !strings.Contains(out.String(), tt.want) || !strings.Contains(out.String(), "Push rejected, failed to compile") {
				t.Fatalf("err = %v, output:\n%s", err, out.String())
			}
			if len(listDir(t, slugDir)) > 0 {
				t.Error("a slug was stored")
			}
		})
	}
}

// A build script in package.json runs after the install, and a lockfile
// switches the install to npm ci.
func TestNodeBuildScript(t *testing.T) {
	needTools(t, "node", "npm")
	b, _, _ := newTestBuilder(t)
	src := copyApp(t, "node-app")
	writeFiles(t, src, map[string]string{
		"package.json":      `{"name": "built", "version": "1.0.0", "scripts": {"start": "node server.js", "build": "node -e \"require('fs').writeFileSync('built.txt', 'ok')\""}}`,
		"package-lock.json": `{"name": "built", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": {"": {"name": "built", "version": "1.0.0"}}}`,
	})
	var out lockedBuffer
	res, err := b.Build(context.Background(), engine.BuildRequest{App: "x", SourceDir: src, CacheDir: t.TempDir(), Out: &out})
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Running: npm ci --no-audit --no-fund\n", "Running: npm run build\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	dest := filepath.Join(t.TempDir(), "app")
	if err := b.Unpack(res.SlugID, dest); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dest, "built.txt")); string(data) != "ok" {
		t.Errorf("built.txt = %q: the build script did not run", data)
	}
}

// The built-in packs' detection answered without running bin/detect
// (detectBuiltin) is what the script answers, for a marker that is a
// regular file, missing, or a directory; a symlink is left to the script.
func TestBuiltinMarkersMatchScripts(t *testing.T) {
	b, _, _ := newTestBuilder(t)
	for _, pack := range builtinOrder {
		m, ok := builtinMarkers[pack]
		if !ok {
			t.Fatalf("built-in pack %s has no marker", pack)
		}
		for _, shape := range []string{"file", "missing", "dir", "symlink"} {
			dir := t.TempDir()
			target := filepath.Join(dir, m.file)
			switch shape {
			case "file":
				os.WriteFile(target, []byte("x"), 0o644)
			case "dir":
				os.Mkdir(target, 0o755)
			case "symlink":
				os.WriteFile(filepath.Join(dir, "real"), []byte("x"), 0o644)
				os.Symlink("real", target)
			}
			name, detected, known := detectBuiltin(pack, dir)
			if shape == "symlink" {
				if known {
					t.Errorf("%s, %s: answered without the script", pack, shape)
				}
				continue
			}
			if !known {
				t.Errorf("%s, %s: left to the script", pack, shape)
				continue
			}
			out, err := exec.Command("sh", filepath.Join(b.packsDir, pack, "bin", "detect"), dir).Output()
			wantDetected := err == nil
			wantName := strings.TrimSpace(string(out))
			if detected != wantDetected || detected && name != wantName {
				t.Errorf("%s, %s: answered %q %v; the script %q %v", pack, shape, name, detected, wantName, wantDetected)
			}
		}
	}
}

// What the built-in procfile pack's compile and release print, answered
// without running them, is what the scripts print.
func TestProcfilePackAnsweredHere(t *testing.T) {
	b, _, _ := newTestBuilder(t)
	dir := t.TempDir()
	bin := filepath.Join(b.packsDir, "procfile", "bin")
	for _, c := range []struct {
		script string
		args   []string
		want   string
	}{
		{"compile", []string{dir, t.TempDir(), t.TempDir()}, procfileCompiled},
		{"release", []string{dir}, procfileRelease},
	} {
		out, err := exec.Command("sh", append([]string{filepath.Join(bin, c.script)}, c.args...)...).Output()
		if err != nil || string(out) != c.want {
			t.Errorf("bin/%s printed %q (%v); answered here as %q", c.script, out, err, c.want)
		}
	}
}
