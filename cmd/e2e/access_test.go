package e2e

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hako/cmd"
)

// A class of four on one server: the administrator (the harness's key),
// owner@example.test who creates and pushes the app "shared",
// collab@example.test it is shared with, and stranger@example.test, who
// has an account and nothing else. Each holds an SSH key of their own.
type class struct {
	s    *server
	keys map[string]string // role → private key path
}

const (
	forbiddenShared = " ▸    You do not have access to the app shared."
	adminOnlyLine   = " ▸    Only an administrator may do that."
)

func newClass(t *testing.T, flags ...string) *class {
	t.Helper()
	s := startServer(t, flags...)
	c := &class{s: s, keys: map[string]string{"admin": s.key}}
	for _, role := range []string{"owner", "collab", "stranger"} {
		key := s.keygen(role)
		out := s.hako(t, "users:add", role+"@example.test", "--key", key+".pub")
		if !hasLine(out, "Adding "+role+"@example.test... done") {
			t.Fatalf("users:add %s:\n%s", role, out)
		}
		c.keys[role] = key
	}
	c.must(t, "owner", "apps:create", "shared")
	c.must(t, "owner", "access:add", "collab@example.test", "-a", "shared")
	return c
}

func (c *class) ssh(role string, args ...string) (string, error) {
	return c.s.ssh(c.keys[role], nil, args...)
}

func (c *class) must(t *testing.T, role string, args ...string) string {
	t.Helper()
	out, err := c.ssh(role, args...)
	if err != nil {
		t.Fatalf("%s: ssh %s: %v\n%s", role, strings.Join(args, " "), err, out)
	}
	return out
}

// clone runs `git clone` of the app over SSH with role's key.
func (c *class) clone(t *testing.T, role, app string) (string, error) {
	dir := filepath.Join(t.TempDir(), "clone")
	g := exec.Command("git", "clone", "ssh://git@127.0.0.1:"+c.s.sshPort+"/"+app+".git", dir)
	g.Env = append(os.Environ(), "GIT_SSH_COMMAND="+c.s.sshCommand(c.keys[role]))
	out, err := g.CombinedOutput()
	return string(out), err
}

// TestAccessOverSSHAndGit: the owner pushes; a collaborator and the
// administrator may clone, read config and change it, and the release
// and log name who did; a stranger can neither push, clone, read config
// nor destroy, sees no trace of the app, and may not add users.
func TestAccessOverSSHAndGit(t *testing.T) {
	need(t, "python3")
	c := newClass(t)
	s := c.s
	out, err := s.push(repo(t, "procfile-app"), c.keys["owner"], "shared", "main")
	if err != nil || !released(out, 2) {
		t.Fatalf("owner's push: %v\n%s", err, out)
	}

	// A stranger's push and clone are refused before git runs.
	out, err = s.push(repo(t, "procfile-app"), c.keys["stranger"], "shared", "main:main", "--force")
	if err == nil || !hasLineMatch(out, `.*!\s+You do not have access to the app shared\.`) {
		t.Errorf("stranger's push: %v\n%s", err, out)
	}
	out, err = c.clone(t, "stranger", "shared")
	if err == nil || !hasLineMatch(out, `.*!\s+You do not have access to the app shared\.`) {
		t.Errorf("stranger's clone: %v\n%s", err, out)
	}
	for _, role := range []string{"collab", "admin"} {
		if out, err := c.clone(t, role, "shared"); err != nil {
			t.Errorf("%s's clone: %v\n%s", role, err, out)
		}
	}

	// Config: read and set by the collaborator, refused to the stranger.
	out = c.must(t, "collab", "config:set", "GREETING=hi", "-a", "shared")
	if !hasLine(out, "Setting GREETING and restarting ⬢ shared... done, v3") {
		t.Errorf("collaborator's config:set:\n%s", out)
	}
	for _, args := range [][]string{{"config", "-a", "shared"}, {"config:get", "GREETING", "-a", "shared"}, {"apps:destroy", "-a", "shared", "--confirm", "shared"}, {"run", "-a", "shared", "--no-tty", "env"}} {
		out, err := c.ssh("stranger", args...)
		if err == nil || !hasLine(out, forbiddenShared) || strings.Contains(out, "GREETING") {
			t.Errorf("stranger: %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The collaborator may not destroy the app nor share it further.
	for _, args := range [][]string{{"apps:destroy", "-a", "shared", "--confirm", "shared"}, {"access:add", "stranger@example.test", "-a", "shared"}} {
		out, err := c.ssh("collab", args...)
		if err == nil || !hasLine(out, forbiddenShared) {
			t.Errorf("collaborator: %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out := c.must(t, "collab", "run", "-a", "shared", "--no-tty", "echo", "$GREETING"); !hasLine(out, "hi") {
		t.Errorf("collaborator's run:\n%s", out)
	}

	// Who did what: releases and log lines name the user.
	out = c.must(t, "owner", "releases", "-a", "shared")
	if !hasLineMatch(out, `v3\s+Set GREETING config vars\s+collab@example\.test .*`) || !hasLineMatch(out, `v2\s+Deploy [0-9a-f]{7}\s+owner@example\.test .*`) {
		t.Errorf("releases do not name their users:\n%s", out)
	}
	out = c.must(t, "admin", "logs", "-a", "shared", "-n", "200")
	if !hasLineMatch(out, `\S+ app\[api\]: Set GREETING config vars by user collab@example\.test`) || !hasLineMatch(out, `\S+ app\[api\]: Add collaborator collab@example\.test by user owner@example\.test`) {
		t.Errorf("log lines do not name their users:\n%s", out)
	}

	// Lists: the stranger sees nothing of the app.
	if out := c.must(t, "stranger", "apps"); strings.Contains(out, "shared") {
		t.Errorf("stranger's apps list shared:\n%s", out)
	}
	if out := c.must(t, "collab", "apps"); !hasLine(out, "shared") {
		t.Errorf("collaborator's apps lack shared:\n%s", out)
	}
	out = c.must(t, "collab", "access", "-a", "shared")
	if !hasLineMatch(out, `owner@example\.test\s+owner`) || !hasLineMatch(out, `collab@example\.test\s+collaborator`) {
		t.Errorf("access list:\n%s", out)
	}

	// Keys belong to their user: the stranger's keys:remove cannot touch
	// the owner's, and users:add is for administrators.
	if out, err := c.ssh("stranger", "keys:remove", "owner"); err == nil || !hasLine(out, " ▸    Couldn't find that key.") {
		t.Errorf("stranger removed the owner's key: %v\n%s", err, out)
	}
	if out, err := c.ssh("stranger", "users:add", "x@example.test"); err == nil || !hasLine(out, adminOnlyLine) {
		t.Errorf("stranger's users:add: %v\n%s", err, out)
	}

	// The owner may destroy it.
	c.must(t, "owner", "apps:destroy", "-a", "shared", "--confirm", "shared")
}

// TestAPITokensOfUsers: a token made by a user acts as that user through
// the CLI, and stops working once revoked.
func TestAPITokensOfUsers(t *testing.T) {
	c := newClass(t)
	token := strings.TrimSpace(c.must(t, "stranger", "auth:tokens:create", "-s", "-d", "laptop"))
	if len(token) != 64 {
		t.Fatalf("token %q", token)
	}
	as := func(args ...string) (string, error) {
		g := exec.Command(bin, args...)
		g.Env = append(os.Environ(), "HAKO_API_URL=http://127.0.0.1:"+c.s.apiPort, "HAKO_API_TOKEN="+token, "HAKO_HOME="+t.TempDir())
		out, err := g.CombinedOutput()
		return string(out), err
	}
	if out, err := as("auth:whoami"); err != nil || out != "stranger@example.test\n" {
		t.Errorf("whoami: %v %q", err, out)
	}
	if out, err := as("config", "-a", "shared"); err == nil || !hasLine(out, forbiddenShared) {
		t.Errorf("stranger's token read config: %v\n%s", err, out)
	}
	list := c.must(t, "stranger", "auth:tokens")
	id := ""
	for _, l := range lines(list) {
		if f := strings.Fields(l); len(f) == 3 && f[2] == "laptop" {
			id = f[0]
		}
	}
	if id == "" {
		t.Fatalf("auth:tokens lacks the laptop token:\n%s", list)
	}
	c.must(t, "stranger", "auth:tokens:revoke", id)
	if out, err := as("apps"); err == nil || !strings.Contains(out, "Invalid credentials provided") {
		t.Errorf("revoked token still works: %v\n%s", err, out)
	}
	// Another user's token id is not the caller's to revoke.
	if out, err := c.ssh("owner", "auth:tokens:revoke", id); err == nil {
		t.Errorf("owner revoked the stranger's token:\n%s", out)
	}
	// users:add gives a user without a key their first token.
	out := c.s.hako(t, "users:add", "nokey@example.test")
	for _, l := range lines(out) {
		if v, ok := strings.CutPrefix(l, "Token: "); ok {
			token, _, _ = strings.Cut(v, " ")
		}
	}
	if out, err := as("auth:whoami"); err != nil || out != "nokey@example.test\n" {
		t.Errorf("the token users:add printed: %v %q", err, out)
	}
}

// sshCommandArgs are the arguments each SSH command that names an app
// takes in TestSSHCommandsAuthorizationTable, after `-a shared`: enough to
// get past the command's own checks to the server. A new command gets no
// arguments; give it some here if it needs them.
var sshCommandArgs = map[string][]string{
	"apps:destroy": {"--confirm", "shared"}, "access:add": {"stranger@example.test"}, "access:remove": {"collab@example.test"},
	"config:get": {"FOO"}, "config:set": {"A=1"}, "config:unset": {"NOPE"},
	"buildpacks:set": {"procfile"}, "buildpacks:add": {"go"}, "buildpacks:remove": {"go"},
	"domains:add": {"www.shared.test"}, "domains:remove": {"nope.shared.test"},
	"addons:create": {"nosuch-service"}, "addons:info": {"nope"}, "addons:destroy": {"nope", "--confirm", "shared"},
	"addons:attach": {"nope"}, "addons:detach": {"nope"},
	"drains:add": {"ftp://nowhere"}, "drains:remove": {"nope"},
	"releases:info": {"v1"}, "releases:rollback": {"v1"},
	"scheduler:add": {"--schedule", "@daily", "--", "true"}, "scheduler:remove": {"nope"}, "scheduler:run": {"nope"},
	"pipelines:add": {"nope", "--stage", "staging"}, "pipelines:promote": {}, "ps:scale": {"web=1"}, "ps:stop": {"run.1"},
	"logs": {"-n", "1"}, "run": {"--no-tty", "true"},
	"pg:pull": {"postgres://127.0.0.1:1/x", "--confirm", "shared"}, "pg:push": {"postgres://127.0.0.1:1/x"},
	"pg:backups:restore": {"b001", "--confirm", "shared"}, "pg:backups:schedule": {"--at", "02:00"}, "pg:credentials:rotate": {"--confirm", "shared"},
}

// localCommands refuse to run over SSH whatever the app: they need the
// caller's machine.
var localCommands = map[string]bool{"builds:create": true, "git:remote": true, "pg:psql": true, "redis:cli": true, "pg:backups:download": true, "export": true, "import": true}

// ownerCommands are those a collaborator may not run either.
var ownerCommands = map[string]bool{"apps:destroy": true, "access:add": true, "access:remove": true}

// TestSSHCommandsAuthorizationTable runs every SSH command that names an
// app as a stranger, who must get Heroku's refusal, and as a
// collaborator, who must not (but for destroying and sharing the app);
// the commands for administrators are refused to members. The commands
// come from the command tree itself, so a new one is covered.
func TestSSHCommandsAuthorizationTable(t *testing.T) {
	c := newClass(t)
	tree := cmd.NewApp(&cmd.Env{Remote: true, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard})
	for _, command := range tree.Commands {
		takesApp := false
		for _, f := range command.Flags {
			for _, n := range f.Names() {
				takesApp = takesApp || n == "app"
			}
		}
		switch {
		case localCommands[command.Name]:
			if out, err := c.ssh("stranger", command.Name, "-a", "shared"); err == nil {
				t.Errorf("%s ran over SSH:\n%s", command.Name, out)
			}
		case takesApp:
			args := append([]string{command.Name, "-a", "shared"}, sshCommandArgs[command.Name]...)
			out, err := c.ssh("stranger", args...)
			if err == nil || !hasLine(out, forbiddenShared) && !hasLine(out, adminOnlyLine) {
				t.Errorf("stranger: ssh %s: %v, want %q (a command refused before it reaches the server needs arguments in sshCommandArgs, or a place in localCommands)\n%s", strings.Join(args, " "), err, forbiddenShared, out)
			}
			out, _ = c.ssh("collab", args...)
			if refused := hasLine(out, forbiddenShared); refused != ownerCommands[command.Name] {
				t.Errorf("collaborator: ssh %s: refused %v, want %v\n%s", strings.Join(args, " "), refused, ownerCommands[command.Name], out)
			}
		}
	}
	for _, args := range [][]string{{"users"}, {"users:add", "x@example.test"}, {"users:remove", "owner@example.test"}, {"workshop:seed", "--users", "1"}, {"workshop:reset", "--confirm", "workshop"}, {"status"}} {
		for _, role := range []string{"owner", "stranger"} {
			if out, err := c.ssh(role, args...); err == nil || !hasLine(out, adminOnlyLine) {
				t.Errorf("%s: ssh %s: %v, want %q\n%s", role, strings.Join(args, " "), err, adminOnlyLine, out)
			}
		}
	}
	// Pipelines are for members: each creates their own and lists what
	// they may see.
	c.must(t, "owner", "pipelines:create", "owners-line")
	if out := c.must(t, "stranger", "pipelines"); strings.Contains(out, "owners-line") {
		t.Errorf("the stranger lists the owner's pipeline:\n%s", out)
	}
	for _, args := range [][]string{{"pipelines", "owners-line"}, {"pipelines:destroy", "owners-line"}} {
		if out, err := c.ssh("stranger", args...); err == nil || !hasLine(out, " ▸    You do not have access to the pipeline owners-line.") {
			t.Errorf("stranger: ssh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The administrator may act on any app.
	if out := c.must(t, "admin", "config:set", "-a", "shared", "B=2"); !hasLineMatch(out, `Setting B and restarting ⬢ shared\.\.\. done, v\d+`) {
		t.Errorf("admin's config:set:\n%s", out)
	}
	if out := c.must(t, "admin", "apps"); !hasLine(out, "shared") {
		t.Errorf("admin's apps lack shared:\n%s", out)
	}
}

// TestWorkshop: workshop:seed makes students with a sheet each, whose
// token acts as the student on their own app only; workshop:reset
// destroys the students' apps and nothing else.
func TestWorkshop(t *testing.T) {
	s := startServer(t)
	s.hako(t, "apps:create", "teachers-app")
	out := s.hako(t, "workshop:seed", "--users", "3")
	tokens := map[string]string{}
	student := ""
	for _, l := range lines(out) {
		if v, ok := strings.CutPrefix(l, "=== "); ok {
			student = v
		}
		if v, ok := strings.CutPrefix(l, "Token:    "); ok {
			tokens[student] = v
		}
	}
	for i, name := range []string{"student1", "student2", "student3"} {
		email := name + "@hako.local"
		for _, want := range []string{"=== " + email, "Push URL: ssh://git@127.0.0.1:" + s.sshPort + "/" + name + ".git", "App URL:  http://" + name + ".localhost:" + s.httpPort + "/"} {
			if !hasLine(out, want) {
				t.Errorf("sheet %d lacks %q:\n%s", i+1, want, out)
			}
		}
		if len(tokens[email]) != 64 {
			t.Errorf("sheet of %s has token %q", email, tokens[email])
		}
	}
	as := func(email string, args ...string) (string, error) {
		g := exec.Command(bin, args...)
		g.Env = append(os.Environ(), "HAKO_API_URL=http://127.0.0.1:"+s.apiPort, "HAKO_API_TOKEN="+tokens[email], "HAKO_HOME="+t.TempDir())
		out, err := g.CombinedOutput()
		return string(out), err
	}
	if out, err := as("student1@hako.local", "apps"); err != nil || !hasLine(out, "student1") || strings.Contains(out, "student2") || strings.Contains(out, "teachers-app") {
		t.Errorf("student1's apps: %v\n%s", err, out)
	}
	if out, err := as("student1@hako.local", "config", "-a", "student2"); err == nil || !hasLine(out, " ▸    You do not have access to the app student2.") {
		t.Errorf("student1 read student2's config: %v\n%s", err, out)
	}
	if out, err := as("student1@hako.local", "workshop:reset", "--confirm", "workshop"); err == nil || !hasLine(out, adminOnlyLine) {
		t.Errorf("student1's workshop:reset: %v\n%s", err, out)
	}
	if out, err := s.run("users:remove", "student1@hako.local"); err == nil || !hasLine(out, " ▸    student1@hako.local owns 1 apps (student1): destroy them first (`hako workshop:reset` does so for students).") {
		t.Errorf("users:remove of a student with an app: %v\n%s", err, out)
	}
	out = s.hako(t, "workshop:reset", "--confirm", "workshop")
	if !hasLine(out, "Destroyed 3 apps: student1, student2, student3") {
		t.Errorf("reset:\n%s", out)
	}
	if out := s.hako(t, "apps"); !hasLine(out, "teachers-app") || strings.Contains(out, "student") {
		t.Errorf("apps after reset:\n%s", out)
	}
	// The students stay, with their tokens: a new app is theirs again.
	if out, err := as("student2@hako.local", "apps:create", "student2"); err != nil {
		t.Errorf("student2 after reset: %v\n%s", err, out)
	}
	if out := s.hako(t, "users"); !hasLineMatch(out, `student3@hako\.local\s+student`) || !hasLineMatch(out, `admin\s+administrator`) {
		t.Errorf("users:\n%s", out)
	}
	// A removed student's token no longer works.
	if out := s.hako(t, "users:remove", "student3@hako.local"); !hasLine(out, "Removing student3@hako.local... done") {
		t.Errorf("users:remove:\n%s", out)
	}
	if out, err := as("student3@hako.local", "apps"); err == nil || !strings.Contains(out, "Invalid credentials provided") {
		t.Errorf("a removed student's token: %v\n%s", err, out)
	}
}

// TestAccessOverGitHTTPS: over git's HTTPS, as over SSH, a user's own
// token pushes to their app and clones it, and a stranger's token is
// refused both, before git runs.
func TestAccessOverGitHTTPS(t *testing.T) {
	need(t, "python3")
	c := newClass(t)
	s := c.s
	token := func(role string) string {
		return strings.TrimSpace(c.must(t, role, "auth:tokens:create", "-s"))
	}
	ca := s.caFile(t)
	owner, stranger := credentialHelper(t, token("owner")), credentialHelper(t, token("stranger"))
	url := "https://127.0.0.1:" + s.apiPort + "/shared.git"
	dir := repo(t, "procfile-app")
	out, err := gitHTTP(dir, ca, stranger, "push", url, "main")
	if err == nil || !strings.Contains(out, "You do not have access to the app shared.") {
		t.Errorf("stranger's push over HTTPS: %v\n%s", err, out)
	}
	if out, err := gitHTTP(dir, ca, owner, "push", url, "main"); err != nil || !released(out, 2) {
		t.Fatalf("owner's push over HTTPS: %v\n%s", err, out)
	}
	out, err = gitHTTP(t.TempDir(), ca, stranger, "clone", "-q", url, filepath.Join(t.TempDir(), "clone"))
	if err == nil || !strings.Contains(out, "You do not have access to the app shared.") {
		t.Errorf("stranger's clone over HTTPS: %v\n%s", err, out)
	}
	if out := c.must(t, "owner", "releases", "-a", "shared"); !hasLineMatch(out, `v2\s+Deploy [0-9a-f]{7}\s+owner@example\.test .*`) {
		t.Errorf("the push over HTTPS is not the owner's:\n%s", out)
	}
}
