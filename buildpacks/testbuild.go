package buildpacks

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"

	"hako/engine"
)

// testPacksDir is where a test build copies, inside the slug, the packs
// that have a bin/test, so that the test dynos can run them (the
// Testpack API's bin/test BUILD_DIR ENV_DIR) without seeing the server's
// files.
const testPacksDir = ".hako-ci/packs"

// has reports whether the pack has the script bin/name.
func (p *pack) has(name string) bool {
	fi, err := os.Stat(filepath.Join(p.dir, "bin", name))
	return err == nil && fi.Mode().IsRegular()
}

// testConfig is the config a test build's packs see: the request's,
// with the values of app.json's environments.test.env over it (secrets
// are generated for the test dynos only).
func testConfig(config map[string]string, aj *engine.AppJSON) map[string]string {
	if aj == nil || aj.Test == nil || len(aj.Test.Env) == 0 {
		return config
	}
	out := maps.Clone(config)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range aj.Test.Env {
		if v.HasValue {
			out[k] = v.Value
		}
	}
	return out
}

// keepTestPacks copies, for a test build, each pack with a bin/test into
// the build (testPacksDir/N), in the order the packs ran.
func (bd *build) keepTestPacks() error {
	if !bd.req.Test {
		return nil
	}
	for i, p := range bd.packs {
		if !p.has("test") {
			continue
		}
		rel := filepath.Join(testPacksDir, fmt.Sprint(i))
		dest := filepath.Join(bd.s.buildDir, rel)
		if err := os.RemoveAll(dest); err != nil {
			return err
		}
		if err := copyTree(p.dir, dest); err != nil {
			return fmt.Errorf("copy the %s pack's test scripts: %w", bd.names[i], err)
		}
		bd.testPacks = append(bd.testPacks, filepath.ToSlash(rel))
	}
	return nil
}

// copyTree copies the regular files and directories of a pack (links
// and other files are left out: a pack's scripts are files).
func copyTree(src, dest string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dest, rel)
		switch {
		case d.IsDir():
			if d.Name() == ".git" && path != src {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, fi.Mode().Perm()|0o444)
		}
		return nil
	})
}
