package cmd

import (
	"fmt"
	"net"

	"hako/engine/netlimit"
)

// Connection budgets. Every connection holds a file descriptor, and a
// proxied request a second one to its dyno; when the descriptors run out,
// every port stops answering at once. So each port gets its own share of
// the process's limit, and a flood on the router, the port the world
// reaches, fills only the router's share.
const (
	// reservedFiles are kept for everything else the server opens: the
	// store, logs, dynos' pipes and terminals, git, add-on connections.
	reservedFiles = 1024
	// maxRouterConns caps the default router share on machines with a
	// very high limit: an idle connection costs about 10 KiB of memory,
	// so a million of them would be a flood of another kind.
	maxRouterConns = 65536
	// filesPerSSH counts a session's connection, the git process's pipes
	// and the hook's connection back to the server.
	filesPerSSH = 6
	// perHostShare divides a port's share for the connections of one
	// remote address.
	perHostShare = 4
)

// connBudget is how many connections each port may hold open.
type connBudget struct {
	Router, API, SSH int
}

// budgets splits a file-descriptor limit between the ports; router and
// ssh, when positive, are the shares chosen with --router-max-conns and
// --ssh-max-conns.
func budgets(files uint64, router, ssh int) connBudget {
	n := int(min(files, 1<<30))
	b := connBudget{API: clamp(n/16, 32, 4096), SSH: clamp(n/32, 16, 1024)}
	if ssh > 0 {
		b.SSH = ssh
	}
	if router > 0 {
		b.Router = router
		return b
	}
	// A proxied request holds the client's connection and one to a dyno.
	b.Router = clamp((n-reservedFiles-b.API-filesPerSSH*b.SSH)/2, 64, maxRouterConns)
	return b
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// routerBusy is what a connection past the router's share reads: a 503,
// as Heroku's router answers when it cannot take more, so that a client
// retries rather than hangs.
var routerBusy = []byte(httpRefusal("text/plain; charset=utf-8", "hako: the router has too many open connections; try again shortly.\n"))

// sshBusy is the line a connection past SSH's share reads before it is
// closed: a server may send lines before its version, and OpenSSH's
// client shows them with -v.
var sshBusy = []byte("hako: too many SSH connections are open (in all, or from your address); try again shortly.\r\n")

// apiBusy is the API's answer past its share, in the API's error shape.
var apiBusy = []byte(httpRefusal("application/json", `{"id":"unavailable","message":"The hako API has too many open connections; try again shortly."}`+"\n"))

func httpRefusal(contentType, body string) string {
	return fmt.Sprintf("HTTP/1.1 503 Service Unavailable\r\nContent-Type: %s\r\nContent-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s", contentType, len(body), body)
}

// limitListeners wraps the listeners in their budgets; refusals are
// logged with the flag that changes the router's.
func limitListeners(ls map[string]net.Listener, b connBudget, logf func(string, ...any)) {
	warn := func(port, hint string) func(int, int) {
		return func(refused, limit int) {
			logf("%s: %d connections refused so far, past its share of %d%s", port, refused, limit, hint)
		}
	}
	router := netlimit.Listen(ls["http-addr"], b.Router, routerBusy)
	router.Warn = warn("router", " (--router-max-conns)")
	api := netlimit.Listen(ls["api-addr"], b.API, apiBusy)
	api.Warn = warn("api", "")
	ssh := netlimit.Listen(ls["ssh-addr"], b.SSH, sshBusy)
	ssh.Warn = warn("ssh", " (--ssh-max-conns)")
	// One client on the network (a student of a --public class) takes at
	// most a quarter of each port's share, whatever it opens and leaves
	// silent, and never more than it leaves free for others; the server's
	// own clients are not bounded (see LimitPerHost).
	for _, l := range []*netlimit.Listener{router, api, ssh} {
		l.LimitPerHost(max(l.Max()/perHostShare, 4))
	}
	ls["http-addr"], ls["api-addr"], ls["ssh-addr"] = router, api, ssh
	// The router's HTTPS side draws on the router's budget, the heroku
	// CLI's one-off dynos (rendezvous) on the API's.
	if l, ok := ls["https-addr"]; ok {
		ls["https-addr"] = router.Share(l)
	}
	if l, ok := ls["rendezvous-addr"]; ok {
		ls["rendezvous-addr"] = api.Share(l)
	}
}
