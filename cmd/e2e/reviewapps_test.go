package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const reviewAppJSON = `{
  "env": {"GREETING": {"value": "from app.json"}},
  "addons": [{"plan": "heroku-postgresql", "options": {"fork": "PARENT"}}],
  "scripts": {
    "postdeploy": "psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -qc \"insert into items (name) values ('postdeploy')\"",
    "pr-predestroy": "echo predestroy ran for $HEROKU_APP_NAME"
  }
}
`

// reviewName matches the names review apps may get: valid app names.
var reviewName = regexp.MustCompile(`^[a-z][a-z0-9-]{1,28}[a-z0-9]$`)

// TestReviewApps enables review apps on a parent and pushes a branch: it
// becomes an app of its own, served at its name, with the parent's config
// vars unless app.json gives a value, a fork of the parent's database
// (whose writes stay in the fork), postdeploy run once; a second push
// updates it; deleting the branch runs pr-predestroy and destroys it with
// its database. Hostile branch names give valid, distinct app names and
// run nothing.
func TestReviewApps(t *testing.T) {
	need(t, "python3", "psql")
	s := startServer(t)
	s.hako(t, "apps:create", "shop")
	dir := repo(t, "env-app")
	commitFiles(t, dir, map[string]string{"app.json": reviewAppJSON}, "app.json")
	if out, err := s.push(dir, s.key, "shop", "main"); err != nil {
		t.Fatalf("push main: %v\n%s", err, out)
	}
	// The parent's own database is fresh: the fork option is for review apps.
	s.psqlValue(t, "shop", "create table items (id serial primary key, name text); insert into items (name) values ('alpha'), ('beta')")
	s.hako(t, "config:set", "-a", "shop", "GREETING=parent greeting", "FROM_PARENT=inherited")
	parentURL := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "shop"))

	// Without review apps a branch is stored, not deployed.
	git(t, dir, "checkout", "-q", "-b", "feature-x")
	commitFile(t, dir, "NOTES", "feature x\n")
	out, err := s.push(dir, s.key, "shop", "feature-x")
	if err != nil || !hasRemoteLine(out, "-----> Branch feature-x stored, not deployed: push to main or master to deploy (git push REMOTE feature-x:main), or make review apps with `hako reviewapps:enable -a shop`.") {
		t.Fatalf("branch push without review apps: %v\n%s", err, out)
	}
	if out := s.hako(t, "reviewapps:enable", "-a", "shop"); !hasLine(out, "Review apps enabled on ⬢ shop: `git push hako BRANCH` deploys BRANCH to its own app.") {
		t.Errorf("reviewapps:enable:\n%s", out)
	}
	commitFile(t, dir, "NOTES", "feature x, again\n")
	out, err = s.push(dir, s.key, "shop", "feature-x")
	if err != nil || !hasRemoteLine(out, "-----> Created review app shop-feature-x of shop for branch feature-x") || !hasRemoteLineMatch(out, `-----> Forked shop's postgresql-[a-z]+-\d{5} into postgresql-[a-z]+-\d{5} as DATABASE in \d+\.\d s \(.*\)`) || !released(out, 2) {
		t.Fatalf("branch push with review apps: %v\n%s", err, out)
	}
	s.waitBody(t, "shop-feature-x", "env-app")
	// The review app's build is its own, not its parent's.
	if builds, raw := s.builds(t, "shop-feature-x"); len(builds) != 1 || builds[0].Status != "succeeded" || builds[0].Release == nil {
		t.Errorf("the review app's builds: %s", raw)
	}
	s.waitPath(t, "shop-feature-x", "/env/GREETING", "from app.json")
	s.waitPath(t, "shop-feature-x", "/env/FROM_PARENT", "inherited")
	s.waitPath(t, "shop-feature-x", "/env/HEROKU_PARENT_APP_NAME", "shop")
	s.waitPath(t, "shop-feature-x", "/env/HEROKU_BRANCH", "feature-x")
	s.waitPath(t, "shop", "/env/GREETING", "parent greeting")
	reviewURL := strings.TrimSpace(s.hako(t, "config:get", "DATABASE_URL", "-a", "shop-feature-x"))
	if reviewURL == parentURL || !strings.HasPrefix(reviewURL, "postgres://") {
		t.Fatalf("review DATABASE_URL = %q (parent's %q)", reviewURL, parentURL)
	}
	// The fork holds the parent's rows and postdeploy's; its writes stay in it.
	want := "alpha,beta,postdeploy"
	q := "select string_agg(name, ',' order by id) from items"
	if got := s.psqlValue(t, "shop-feature-x", q); got != want {
		t.Errorf("review database = %q, want %q", got, want)
	}
	s.psqlValue(t, "shop-feature-x", "insert into items (name) values ('review only'); delete from items where name = 'alpha'")
	if got := s.psqlValue(t, "shop", q); got != "alpha,beta" {
		t.Errorf("parent database after writes to the fork = %q, want alpha,beta", got)
	}
	// The review app's role cannot reach the parent's database.
	cross := reviewURL[:strings.LastIndex(reviewURL, "/")] + parentURL[strings.LastIndex(parentURL, "/"):]
	if out, err := exec2("psql", cross, "-X", "-tAc", "select count(*) from items"); err == nil {
		t.Errorf("the review app's role reads the parent's database:\n%s", out)
	}

	// A restarted server serves the review app again, as any app.
	s.stop()
	s.start()
	s.waitPath(t, "shop-feature-x", "/env/GREETING", "from app.json")

	// A second push updates it; postdeploy does not run again.
	commitFile(t, dir, "index.txt", "second\n")
	out, err = s.push(dir, s.key, "shop", "feature-x")
	if err != nil || !released(out, 3) || hasRemoteLine(out, "-----> Running postdeploy script...") {
		t.Fatalf("second branch push: %v\n%s", err, out)
	}
	if got := s.psqlValue(t, "shop-feature-x", "select count(*) from items where name = 'postdeploy'"); got != "1" {
		t.Errorf("postdeploy rows after two pushes = %s, want 1", got)
	}
	if out := s.hako(t, "reviewapps", "-a", "shop"); !hasLine(out, "=== ⬢ shop Review apps (enabled)") || !hasLineMatch(out, `shop-feature-x\s+feature-x\s+v3\s+[0-9a-f]{7}\s+http://shop-feature-x\.localhost:\d+/?`) {
		t.Errorf("reviewapps:\n%s", out)
	}

	// Hostile branch names: shell metacharacters, 200 characters, a name
	// that folds onto an existing one; each gets a valid app of its own
	// and nothing of the name is run.
	marker := filepath.Join(t.TempDir(), "pwned")
	long := strings.Repeat("a", 200)
	for _, b := range []string{"x;touch${IFS}" + marker + "$(touch${IFS}" + marker + ")`touch${IFS}" + marker + "`", long, "Feature-X"} {
		git(t, dir, "branch", "-f", b, "HEAD")
		out, err := s.push(dir, s.key, "shop", b)
		if err != nil || !released(out, 2) {
			t.Fatalf("push of branch %q: %v\n%s", b, err, out)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("a branch name ran a command")
	}
	list := s.hako(t, "reviewapps", "-a", "shop", "--json")
	names := regexp.MustCompile(`"name": "([^"]+)"`).FindAllStringSubmatch(list, -1)
	seen := map[string]bool{}
	for _, m := range names {
		if !reviewName.MatchString(m[1]) || seen[m[1]] {
			t.Errorf("review app name %q is invalid or repeated", m[1])
		}
		seen[m[1]] = true
	}
	// A fork while the parent's database is in use leaves the parent's
	// connections alone: it is copied by pg_dump instead of TEMPLATE.
	held := exec.Command("psql", parentURL, "-X", "-qc", "select pg_sleep(120)")
	if err := held.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = held.Process.Kill(); _ = held.Wait() })
	waitFor(t, 10*time.Second, "the parent's database to be in use", func() bool {
		return s.psqlValue(t, "shop", "select count(*) from pg_stat_activity where query like '%pg_sleep(120)%' and pid <> pg_backend_pid()") == "1"
	})
	git(t, dir, "branch", "-f", "held", "HEAD")
	out, err = s.push(dir, s.key, "shop", "held")
	if err != nil || !hasRemoteLineMatch(out, `-----> Forked shop's postgresql-[a-z]+-\d{5} into postgresql-[a-z]+-\d{5} as DATABASE in \d+\.\d s \(pg_dump and pg_restore \(the parent's database was in use\)\)`) {
		t.Fatalf("a fork of a database in use: %v\n%s", err, out)
	}
	if got := s.psqlValue(t, "shop-held", q); got != want {
		t.Errorf("fork by dump = %q, want %q", got, want)
	}
	if held.ProcessState != nil || s.psqlValue(t, "shop", "select count(*) from pg_stat_activity where query like '%pg_sleep(120)%' and pid <> pg_backend_pid()") != "1" {
		t.Errorf("the fork ended the parent's connection")
	}
	seen["shop-held"] = true
	if len(seen) != 5 {
		t.Errorf("want 4 review apps, got %v:\n%s", seen, list)
	}
	// A ref git itself refuses creates nothing.
	if out, err := s.push(dir, s.key, "shop", "HEAD:refs/heads/a/../../b"); err == nil {
		t.Errorf("a branch with ../ was pushed:\n%s", out)
	}
	if got := strings.Count(s.hako(t, "apps"), "\n"); got < 5 {
		t.Errorf("apps:\n%s", s.hako(t, "apps"))
	}

	// A review app forks its parent's database and no other app's, whatever
	// the pushed app.json says.
	s.hako(t, "apps:create", "victim")
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "victim")
	git(t, dir, "checkout", "-q", "-b", "steal")
	commitFile(t, dir, "app.json", strings.Replace(reviewAppJSON, `"fork": "PARENT"`, `"fork": "victim"`, 1))
	out, err = s.push(dir, s.key, "shop", "steal")
	if err == nil || !hasRemoteLine(out, " !     app.json: add-on heroku-postgresql could not be provisioned: a review app may fork only its parent's database (shop), not victim's") {
		t.Errorf("a review app forking another app's database: %v\n%s", err, out)
	}
	git(t, dir, "checkout", "-q", "feature-x")

	// Deleting the branch runs pr-predestroy and destroys the app and its database.
	out, err = s.push(dir, s.key, "shop", ":feature-x")
	if err != nil || !hasRemoteLine(out, "-----> Branch feature-x deleted: its review app shop-feature-x goes with it.") ||
		!hasRemoteLineMatch(out, `\s*predestroy ran for shop-feature-x`) || !hasRemoteLine(out, "-----> Destroyed review app shop-feature-x") {
		t.Fatalf("branch deletion: %v\n%s", err, out)
	}
	if out, err := s.run("apps:info", "-a", "shop-feature-x"); err == nil {
		t.Errorf("the review app is still there:\n%s", out)
	}
	if out, err := exec2("psql", reviewURL, "-X", "-tAc", "select 1"); err == nil {
		t.Errorf("the review app's database still answers:\n%s", out)
	}
	if got := s.psqlValue(t, "shop", q); got != "alpha,beta" {
		t.Errorf("parent database after the review app went = %q", got)
	}

	// Disabled, review apps are no longer made; those there stay.
	s.hako(t, "reviewapps:disable", "-a", "shop")
	git(t, dir, "branch", "-f", "after-off", "HEAD")
	out, err = s.push(dir, s.key, "shop", "after-off")
	if err != nil || !hasRemoteLine(out, "-----> Branch after-off stored, not deployed: push to main or master to deploy (git push REMOTE after-off:main), or make review apps with `hako reviewapps:enable -a shop`.") {
		t.Errorf("a push with review apps disabled: %v\n%s", err, out)
	}
	if out := s.hako(t, "reviewapps", "-a", "shop"); !hasLine(out, "=== ⬢ shop Review apps (disabled)") || !hasLineMatch(out, `shop-held\s+held\s+v2\s+.*`) {
		t.Errorf("reviewapps after disable:\n%s", out)
	}
}

// hasRemoteLineMatch reports whether a line of git's output, without its
// "remote: " prefix, matches re whole.
func hasRemoteLineMatch(out, re string) bool {
	rx := regexp.MustCompile(`^` + re + `$`)
	for _, l := range lines(out) {
		if rx.MatchString(strings.TrimRight(strings.TrimPrefix(l, "remote: "), " ")) {
			return true
		}
	}
	return false
}

// TestReviewAppsForkDB: with `reviewapps:enable --fork-db` every review
// app gets a copy of the parent's DATABASE, even without app.json; a
// parent without one is refused the option.
func TestReviewAppsForkDB(t *testing.T) {
	need(t, "python3", "psql")
	s := startServer(t)
	s.hako(t, "apps:create", "blog")
	if out, err := s.run("reviewapps:enable", "-a", "blog", "--fork-db"); err == nil || !hasLine(out, " ▸    --fork-db copies blog's DATABASE, which it does not have: `hako addons:create heroku-postgresql -a blog` adds one.") {
		t.Errorf("--fork-db without a database: %v\n%s", err, out)
	}
	s.hako(t, "addons:create", "heroku-postgresql", "-a", "blog")
	s.psqlValue(t, "blog", "create table posts (title text); insert into posts values ('hello')")
	if out := s.hako(t, "reviewapps:enable", "-a", "blog", "--fork-db"); !hasLine(out, "Review apps enabled on ⬢ blog, each with a fork of its database: `git push hako BRANCH` deploys BRANCH to its own app.") {
		t.Errorf("reviewapps:enable --fork-db:\n%s", out)
	}
	dir := repo(t, "env-app")
	git(t, dir, "checkout", "-q", "-b", "draft")
	out, err := s.push(dir, s.key, "blog", "draft")
	if err != nil || !hasRemoteLineMatch(out, `-----> Forked blog's postgresql-[a-z]+-\d{5} into postgresql-[a-z]+-\d{5} as DATABASE in \d+\.\d s \(CREATE DATABASE … TEMPLATE\)`) || !released(out, 3) {
		t.Fatalf("push of a branch: %v\n%s", err, out)
	}
	s.waitBody(t, "blog-draft", "env-app")
	if got := s.psqlValue(t, "blog-draft", "select title from posts"); got != "hello" {
		t.Errorf("the fork holds %q, want hello", got)
	}
	s.psqlValue(t, "blog-draft", "update posts set title = 'draft'")
	if got := s.psqlValue(t, "blog", "select title from posts"); got != "hello" {
		t.Errorf("a write to the fork reached the parent: %q", got)
	}
	// The dyno uses the fork too.
	if out, err := s.run("run", "-a", "blog-draft", "--no-tty", `psql "$DATABASE_URL" -tAc 'select title from posts'`); err != nil || !hasLine(out, "draft") {
		t.Errorf("the review app's dyno reads: %v\n%s", err, out)
	}
}
