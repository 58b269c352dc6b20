package dyno

import "golang.org/x/sys/unix"

// nativeArch is the audit architecture of this build's syscalls.
const nativeArch = unix.AUDIT_ARCH_X86_64

// x32Bit marks x32 syscall numbers, which share nativeArch.
const x32Bit = 0x40000000

// archDenied are the syscalls refused on x86-64 only, for the reasons
// given in deniedSyscalls: port I/O, obsolete module and sysctl
// interfaces.
var archDenied = []uintptr{
	unix.SYS_IOPL, unix.SYS_IOPERM, unix.SYS_CREATE_MODULE, unix.SYS_GET_KERNEL_SYMS,
	unix.SYS_QUERY_MODULE, unix.SYS__SYSCTL, unix.SYS_USELIB, unix.SYS_USTAT, unix.SYS_SYSFS,
}
