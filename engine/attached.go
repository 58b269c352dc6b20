package engine

import "sync"

// DefaultMaxAttachedPerUser is how many attached one-off dynos a member
// may have at once unless the server says otherwise (hako server
// --max-attached-per-user).
const DefaultMaxAttachedPerUser = 10

// An attached one-off dyno (`hako run`, `heroku run`, `run` over SSH)
// is a dyno with its own processes, memory and disk for as long as its
// client stays: without a bound a key holder could open as many as the
// SSH and API connection budgets allow and exhaust the machine. So a
// member holds at most Parts.MaxAttachedPerUser of them at once, on all
// apps and through every door together (SSH, the API's upgraded
// connection, the heroku CLI's rendezvous). A place is taken before any
// dyno starts and given back when the session ends, however it ends:
// the command exits, the client leaves or goes silent (see the
// keepalives of sshgit and of the API's listeners), `ps:stop` stops the
// dyno, a rendezvous is never claimed, or the server stops (the count
// lives in memory, as the dynos do). Administrators have no bound, as
// for detached one-off dynos and apps.

// attachedHolds counts the attached one-off dynos each user holds.
type attachedHolds struct {
	mu   sync.Mutex
	held map[string]int
}

// HoldAttached takes one of user's places for an attached one-off dyno,
// to be given back with release (once; calling it again does nothing)
// when the session ends. Take it before the dyno starts, and for a dyno
// that waits for its client (a rendezvous), from when it is asked for.
// Returns ETOOMANY when user already holds MaxAttachedPerUser.
func (e *Engine) HoldAttached(user string) (release func(), err error) {
	limit := e.MaxAttachedPerUser
	if u, err := e.users().User(user); err == nil && u.Admin {
		limit = 0
	}
	h := &e.attached
	h.mu.Lock()
	defer h.mu.Unlock()
	if limit > 0 && h.held[user] >= limit {
		return nil, Errorf(ETOOMANY, "Cannot run more than %d attached one-off dynos at once: end one (exit it, or find it with `ps` and stop it with `ps:stop run.N`) and try again, or ask an administrator to raise --max-attached-per-user.", limit)
	}
	if h.held == nil {
		h.held = map[string]int{}
	}
	h.held[user]++
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if h.held[user]--; h.held[user] <= 0 {
				delete(h.held, user)
			}
		})
	}, nil
}
