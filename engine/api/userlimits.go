package api

import (
	"net/http"
	"sync"

	"hako/engine"
)

// What a request leaves open after it is answered, or holds for as long
// as its client likes, is bounded per user, since any key holder may be
// an attacker and the host is shared:
//
//   - log tails (`hako logs --tail`, over the API or SSH, and the log
//     sessions the heroku CLI reads): each holds a connection, a
//     goroutine and a subscription every line of the app is copied to;
//   - detached one-off dynos (`heroku run:detached`, POST
//     /apps/{app}/dynos without attach): each runs until its command
//     exits, with the memory and disk of a dyno, and no connection ends
//     it;
//   - log sessions handed out and not yet read, which wait a minute each.
//
// Past a bound the request gets 429 (rate_limit, as Heroku's) and nothing
// starts. Administrators have no bound, as for apps (engine.MaxAppsPerUser):
// they hold the server's own token.

// Defaults of the per-user bounds.
const (
	DefaultMaxTailsPerUser    = 10
	DefaultMaxDetachedPerUser = 5
	// maxPendingLogSessions bounds the log sessions waiting to be read,
	// and maxPendingLogSessionsPerUser one user's of them.
	maxPendingLogSessions        = 4096
	maxPendingLogSessionsPerUser = 32
)

// perUser counts what each user holds of one kind.
type perUser struct {
	mu   sync.Mutex
	held map[string]int
}

// take counts one more for user unless they hold limit already (limit
// below 1: no bound). release gives it back; calling it again does
// nothing.
func (p *perUser) take(user string, limit int) (release func(), ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if limit > 0 && p.held[user] >= limit {
		return nil, false
	}
	if p.held == nil {
		p.held = map[string]int{}
	}
	p.held[user]++
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.held[user]--; p.held[user] <= 0 {
				delete(p.held, user)
			}
		})
	}, true
}

// count is how many user holds.
func (p *perUser) count(user string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held[user]
}

// bound is the limit a request's user has for a kind whose setting is
// v (zero: def, below zero: none), or 0 for none (an administrator).
func bound(r *http.Request, v, def int) int {
	if u := userOf(r); u == nil || u.Admin || v < 0 {
		return 0
	}
	if v == 0 {
		return def
	}
	return v
}

func errTooManyTails(limit int) error {
	return engine.Errorf(engine.ETOOMANY, "You have %d log tails open, as many as a user may at once: end one (Ctrl-C) and try again.", limit)
}

func errTooManyDetached(limit int) error {
	return engine.Errorf(engine.ETOOMANY, "Cannot run more than %d detached one-off dynos at once: wait for one to exit and try again.", limit)
}
