package e2e

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"hako/engine/export/compose"
)

// TestExportAttachedAddons: the Compose export of an app runs the
// add-ons attached to it from another app too, each as a service named
// by its attachment, every var the add-on sets on the app pointing at
// it; the owning app's other add-ons, and its name, stay out.
func TestExportAttachedAddons(t *testing.T) {
	need(t, "psql", "redis-server")
	s := startServer(t)
	s.hako(t, "apps:create", "owner-x")
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "owner-x")
	s.hako(t, "addons:create", "heroku-redis", "-a", "owner-x")
	s.hako(t, "apps:create", "user-x")
	if out, err := s.push(repo(t, "env-app"), s.key, "user-x", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	pg := (&herokuEnv{t: t, s: s}).addonName("owner-x", "DATABASE")
	s.hako(t, "addons:attach", pg, "--as", "SHARED_DB", "-a", "user-x")
	s.hako(t, "addons:attach", pg, "--as", "REPORTS_DB", "-a", "user-x")

	dir := t.TempDir()
	s.hako(t, "export", "-a", "user-x", "--format", "compose", "--out", dir)
	yaml, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := compose.Validate(yaml)
	if err != nil {
		t.Fatalf("compose.yaml: %v\n%s", err, yaml)
	}
	if got, want := slices.Sorted(maps.Keys(f.Services)), []string{"release", "shared-db", "web", "worker"}; !slices.Equal(got, want) {
		t.Errorf("Compose services %v, want %v", got, want)
	}
	if db := f.Services["shared-db"]; db == nil || db.Image != "postgres:16" || db.Healthcheck == nil {
		t.Errorf("shared-db service: %+v", db)
	}
	if w := f.Services["web"]; w == nil || w.DependsOn["shared-db"].Condition != "service_completed_successfully" && w.DependsOn["release"].Condition != "service_completed_successfully" {
		t.Errorf("web waits for %+v", w.DependsOn)
	}
	envText, err := os.ReadFile(filepath.Join(dir, "user-x.env"))
	if err != nil {
		t.Fatal(err)
	}
	url := `postgres://user-x:[0-9a-f]{32}@shared-db:5432/user-x`
	for _, v := range []string{"SHARED_DB_URL", "REPORTS_DB_URL"} {
		if !hasLineMatch(string(envText), v+`='`+url+`'`) {
			t.Errorf("user-x.env has no %s pointing at shared-db:\n%s", v, envText)
		}
	}
	m := regexp.MustCompile(`(?m)^SHARED_DB_URL='(.*)'$`).FindStringSubmatch(string(envText))
	n := regexp.MustCompile(`(?m)^REPORTS_DB_URL='(.*)'$`).FindStringSubmatch(string(envText))
	if m == nil || n == nil || m[1] != n[1] {
		t.Errorf("the two attachments of one add-on point at different places:\n%s", envText)
	}
	for _, leak := range []string{"owner-x", "redis", "127.0.0.1"} {
		if strings.Contains(string(yaml), leak) || strings.Contains(string(envText), leak) {
			t.Errorf("the export of user-x names %q:\n%s\n%s", leak, yaml, envText)
		}
	}
}
