package cmd

import (
	"net"
	"time"

	"hako/sshgit"
)

// A client that vanishes without closing its connection (a network drop,
// a laptop's lid closed) would otherwise hold what it opened for ever:
// an attached one-off dyno most of all, with its memory, its disk and a
// place of its user's (engine.HoldAttached). SSH sessions are probed
// within the protocol (sshgit's keepalive); under every port, the API's
// upgraded `hako run` connections and the heroku CLI's rendezvous
// included, the kernel probes too: TCP keepalives after interval of
// silence, then every interval, and the connection is reset after
// sshgit.KeepaliveCount unanswered, so about (KeepaliveCount+1)×interval
// (two minutes by default) after its client went away. Data the client
// no longer acknowledges is given up after as long (TCP_USER_TIMEOUT,
// Linux), where the kernel would retry for a quarter of an hour.

// listenConfig is the configuration of the server's listeners for a
// keepalive interval: their accepted connections inherit it.
func listenConfig(interval time.Duration) net.ListenConfig {
	return net.ListenConfig{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: interval, Interval: interval, Count: sshgit.KeepaliveCount},
		Control:         userTimeout(time.Duration(sshgit.KeepaliveCount+1) * interval),
	}
}
