package buildpacks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hako/engine"
)

// A test build runs a pack's bin/test-compile instead of its
// bin/compile, gives the packs environments.test.env, allows no process
// types, and copies the packs with a bin/test into the slug; a normal
// build of the same app does none of that.
func TestTestBuild(t *testing.T) {
	withTest, plain := t.TempDir(), t.TempDir()
	common := map[string]string{
		"bin/detect":  "#!/bin/sh\necho Custom\n",
		"bin/compile": "#!/bin/sh\necho \"-----> compile\"\n",
		"bin/test-compile": "#!/bin/sh\necho \"-----> test-compile MODE=$(cat \"$3/MODE\" 2>/dev/null) CI=$(cat \"$3/CI\")\"\n" +
			"echo built >\"$1/test-build.txt\"\n",
	}
	writeFiles(t, withTest, common)
	writeFiles(t, withTest, map[string]string{"bin/test": "#!/bin/sh\necho testing\n", "lib/helper.sh": "x=1\n"})
	writeFiles(t, plain, common)
	b, _, _ := newTestBuilder(t)
	build := func(test bool) (*engine.BuildResult, string, string) {
		src := t.TempDir()
		writeFiles(t, src, map[string]string{"app.json": `{"environments": {"test": {"env": {"MODE": "testing", "SECRET": {"generator": "secret"}}}}}`})
		if !test { // a test build needs no process type
			writeFiles(t, src, map[string]string{"Procfile": "web: ./serve\n"})
		}
		var out lockedBuffer
		res, err := b.Build(context.Background(), engine.BuildRequest{
			App: "ci", SourceDir: src, CacheDir: filepath.Join(t.TempDir(), "cache"), Out: &out, Test: test,
			Config: map[string]string{"CI": "true"}, Buildpacks: []string{plain, withTest},
		})
		if err != nil {
			t.Fatalf("build (test %v): %v\n%s", test, err, out.String())
		}
		dest := filepath.Join(t.TempDir(), "app")
		if err := b.Unpack(res.SlugID, dest); err != nil {
			t.Fatal(err)
		}
		return res, out.String(), dest
	}

	res, out, dest := build(true)
	if strings.Count(out, "-----> test-compile MODE=testing CI=true\n") != 2 || strings.Contains(out, "-----> compile\n") {
		t.Errorf("a test build ran:\n%s", out)
	}
	if len(res.TestPacks) != 1 || res.TestPacks[0] != ".hako-ci/packs/1" {
		t.Fatalf("TestPacks = %q, want the second pack's copy", res.TestPacks)
	}
	for _, f := range []string{"bin/test", "lib/helper.sh"} {
		if _, err := os.Stat(filepath.Join(dest, res.TestPacks[0], f)); err != nil {
			t.Errorf("the slug lacks the pack's %s: %v", f, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dest, res.TestPacks[0], "bin/test")); err == nil && fi.Mode()&0o111 == 0 {
		t.Errorf("bin/test in the slug is not executable: %v", fi.Mode())
	}

	res, out, dest = build(false)
	if strings.Count(out, "-----> compile\n") != 2 || strings.Contains(out, "test-compile") {
		t.Errorf("a normal build ran:\n%s", out)
	}
	if len(res.TestPacks) != 0 {
		t.Errorf("a normal build kept test packs: %q", res.TestPacks)
	}
	if _, err := os.Stat(filepath.Join(dest, ".hako-ci")); err == nil {
		t.Error("a normal build's slug holds .hako-ci")
	}
}
