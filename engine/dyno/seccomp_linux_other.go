//go:build linux && !amd64 && !arm64

package dyno

// No syscall table here: dynos run without a syscall filter, which
// installSeccomp reports.
const (
	nativeArch = 0
	x32Bit     = 0
)

var archDenied []uintptr
