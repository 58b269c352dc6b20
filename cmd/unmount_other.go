//go:build !linux

package cmd

// unmountUnder does nothing where dynos have no mounts of their own.
func unmountUnder(string) {}
