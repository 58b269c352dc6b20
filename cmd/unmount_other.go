//go:build !linux

package cmd

// unmountUnder does nothing where dynos have no mounts of their own.
func unmountUnder(string) {}

// sweepEphemeral removes nothing where no lock tells a live home.
func sweepEphemeral(string) []string { return nil }
