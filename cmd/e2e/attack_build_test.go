package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestControlFileLinks pushes .buildpacks and .slugignore committed as
// links to what only the server may read (/etc/shadow, its API token and
// server.json, its environment) and to /dev/zero, and as a file far too
// large: each push is refused with a sentence naming the file and why,
// nothing of the target reaches the pusher, and the server stays up to
// take the next good push.
func TestControlFileLinks(t *testing.T) {
	canary := make([]byte, 12)
	rand.Read(canary)
	envSecret := "canary-" + hex.EncodeToString(canary)
	t.Setenv("HAKO_E2E_SERVER_SECRET", envSecret) // in the server's environment
	s := startServer(t)
	s.hako(t, "apps:create", "sneaky")

	// What must never be shown: a line of /etc/shadow, the token, the
	// environment variable.
	secrets := []string{envSecret}
	token, err := os.ReadFile(filepath.Join(s.home, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, strings.TrimSpace(string(token)))
	if shadow, err := os.ReadFile("/etc/shadow"); err == nil {
		for _, line := range strings.Split(string(shadow), "\n") {
			if len(line) > 8 {
				secrets = append(secrets, line)
			}
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("read /etc/shadow (the test runs as root under CI): %v", err)
	}

	targets := map[string]string{
		"shadow":      "/etc/shadow",
		"api-token":   filepath.Join(s.home, "api-token"),
		"server.json": filepath.Join(s.home, "server.json"),
		"environ":     "/proc/self/environ",
		"dev-zero":    "/dev/zero",
		"relative":    "../../../../../../../../../../../etc/shadow",
	}
	for _, file := range []string{".buildpacks", ".slugignore"} {
		for name, target := range targets {
			t.Run(file+"/"+name, func(t *testing.T) {
				dir := repo(t, "procfile-app")
				if err := os.Symlink(target, filepath.Join(dir, file)); err != nil {
					t.Fatal(err)
				}
				git(t, dir, "add", "-A")
				git(t, dir, "commit", "-qm", "link "+file)
				start := time.Now()
				out, err := s.push(dir, s.key, "sneaky", "main", "--force")
				if err == nil {
					t.Fatalf("push succeeded, want it refused:\n%s", out)
				}
				want := " !     The app's " + file + " file could not be read: it is a link that leads out of the app."
				if !hasRemoteLine(out, want) {
					t.Errorf("output lacks the line %q:\n%s", want, out)
				}
				for _, secret := range secrets {
					if strings.Contains(out, secret) {
						t.Errorf("the push output shows a secret of the server (%.12s...):\n%s", secret, out)
					}
				}
				if d := time.Since(start); d > 30*time.Second {
					t.Errorf("the refusal took %v", d)
				}
			})
		}
		t.Run(file+"/huge", func(t *testing.T) {
			dir := repo(t, "procfile-app")
			writeFile(t, dir, file, strings.Repeat("# a comment line of a huge control file\n", 2000))
			git(t, dir, "add", "-A")
			git(t, dir, "commit", "-qm", "huge "+file)
			out, err := s.push(dir, s.key, "sneaky", "main", "--force")
			want := " !     The app's " + file + " file could not be read: it is larger than 64 KiB."
			if err == nil || !hasRemoteLine(out, want) {
				t.Errorf("push: %v, want the line %q:\n%s", err, want, out)
			}
		})
	}

	// The server is still up and builds the next good push.
	if out, err := s.push(repo(t, "procfile-app"), s.key, "sneaky", "main", "--force"); err != nil {
		t.Fatalf("good push after the refusals: %v\n%s", err, out)
	}
	s.waitBody(t, "sneaky", "hello from procfile")
	if strings.Contains(s.out.String(), envSecret) {
		t.Error("the server's own output shows its environment")
	}
}

// hasRemoteLine reports whether some line of a push's output is want as
// the server wrote it: "remote: " then want, then the spaces git pads
// remote lines with.
func hasRemoteLine(out, want string) bool {
	for _, l := range lines(out) {
		if strings.TrimRight(l, " ") == "remote: "+want {
			return true
		}
	}
	return false
}

// injectedLine is what the cache poisoner's fmt writes first.
const injectedLine = "INJECTED by the cache poisoner: this line comes from a poisoned fmt\n"

// TestBuildCachePoisoning deploys an app whose build poisons every Go
// build cache it can write (testdata/apps/cache-poisoner: its npm build
// script makes the cached compile of fmt point at an fmt that writes
// injectedLine first), told where the server keeps the shared and other
// apps' caches. Its own later builds link the injected fmt (the attack is
// real); the Go app deployed before it, deployed again, and a new Go app
// serve exactly their own output. The new app's first build takes the
// standard library from the shared layer: its own layer of the cache
// holds a handful of entries, not the library's hundreds.
func TestBuildCachePoisoning(t *testing.T) {
	need(t, "go", "node", "npm")
	s := startServer(t)
	for _, app := range []string{"victim", "poisoner", "newcomer"} {
		s.hako(t, "apps:create", app)
	}
	victim := repo(t, "go-app")
	if out, err := s.push(victim, s.key, "victim", "main"); err != nil {
		t.Fatalf("push victim: %v\n%s", err, out)
	}
	s.waitPath(t, "victim", "/", "hello from go\n")

	poisoner := repo(t, "cache-poisoner")
	cache := filepath.Join(s.home, "cache")
	targets := []string{cache, filepath.Join(cache, "_shared"), filepath.Join(cache, "victim"), filepath.Join(cache, "newcomer")}
	writeFile(t, poisoner, "targets.txt", strings.Join(targets, "\n")+"\n")
	git(t, poisoner, "add", "-A")
	git(t, poisoner, "commit", "-qm", "what the attacker knows")
	out, err := s.push(poisoner, s.key, "poisoner", "main")
	if err != nil {
		t.Fatalf("push poisoner: %v\n%s", err, out)
	}
	// Its own cache is on its build disk, mounted where the build runs.
	own := regexp.MustCompile(`^remote:        poisoned: /\S+/disk/cache/go-build\s*$`)
	reached := false
	for _, l := range lines(out) {
		if !strings.Contains(l, "poisoned: ") {
			continue
		}
		if reached = own.MatchString(l); !reached {
			t.Errorf("the attack poisoned another cache: %q", l)
		}
	}
	if !reached {
		t.Fatalf("the attack did not reach its own cache:\n%s", out)
	}
	// The attack works where it may: the poisoner's next build links it.
	writeFile(t, poisoner, "again.txt", "again\n")
	git(t, poisoner, "add", "-A")
	git(t, poisoner, "commit", "-qm", "again")
	if out, err := s.push(poisoner, s.key, "poisoner", "main"); err != nil {
		t.Fatalf("push poisoner again: %v\n%s", err, out)
	}
	s.waitPath(t, "poisoner", "/", injectedLine+"hello from go\n")

	// The victim, built again, and a new app serve their own output.
	writeFile(t, victim, "again.txt", "again\n")
	git(t, victim, "add", "-A")
	git(t, victim, "commit", "-qm", "again")
	if out, err := s.push(victim, s.key, "victim", "main"); err != nil || !hasRemoteLine(out, "       Released v3") {
		t.Fatalf("push victim again: %v\n%s", err, out)
	}
	s.waitPath(t, "victim", "/", "hello from go\n")
	out, err = s.push(repo(t, "go-app"), s.key, "newcomer", "main")
	if err != nil {
		t.Fatalf("push newcomer: %v\n%s", err, out)
	}
	s.waitPath(t, "newcomer", "/", "hello from go\n")
	if hasRemoteLine(out, "-----> Compiling the Go standard library, once for every app's builds to share") {
		t.Errorf("the new app's build compiled the standard library again:\n%s", out)
	}
	disk := mountReadOnly(t, filepath.Join(cache, "newcomer", "build-disk.img"))
	mine, _ := filepath.Glob(filepath.Join(disk, "cache", "go-build", "upper", "*", "*-a"))
	shared, _ := filepath.Glob(filepath.Join(cache, "_shared", "go-std", "*", "*", "*-a"))
	if len(mine) > 20 || len(shared) < 200 {
		t.Errorf("the new app's own cache layer has %d entries and the shared one %d: want at most 20 and at least 200", len(mine), len(shared))
	}
}

// mountReadOnly mounts the disk image read-only (a build disk the server
// has unmounted) for the test to look into, until it ends.
func mountReadOnly(t *testing.T, image string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-o", "loop,ro", image, dir).CombinedOutput(); err != nil {
		t.Fatalf("mount %s: %v\n%s", image, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}
