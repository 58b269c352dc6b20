package dyno

import "golang.org/x/sys/unix"

// nativeArch is the audit architecture of this build's syscalls.
const nativeArch = unix.AUDIT_ARCH_AARCH64

// x32Bit is zero: arm64 has no second ABI sharing its arch value.
const x32Bit = 0

// archDenied: arm64 has none of the legacy syscalls refused on x86-64.
var archDenied []uintptr
