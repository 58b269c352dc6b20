package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// psql runs SQL against the test run's database with the host's psql.
func psql(t *testing.T, sql string) string {
	t.Helper()
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		t.Fatal("DATABASE_URL is not set: the test run has no database")
	}
	out, err := exec.Command("psql", url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestDatabase(t *testing.T) {
	psql(t, "CREATE TABLE greetings (text text)")
	psql(t, "INSERT INTO greetings VALUES ('"+greeting()+"'), ('again')")
	if got := psql(t, "SELECT count(*) FROM greetings"); got != "2" {
		t.Fatalf("count = %q, want 2", got)
	}
	t.Logf("CI=%s node %s of %s", os.Getenv("CI"), os.Getenv("CI_NODE_INDEX"), os.Getenv("CI_NODE_TOTAL"))
}

func TestEnvironment(t *testing.T) {
	for k, want := range map[string]string{"CI": "true", "APP_ENV": "test"} {
		if got := os.Getenv(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"HEROKU_TEST_RUN_ID", "HEROKU_TEST_RUN_COMMIT_VERSION"} {
		if os.Getenv(k) == "" {
			t.Errorf("%s is not set", k)
		}
	}
}
