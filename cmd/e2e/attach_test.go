package e2e

import (
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// reachScript prints, for the add-on server at PORT, whether the dyno
// reaches it at 127.0.0.1 (where its URL points) and at the gateway
// (where a dyno that ignores its URL would try), each "reached" or
// "unreached". A port the dyno may not reach is its own loopback's
// (nothing listens: refused) and dropped at the gateway (a timeout).
const reachScript = `python3 -c '
import socket, struct, sys
port = int(sys.argv[1])
gw = [l.split()[2] for l in open("/proc/net/route").read().splitlines()[1:] if l.split()[1] == "00000000"][0]
for host in ("127.0.0.1", socket.inet_ntoa(struct.pack("<L", int(gw, 16)))):
    s = socket.socket(); s.settimeout(2)
    print("loopback" if host == "127.0.0.1" else "gateway", "reached" if s.connect_ex((host, port)) == 0 else "unreached")
' PORT`

// TestAttachedAddonReach attaches one app's Redis to a second app with
// `hako addons:attach`: the second app's dynos get its URL and reach it
// (real redis-cli in a one-off dyno), a third app's dynos reach it
// neither where its URL points nor at the gateway, and once detached
// (`hako addons:detach`, a new release) the second app's new dynos no
// longer reach it either.
func TestAttachedAddonReach(t *testing.T) {
	needRootE2E(t)
	need(t, "python3", "redis-server", "redis-cli")
	s := startServer(t)
	for _, app := range []string{"owns-cache", "uses-cache", "no-cache"} {
		s.hako(t, "apps:create", app)
		if out, err := s.push(repo(t, "procfile-app"), s.key, app, "main"); err != nil {
			t.Fatalf("push %s: %v\n%s", app, err, out)
		}
	}
	s.hako(t, "addons:create", "heroku-redis", "-a", "owns-cache")
	redisURL := strings.TrimSpace(s.hako(t, "config:get", "REDIS_URL", "-a", "owns-cache"))
	u, err := url.Parse(redisURL)
	if err != nil || u.Port() == "" {
		t.Fatalf("REDIS_URL = %q", redisURL)
	}
	var name string
	for _, l := range strings.Split(s.hako(t, "addons", "-a", "owns-cache"), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "heroku-redis" {
			name = strings.Trim(f[1], "()")
		}
	}
	if name == "" {
		t.Fatal("no heroku-redis add-on listed")
	}

	out := s.hako(t, "addons:attach", name, "--as", "SHARED_CACHE", "-a", "uses-cache")
	for _, want := range []string{"Attaching " + name + " as SHARED_CACHE to ⬢ uses-cache... done"} {
		if !hasLine(out, want) {
			t.Errorf("addons:attach: want the line %q:\n%s", want, out)
		}
	}
	if !hasLineMatch(out, `^Setting SHARED_CACHE config vars and restarting ⬢ uses-cache\.\.\. done, v\d+$`) {
		t.Errorf("addons:attach: no release line:\n%s", out)
	}
	if got := strings.TrimSpace(s.hako(t, "config:get", "SHARED_CACHE_URL", "-a", "uses-cache")); got != redisURL {
		t.Errorf("SHARED_CACHE_URL = %q, want the owner's REDIS_URL %q", got, redisURL)
	}
	listed := s.hako(t, "addons", "-a", "uses-cache")
	if !hasLine(listed, "heroku-redis ("+name+")  heroku-redis:mini  provisioned  (of ⬢ owns-cache)") || !hasLine(listed, " └─ as SHARED_CACHE") {
		t.Errorf("addons -a uses-cache:\n%s", listed)
	}

	if info := s.hako(t, "addons:info", name, "-a", "owns-cache"); !hasLine(info, "Attachments:  owns-cache::REDIS, uses-cache::SHARED_CACHE") {
		t.Errorf("addons:info lists its attachments:\n%s", info)
	}

	reach := strings.ReplaceAll(reachScript, "PORT", u.Port())
	ping := `redis-cli -u "$SHARED_CACHE_URL" --no-auth-warning ping`
	if out := s.hako(t, "run", "-a", "uses-cache", "--no-tty", ping+"\n"+reach); !hasLine(out, "PONG") || !hasLine(out, "loopback reached") {
		t.Errorf("a dyno of the app it is attached to: want PONG and loopback reached:\n%s", out)
	}
	if out := s.hako(t, "run", "-a", "owns-cache", "--no-tty", reach); !hasLine(out, "loopback reached") {
		t.Errorf("a dyno of the owning app:\n%s", out)
	}
	if out := s.hako(t, "run", "-a", "no-cache", "--no-tty", reach); !hasLine(out, "loopback unreached") || !hasLine(out, "gateway unreached") {
		t.Errorf("a dyno of an app it is not attached to reaches it:\n%s", out)
	}

	// A one-off dyno running across the detach: it probes, waits for a
	// line, probes again.
	held := exec.Command(bin, "run", "-a", "uses-cache", "--no-tty", reach+"\nread line\n"+reach)
	held.Env = append(os.Environ(), "HAKO_HOME="+s.home)
	heldIn, _ := held.StdinPipe()
	heldOut := &syncBuffer{}
	held.Stdout, held.Stderr = heldOut, heldOut
	if err := held.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Process.Kill(); held.Wait() })
	waitFor(t, 60*time.Second, "the running one-off's first probe", func() bool { return hasLine(heldOut.String(), "gateway reached") },
		func() string { return heldOut.String() })
	if !hasLine(heldOut.String(), "loopback reached") {
		t.Errorf("the one-off before the detach:\n%s", heldOut.String())
	}

	out = s.hako(t, "addons:detach", "SHARED_CACHE", "-a", "uses-cache")
	if !hasLine(out, "Detaching SHARED_CACHE to "+name+" from ⬢ uses-cache... done") ||
		!hasLineMatch(out, `^Unsetting SHARED_CACHE config vars and restarting ⬢ uses-cache\.\.\. done, v\d+$`) {
		t.Errorf("addons:detach:\n%s", out)
	}
	if out, err := s.run("config:get", "SHARED_CACHE_URL", "-a", "uses-cache"); strings.TrimSpace(out) != "" && err == nil {
		t.Errorf("SHARED_CACHE_URL after detach = %q", out)
	}
	if out := s.hako(t, "run", "-a", "uses-cache", "--no-tty", reach); !hasLine(out, "loopback unreached") || !hasLine(out, "gateway unreached") {
		t.Errorf("a new dyno of the detached app still reaches the add-on:\n%s", out)
	}
	// The one-off that ran across the detach lost its reach too.
	io.WriteString(heldIn, "go\n")
	heldIn.Close()
	if err := held.Wait(); err != nil {
		t.Errorf("the held one-off: %v\n%s", err, heldOut.String())
	}
	if got := heldOut.String(); !hasLine(got, "loopback unreached") || !hasLine(got, "gateway unreached") {
		t.Errorf("a one-off dyno running across the detach still reaches the add-on:\n%s", got)
	}
	// The owner's own attachment cannot be detached; destroying the add-on
	// attached elsewhere needs --force.
	if out, err := s.run("addons:detach", "REDIS", "-a", "owns-cache"); err == nil {
		t.Errorf("detaching the owner's attachment worked:\n%s", out)
	}
}
