package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
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
