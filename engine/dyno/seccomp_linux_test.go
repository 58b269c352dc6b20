package dyno

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
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
