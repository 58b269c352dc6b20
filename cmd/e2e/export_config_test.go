package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"hako/engine/export/compose"
	"hako/engine/export/kubernetes"
	"hako/engine/export/nomad"
)

// TestExportReleaseConfig: exporting an earlier release writes that
// release's config vars into every manifest, not the app's current ones,
// and leaves out an add-on attached since; exporting the current release
// writes the current vars and runs the add-on.
func TestExportReleaseConfig(t *testing.T) {
	need(t, "redis-server")
	s := startServer(t)
	s.hako(t, "apps:create", "cfgx")
	s.hako(t, "config:set", "-a", "cfgx", "GREETING=first", "GONE=only in the old one")
	// v1 is the app's, v2 the config's, v3 the deploy's.
	if out, err := s.push(repo(t, "env-app"), s.key, "cfgx", "main"); err != nil || !released(out, 3) {
		t.Fatalf("push: %v\n%s", err, out)
	}
	old := map[string]string{"GREETING": "first", "GONE": "only in the old one"}
	s.hako(t, "config:set", "-a", "cfgx", "GREETING=second", "ADDED=new")
	s.hako(t, "config:unset", "-a", "cfgx", "GONE")
	// An add-on attached since v3 is none of v3's.
	s.hako(t, "addons:create", "heroku-redis", "-a", "cfgx")
	cur := map[string]string{"GREETING": "second", "ADDED": "new", "REDIS_URL": strings.TrimSpace(s.hako(t, "config:get", "-a", "cfgx", "REDIS_URL"))}

	export := func(release string) string {
		out := t.TempDir()
		for _, f := range []string{"compose", "kubernetes", "nomad"} {
			args := []string{"export", "-a", "cfgx", "--format", f, "--out", out}
			if release != "" {
				args = append(args, "--release", release)
			}
			s.hako(t, args...)
		}
		return out
	}
	check := func(t *testing.T, dir string, want map[string]string, wantEnvFile string, services []string) {
		t.Helper()
		read := func(name string) []byte {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		if got := string(read("cfgx.env")); got != wantEnvFile {
			t.Errorf("cfgx.env =\n%s\nwant\n%s", got, wantEnvFile)
		}
		f, err := compose.Validate(read("compose.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(maps.Keys(f.Services)); !slices.Equal(got, services) {
			t.Errorf("Compose services %v, want %v", got, services)
		}
		objs, err := kubernetes.Decode(read("cfgx.kubernetes.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if sec, ok := o.(*corev1.Secret); ok && !maps.Equal(sec.StringData, want) {
				t.Errorf("Kubernetes Secret = %v, want %v", sec.StringData, want)
			}
		}
		job, err := nomad.Decode(read("cfgx.nomad.json"))
		if err != nil {
			t.Fatal(err)
		}
		env := maps.Clone(job.TaskGroups[0].Tasks[0].Env)
		delete(env, "PORT")
		if !maps.Equal(env, want) {
			t.Errorf("Nomad env = %v, want %v", env, want)
		}
	}
	t.Run("earlier", func(t *testing.T) {
		check(t, export("v3"), old, "GONE='only in the old one'\nGREETING='first'\n", []string{"release", "web", "worker"})
	})
	t.Run("current", func(t *testing.T) {
		check(t, export(""), cur, "ADDED='new'\nGREETING='second'\nREDIS_URL='redis://redis:6379'\n", []string{"redis", "release", "web", "worker"})
	})
}
