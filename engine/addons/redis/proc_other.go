//go:build !linux

package redis

import "os/exec"

// serverCredential returns nil: elsewhere than on Linux the servers run
// as hako's own user, which is a developer's.
func serverCredential(uid, gid int) *credential { return nil }

// setProcAttr leaves the process as it is: process groups and Pdeathsig
// are Linux matters here.
func setProcAttr(cmd *exec.Cmd, c *credential) {}
