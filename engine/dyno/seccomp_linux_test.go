package dyno

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"hako/engine"
)

// TestSyscallFilter runs, in an isolated build step (whose init is the
// dyno's), what an app would try to leave its box, next to what normal
// programs do. Without the filter, keyctl and unshare -U succeed for an
// unprivileged user on this kernel.
func TestSyscallFilter(t *testing.T) {
	needRoot(t)
	needPython(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("unshare (util-linux) is missing")
		}
		t.Skip("no unshare")
	}
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces})
	w := t.TempDir()
	script := `grep '^Seccomp:' /proc/self/status
unshare -U true 2>/dev/null; echo "unshare -U: $?"
unshare -Ur true 2>/dev/null; echo "unshare -Ur: $?"
python3 - <<'PY'
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def call(name, nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    print(name + ": " + ("ok" if r >= 0 else os.strerror(ctypes.get_errno())))
call("keyctl", int(os.environ["NR_KEYCTL"]), 0, -3, 0)
call("unshare(CLONE_NEWUSER)", int(os.environ["NR_UNSHARE"]), 0x10000000)
call("unshare(CLONE_FILES)", int(os.environ["NR_UNSHARE"]), 0x400)
call("personality(query)", int(os.environ["NR_PERSONALITY"]), 0xffffffff)
call("personality(ADDR_NO_RANDOMIZE)", int(os.environ["NR_PERSONALITY"]), 0x0040000)
call("clone3", int(os.environ["NR_CLONE3"]), 0, 0)
call("bpf", int(os.environ["NR_BPF"]), 0, 0, 0)
call("getpid", int(os.environ["NR_GETPID"]))
PY
sh -c 'echo forked'`
	env := []string{"PATH=" + os.Getenv("PATH"),
		fmt.Sprintf("NR_KEYCTL=%d", unix.SYS_KEYCTL), fmt.Sprintf("NR_UNSHARE=%d", unix.SYS_UNSHARE),
		fmt.Sprintf("NR_PERSONALITY=%d", unix.SYS_PERSONALITY), fmt.Sprintf("NR_CLONE3=%d", unix.SYS_CLONE3),
		fmt.Sprintf("NR_BPF=%d", unix.SYS_BPF), fmt.Sprintf("NR_GETPID=%d", unix.SYS_GETPID)}
	var out bytes.Buffer
	cmd, done, err := s.Command(context.Background(), engine.SandboxSpec{
		Name: "seccomp", Argv: []string{"sh", "-c", script}, Env: env, Dir: w, Writable: []string{w},
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	done()
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	want := []string{
		"Seccomp:\t2",
		"unshare -U: 1",
		"unshare -Ur: 1",
		"keyctl: Operation not permitted",
		"unshare(CLONE_NEWUSER): Operation not permitted",
		"unshare(CLONE_FILES): ok",
		"personality(query): ok",
		"personality(ADDR_NO_RANDOMIZE): Operation not permitted",
		"clone3: Function not implemented",
		"bpf: Operation not permitted",
		"getpid: ok",
		"forked",
	}
	if got := strings.Split(strings.TrimSpace(out.String()), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}
}

// TestSyscallFilterForeignABI checks that the 32-bit entry points of
// x86-64 (int 0x80, and x32 numbers) cannot reach syscalls the filter
// refuses by their 64-bit numbers: an unshare(CLONE_NEWUSER) through
// them gets ENOSYS.
func TestSyscallFilterForeignABI(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the foreign ABIs tested are x86-64's")
	}
	needRoot(t)
	cc, err := exec.LookPath("cc")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("cc is missing")
		}
		t.Skip("no C compiler")
	}
	w := t.TempDir()
	src := filepath.Join(w, "abi.c")
	prog := `#include <stdio.h>
#include <errno.h>
#include <unistd.h>
int main(void) {
	long r;
	/* i386 unshare is 310. */
	__asm__ volatile ("int $0x80" : "=a"(r) : "a"(310L), "b"(0x10000000L) : "memory");
	printf("int 0x80 unshare: %ld\n", r);
	errno = 0;
	r = syscall(0x40000000L | 272L, 0x10000000L);
	printf("x32 unshare: %ld errno %d\n", r, errno);
	return 0;
}
`
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-O0", "-o", filepath.Join(w, "abi"), src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	s := newSupervisor(t, &memSink{}, Options{Isolate: ModeNamespaces})
	var out bytes.Buffer
	cmd, done, err := s.Command(context.Background(), engine.SandboxSpec{
		Name: "abi", Argv: []string{filepath.Join(w, "abi")}, Env: []string{"PATH=" + os.Getenv("PATH")}, Dir: w, Writable: []string{w},
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	done()
	want := "int 0x80 unshare: -38\nx32 unshare: -1 errno 38"
	if err != nil || strings.TrimSpace(out.String()) != want {
		t.Errorf("Run = %v, output:\n%s\nwant:\n%s", err, out.String(), want)
	}
}
