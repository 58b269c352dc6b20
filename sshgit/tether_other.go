//go:build !linux

package sshgit

import "os/exec"

// dieWithServer does nothing where there is no parent-death signal.
func dieWithServer(cmd *exec.Cmd) {}
