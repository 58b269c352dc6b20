package tether

import "runtime"

// runtimeLockAndExit ends a goroutine with its thread locked, which makes
// Go terminate that thread.
func runtimeLockAndExit() { runtime.LockOSThread() }
