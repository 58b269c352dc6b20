package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"hako/engine/export/compose"
	"hako/engine/export/kubernetes"
	"hako/engine/export/nomad"
)

// podman runs podman with its own storage under dir, so that a test's
// images and containers are its own and go with it.
func podman(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	full := append([]string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
		"--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "none"}, args...)
	out, err := exec.Command("podman", full...).CombinedOutput()
	return string(out), err
}

// digestOf reads the Digest: line export prints.
func digestOf(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^Digest: (sha256:[0-9a-f]{64})$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("export printed no digest:\n%s", out)
	}
	return m[1]
}

// slugSHA256 reads the checksum of the app's current slug through the API.
func (s *server) slugSHA256(t *testing.T, app string) string {
	t.Helper()
	out := s.hako(t, "releases:info", "-a", app, "--json")
	m := regexp.MustCompile(`"id":\s*"([0-9a-f]{64})"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("release has no slug:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(s.home, "slugs", m[1]+".tgz"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestExportOCI pushes the Go app, exports its release as an OCI image
// twice (same digest), runs the image under podman offline and reaches
// it on loopback, then imports it onto another server, where the same
// slug (same sha256) serves.
func TestExportOCI(t *testing.T) {
	need(t, "go", "podman", "runc")
	s := startServer(t)
	s.hako(t, "apps:create", "gox")
	if out, err := s.push(repo(t, "go-app"), s.key, "gox", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "gox", "hello from go")

	out1 := t.TempDir()
	first := s.hako(t, "export", "-a", "gox", "--release", "v2", "--format", "oci", "--out", out1)
	t.Log(first) // the export's time and sizes, for the README's figures
	out2 := t.TempDir()
	second := s.hako(t, "export", "-a", "gox", "--format", "oci", "--out", out2)
	if d1, d2 := digestOf(t, first), digestOf(t, second); d1 != d2 {
		t.Errorf("two exports of v2: digests %s and %s", d1, d2)
	}
	for _, f := range []string{"index.json", "oci-layout", "gox-v2.tar"} {
		if _, err := os.Stat(filepath.Join(out1, f)); err != nil {
			t.Errorf("export wrote no %s: %v", f, err)
		}
	}

	t.Run("podman", func(t *testing.T) {
		store := t.TempDir()
		t.Cleanup(func() {
			podman(t, store, "rm", "-a", "-f")
			podman(t, store, "system", "reset", "-f")
		})
		if out, err := podman(t, store, "load", "-i", filepath.Join(out1, "gox-v2.tar")); err != nil {
			t.Fatalf("podman load: %v\n%s", err, out)
		}
		port := freePort(t)
		out, err := podman(t, store, "run", "-d", "--name", "gox-web", "--network", "host",
			"--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096", "-e", "PORT="+port, "localhost/gox:v2")
		if err != nil {
			t.Fatalf("podman run: %v\n%s", err, out)
		}
		var last string
		waitFor(t, 30*time.Second, "the container to answer", func() bool {
			resp, err := http.Get("http://127.0.0.1:" + port + "/")
			if err != nil {
				last = err.Error()
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			last = fmt.Sprintf("%d %q", resp.StatusCode, b)
			return resp.StatusCode == 200 && string(b) == "hello from go\n"
		}, func() string { logs, _ := podman(t, store, "logs", "gox-web"); return last + "\n" + logs })
		// The entrypoint runs the command as the app's user in /app, with
		// .profile.d sourced and HOME=/app, as a dyno does.
		out, err = podman(t, store, "run", "--rm", "--network", "none", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
			"localhost/gox:v2", `echo "$(id -u) $(pwd) $HOME $PORT"`)
		if err != nil {
			t.Fatalf("podman run: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(out); got != "1000 /app /app 5000" {
			t.Errorf("user, directory, HOME and PORT in the image = %q, want %q", got, "1000 /app /app 5000")
		}
	})

	t.Run("manifests", func(t *testing.T) {
		s.hako(t, "config:set", "-a", "gox", "GREETING=it's \"two\"\nlines")
		s.hako(t, "domains:add", "-a", "gox", "gox.example.com")
		s.hako(t, "ps:scale", "-a", "gox", "web=3")
		out := t.TempDir()
		for _, f := range []string{"compose", "kubernetes", "nomad"} {
			s.hako(t, "export", "-a", "gox", "--format", f, "--out", out, "--image", "registry.example/gox:v2")
		}
		read := func(name string) []byte {
			b, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		cf, err := compose.Validate(read("compose.yaml"))
		if err != nil {
			t.Fatalf("compose.yaml: %v", err)
		}
		if web := cf.Services["web"]; web == nil || *web.Deploy.Replicas != 3 || web.Image != "registry.example/gox:v2" || web.EnvFile[0] != "gox.env" {
			t.Errorf("compose web = %+v", web)
		}
		if got := string(read("gox.env")); !strings.Contains(got, "GREETING=\"it's \\\"two\\\"\\nlines\"\n") {
			t.Errorf("gox.env =\n%s", got)
		}
		objs, err := kubernetes.Decode(read("gox.kubernetes.yaml"))
		if err == nil {
			err = kubernetes.Validate(objs)
		}
		if err != nil {
			t.Fatalf("gox.kubernetes.yaml: %v", err)
		}
		var hosts, replicas []string
		for _, o := range objs {
			switch o := o.(type) {
			case *networkingv1.Ingress:
				for _, r := range o.Spec.Rules {
					hosts = append(hosts, r.Host)
				}
			case *appsv1.Deployment:
				replicas = append(replicas, fmt.Sprintf("%s=%d", o.Name, *o.Spec.Replicas))
			}
		}
		if strings.Join(hosts, " ") != "gox.example.com" || strings.Join(replicas, " ") != "gox-web=3" {
			t.Errorf("kubernetes: ingress hosts %v, deployments %v", hosts, replicas)
		}
		job, err := nomad.Decode(read("gox.nomad.json"))
		if err == nil {
			err = nomad.Validate(job)
		}
		if err != nil {
			t.Fatalf("gox.nomad.json: %v", err)
		}
		if g := job.TaskGroups[0]; *g.Name != "gox-web" || *g.Count != 3 || g.Tasks[0].Config["image"] != "registry.example/gox:v2" {
			t.Errorf("nomad group = %s x%d", *g.Name, *g.Count)
		}
		// The files holding config vars are the owner's alone.
		for _, f := range []string{"gox.env", "gox.kubernetes.yaml", "gox.nomad.json"} {
			if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, %v", f, fi.Mode(), err)
			}
		}
	})

	t.Run("import", func(t *testing.T) {
		want := s.slugSHA256(t, "gox")
		other := startServer(t)
		other.hako(t, "apps:create", "moved")
		for _, src := range []string{out1, filepath.Join(out2, "gox-v2.tar")} {
			out := other.hako(t, "import", "-a", "moved", src)
			if !strings.Contains(out, "Imported gox v2 into moved as v") {
				t.Errorf("import printed:\n%s", out)
			}
			if got := other.slugSHA256(t, "moved"); got != want {
				t.Errorf("imported slug sha256 = %s, want %s", got, want)
			}
		}
		other.waitBody(t, "moved", "hello from go")
		// Something that is not an export is refused, and releases nothing.
		bad := filepath.Join(t.TempDir(), "bad.tar")
		os.WriteFile(bad, []byte("not an image"), 0o644)
		if out, err := other.run("import", "-a", "moved", bad); err == nil {
			t.Errorf("import of a non-image succeeded:\n%s", out)
		}
	})
}

// TestExportProcfileApp exports the Procfile app, whose python3 comes
// from the host with its standard library (--with, --with-dir), runs it
// under podman offline and reaches it on loopback; a directory outside
// the stack is refused.
func TestExportProcfileApp(t *testing.T) {
	need(t, "python3", "podman", "runc")
	// The image takes the stack's python3 (the base looks in /usr/bin and
	// /bin, never the server's PATH), so its library is that python's.
	stackPython := "/usr/bin/python3"
	if _, err := os.Stat(stackPython); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Debian's python3 is required under CI: %v", err)
		}
		t.Skipf("no %s", stackPython)
	}
	lib, err := exec.Command(stackPython, "-c", "import os; print(os.path.dirname(os.__file__))").Output()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t)
	s.hako(t, "apps:create", "pyx")
	if out, err := s.push(repo(t, "procfile-app"), s.key, "pyx", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	out := t.TempDir()
	if got, err := s.run("export", "-a", "pyx", "--out", out, "--with-dir", "/root"); err == nil {
		t.Errorf("--with-dir /root was exported:\n%s", got)
	}
	t.Log(s.hako(t, "export", "-a", "pyx", "--out", out, "--with", "python3", "--with-dir", strings.TrimSpace(string(lib))))
	store := t.TempDir()
	t.Cleanup(func() {
		podman(t, store, "rm", "-a", "-f")
		podman(t, store, "system", "reset", "-f")
	})
	if got, err := podman(t, store, "load", "-i", filepath.Join(out, "pyx-v2.tar")); err != nil {
		t.Fatalf("podman load: %v\n%s", err, got)
	}
	port := freePort(t)
	if got, err := podman(t, store, "run", "-d", "--name", "pyx-web", "--network", "host",
		"--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096", "-e", "PORT="+port, "localhost/pyx:v2"); err != nil {
		t.Fatalf("podman run: %v\n%s", err, got)
	}
	index, err := os.ReadFile(filepath.Join(testdataDir(), "apps", "procfile-app", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	var last string
	waitFor(t, 30*time.Second, "the container to answer", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/")
		if err != nil {
			last = err.Error()
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		last = fmt.Sprintf("%d %q", resp.StatusCode, b)
		return resp.StatusCode == 200 && string(b) == string(index)
	}, func() string { logs, _ := podman(t, store, "logs", "pyx-web"); return last + "\n" + logs })
}
