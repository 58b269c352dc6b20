//go:build !linux

package cmd

import (
	"syscall"
	"time"
)

// userTimeout does nothing where TCP_USER_TIMEOUT is unknown: the TCP
// keepalives alone notice a silent client.
func userTimeout(time.Duration) func(network, address string, c syscall.RawConn) error {
	return nil
}
