package dyno

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The syscall filter of dynos and build steps, in the spirit of Docker's
// default seccomp profile: the kernel interfaces an app has no business
// with, most of them reachable only through a new user namespace or
// capabilities a dyno does not hold, and each a history of privilege
// escalations, answer EPERM (not a kill, as under Docker, so that
// programs probing for a feature fall back). Everything else is allowed:
// a deny list rather than Docker's allow list, so that new syscalls the
// toolchains of the stack start using (Go, Node, Python, libc) keep
// working without a release of hako.
//
// The program is built here rather than with a library: it is short, and
// each rule carries its reason. Syscalls of a foreign ABI (i386 through
// int 0x80, x32 on amd64) get ENOSYS: they would otherwise bypass a deny
// list keyed on native numbers; 32-bit binaries do not run in a dyno, as
// under systemd's SystemCallArchitectures=native.
//
// ptrace and process_vm_readv/writev stay allowed, as in Docker on
// kernels since 4.8 (where ptrace can no longer bypass seccomp): they
// reach only processes of the dyno's own uid in its own PID namespace,
// never the root init, and debuggers and profilers (gdb, strace, delve)
// are worth having in a one-off dyno.

const (
	retAllow  = unix.SECCOMP_RET_ALLOW
	retEPERM  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)

	// Offsets in struct seccomp_data: nr, arch, instruction_pointer,
	// args[6]; an argument's low 32 bits come first (little-endian).
	offNr   = 0
	offArch = 4
	offArg0 = 16

	// namespaceFlagsMask is every CLONE_NEW* flag: unshare(2) and clone(2)
	// with one of them are refused. An unprivileged process can only make
	// any namespace through a new user namespace, where it is root and
	// reaches the kernel's whole surface (unshare -Urm).
	namespaceFlagsMask = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET |
		unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME
)

// deniedSyscalls answer EPERM whatever their arguments, on every
// architecture (archDenied adds the ones that exist on only some).
var deniedSyscalls = []uintptr{
	// Namespaces: joining another one (setns) is how a dyno would reach a
	// namespace it does not own; clone3's flags sit behind a pointer the
	// filter cannot read, so it is refused as a whole (with ENOSYS, see
	// enosysSyscalls) and libc falls back to clone, which is checked.
	unix.SYS_SETNS,
	// The kernel keyring is not namespaced: keys of other users and the
	// host's can be probed, and it has had many bugs.
	unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	// eBPF programs and perf events reach kernel memory and other
	// processes' behaviour; userfaultfd is the classic tool to win kernel
	// races.
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_USERFAULTFD,
	// io_uring bypasses syscall filtering altogether and is a steady source
	// of kernel CVEs (Docker refuses it too); runtimes fall back to threads.
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
	// Mounts: the dyno's root is built by its init, never by the app.
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT, unix.SYS_MOVE_MOUNT,
	unix.SYS_OPEN_TREE, unix.SYS_FSOPEN, unix.SYS_FSCONFIG, unix.SYS_FSMOUNT, unix.SYS_FSPICK,
	unix.SYS_MOUNT_SETATTR,
	// Kernel modules and replacing the running kernel.
	unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE,
	unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD,
	// The clock is the host's, not namespaced.
	unix.SYS_CLOCK_SETTIME, unix.SYS_CLOCK_ADJTIME, unix.SYS_SETTIMEOFDAY, unix.SYS_ADJTIMEX,
	// Host administration: swap, reboot, process accounting, disk quotas,
	// the kernel log.
	unix.SYS_SWAPON, unix.SYS_SWAPOFF, unix.SYS_REBOOT, unix.SYS_ACCT,
	unix.SYS_QUOTACTL, unix.SYS_QUOTACTL_FD, unix.SYS_SYSLOG, unix.SYS_VHANGUP,
	// Opening a file by its handle skips the path's permission checks
	// (the "shocker" escape from containers).
	unix.SYS_OPEN_BY_HANDLE_AT,
	// Old interfaces nobody needs and Docker refuses.
	unix.SYS_LOOKUP_DCOOKIE, unix.SYS_NFSSERVCTL,
}

// personalities a process may set, as in Docker's profile: Linux,
// PER_LINUX32, UNAME26, and the query (0xffffffff). Others (such as
// READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE) weaken the process's defenses.
var personalities = []uint32{0x0, 0x8, 0x20000, 0xffffffff}

// seccompProgram assembles the filter for this architecture, or returns
// nil where hako has no syscall table for it.
func seccompProgram() []unix.SockFilter {
	if nativeArch == 0 {
		return nil
	}
	p := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch),
		// A foreign ABI's numbers mean other syscalls: refuse them all.
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, nativeArch, 1, 0),
		stmt(unix.BPF_RET|unix.BPF_K, retENOSYS),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr),
	}
	if x32Bit != 0 {
		// The x32 ABI shares the x86-64 arch value with its own numbers.
		p = append(p,
			jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, x32Bit, 0, 1),
			stmt(unix.BPF_RET|unix.BPF_K, retENOSYS))
	}
	for _, nr := range enosysSyscalls {
		p = append(p, refuse(nr, retENOSYS)...)
	}
	for _, nr := range append(deniedSyscalls, archDenied...) {
		p = append(p, refuse(nr, retEPERM)...)
	}
	for _, nr := range []uintptr{unix.SYS_UNSHARE, unix.SYS_CLONE} {
		// Flags are the first argument of both (clone's on x86-64 and
		// arm64 alike); only their low 32 bits count.
		p = append(p,
			jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, uint32(nr), 0, 4),
			stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArg0),
			jump(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, namespaceFlagsMask, 0, 1),
			stmt(unix.BPF_RET|unix.BPF_K, retEPERM),
			stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr))
	}
	// personality(2): the safe values pass, the rest is refused.
	n := uint8(len(personalities))
	p = append(p,
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, uint32(unix.SYS_PERSONALITY), 0, n+3),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArg0))
	for i, v := range personalities {
		p = append(p, jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, v, n-1-uint8(i), 0))
	}
	p[len(p)-1].Jf = 1 // the last value failed too: skip the allow
	p = append(p,
		stmt(unix.BPF_RET|unix.BPF_K, retAllow),
		stmt(unix.BPF_RET|unix.BPF_K, retEPERM),
		stmt(unix.BPF_RET|unix.BPF_K, retAllow))
	return p
}

// enosysSyscalls answer ENOSYS, which callers take for "not in this
// kernel" and fall back from.
var enosysSyscalls = []uintptr{unix.SYS_CLONE3}

// refuse is the rule "syscall nr returns ret"; it leaves the syscall
// number in the accumulator for the next rule.
func refuse(nr uintptr, ret uint32) []unix.SockFilter {
	return []unix.SockFilter{
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, uint32(nr), 0, 1),
		stmt(unix.BPF_RET|unix.BPF_K, ret),
	}
}

func stmt(code uint16, k uint32) unix.SockFilter {
	return unix.SockFilter{Code: code, K: k}
}

func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, K: k, Jt: jt, Jf: jf}
}

// errNoSeccomp is returned where hako has no filter for the architecture.
var errNoSeccomp = errors.New("no syscall filter for this architecture")

// installSeccomp loads the filter on the calling thread only: the init
// calls it on the locked thread that forks the command, which inherits
// it, while the init's other threads stay free to clean up. It needs
// no_new_privs or root.
func installSeccomp() error {
	prog := seccompProgram()
	if prog == nil {
		return errNoSeccomp
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
		return fmt.Errorf("install the syscall filter: %w", err)
	}
	return nil
}
