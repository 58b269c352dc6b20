package containerregistry

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestHostBaseRunsShell unpacks the default base alone and runs its
// /bin/sh in it with chroot: the shell, its loader and libraries, and the
// merged-/usr symlinks are all there, and nothing of the host is needed.
func TestHostBaseRunsShell(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("chroot needs root, which CI has")
		}
		t.Skip("chroot needs root")
	}
	var layer bytes.Buffer
	if err := writeHostBase(&layer, nil, nil, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	untar := exec.Command("tar", "-x", "-C", root)
	untar.Stdin = &layer
	if out, err := untar.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	out, err := exec.Command("chroot", root, "/bin/sh", "-c", `cd /tmp && echo "$(ls -d /tmp) $(id -u)" && bash -c 'echo bash'`).CombinedOutput()
	if err != nil {
		t.Fatalf("sh in the base: %v\n%s", err, out)
	}
	if got, want := string(out), "/tmp 0\nbash\n"; got != want {
		t.Errorf("sh in the base printed %q, want %q", got, want)
	}
}

// TestHostBaseRefusesMissingProgram: a --with program the host lacks is
// an error, not an image that fails when run.
func TestHostBaseRefusesMissingProgram(t *testing.T) {
	var layer bytes.Buffer
	err := writeHostBase(&layer, []string{"no-such-program-here"}, nil, time.Unix(0, 0))
	if err == nil {
		t.Fatal("a base with a missing program was written")
	}
}

// TestHostBaseDirsWithinStack: --with-dir copies only from the stack's
// directories, never a home, the server's data or /etc whole, even
// through a symlink.
func TestHostBaseDirsWithinStack(t *testing.T) {
	link := filepath.Join(t.TempDir(), "usr-link")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"/root", "/tmp", "/etc", "/var/lib", "usr/lib", link, "/usr/../root"} {
		var layer bytes.Buffer
		if err := writeHostBase(&layer, nil, []string{dir}, time.Unix(0, 0)); err == nil {
			t.Errorf("--with-dir %s was copied", dir)
		}
	}
	var layer bytes.Buffer
	if err := writeHostBase(&layer, nil, []string{"/etc/ssl"}, time.Unix(0, 0)); err != nil {
		t.Errorf("--with-dir /etc/ssl: %v", err)
	}
}
