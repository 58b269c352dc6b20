package sshgit

import (
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// A client that vanishes without closing its connection (a network drop,
// a laptop's lid closed) sends nothing more, not even a FIN: a session
// waiting for its input, such as an attached one-off dyno's, would wait
// for ever, and keep its dyno and its user's place (engine.HoldAttached).
// So the server asks each session's client, every KeepaliveInterval, for
// an answer, as sshd's ClientAliveInterval does (OpenSSH clients answer
// keepalive@openssh.com, with a failure, which is enough), and closes the
// connection once KeepaliveCount intervals in a row passed with a probe
// unanswered: closed, the connection ends its sessions' context, which
// stops their dynos.
const (
	// DefaultKeepaliveInterval is sshd's usual ClientAliveInterval.
	DefaultKeepaliveInterval = 30 * time.Second
	// KeepaliveCount is sshd's ClientAliveCountMax: a silent client is
	// cut off between KeepaliveCount and KeepaliveCount+1 intervals after
	// it went silent (90 to 120 s by default).
	KeepaliveCount = 3
)

// keepalive probes conn's client every interval until done is closed,
// and closes conn after KeepaliveCount intervals in a row with a probe
// unanswered; dead, if set, is told first. A probe answered late is
// still an answer: a slow client is not a dead one.
func keepalive(conn gossh.Conn, interval time.Duration, done <-chan struct{}, dead func()) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	// answered holds a value while no probe is outstanding. SendRequest
	// waits for its answer, and requests are answered in order, so one
	// probe at a time is all there is to wait for.
	answered := make(chan struct{}, 1)
	answered <- struct{}{}
	missed := 0
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		select {
		case <-answered:
			missed = 0
			go func() {
				if _, _, err := conn.SendRequest("keepalive@openssh.com", true, nil); err != nil {
					return // the connection is closed: done follows
				}
				answered <- struct{}{}
			}()
		default:
			if missed++; missed >= KeepaliveCount {
				if dead != nil {
					dead()
				}
				_ = conn.Close()
				return
			}
		}
	}
}
