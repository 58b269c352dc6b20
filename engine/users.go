package engine

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// AdminEmail names the administrator every store has from its start: the
// holder of HAKO_HOME/api-token and of the keys registered before there
// were users.
const AdminEmail = "admin"

// User is an account: whoever holds one of its SSH keys or API tokens
// acts as it. Members see and change only the apps they own or
// collaborate on; administrators manage users and every app.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"created_at"`
	// Student marks the users workshop:seed made, whose apps
	// workshop:reset destroys.
	Student bool `json:"student,omitempty"`
}

// Token is an API token of a user. Only its SHA-256 is kept: the secret
// is shown once, when it is made, so a copy of the store lets nobody in.
type Token struct {
	ID          string    `json:"id"`
	User        string    `json:"user"`
	Hash        string    `json:"hash"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
}

// UserStore keeps users and their tokens; the store implements it, one
// transaction per method.
type UserStore interface {
	// CreateUser records u and, in the same transaction, its keys.
	// Returns ECONFLICT if the email or a key's fingerprint is taken.
	CreateUser(u *User, keys []*Key) error
	// User returns the user of that email. Returns ENOTFOUND.
	User(email string) (*User, error)
	// Users returns every user, oldest first.
	Users() ([]*User, error)
	// DeleteUser removes the user with their keys and tokens and takes
	// them off the apps they collaborate on. Returns ENOTFOUND, or
	// ECONFLICT while they own apps.
	DeleteUser(email string) error
	// AddToken records a token. Returns ENOTFOUND if its user is gone.
	AddToken(t *Token) error
	// TokenByHash returns the token whose secret hashes to hash. Returns
	// ENOTFOUND.
	TokenByHash(hash string) (*Token, error)
	// Tokens returns the user's tokens, oldest first.
	Tokens(email string) ([]*Token, error)
	// DeleteToken removes the user's token of that id. Returns ENOTFOUND.
	DeleteToken(email, id string) error
}

// users is the store's UserStore.
func (e *Engine) users() UserStore {
	if us, ok := e.Store.(UserStore); ok {
		return us
	}
	return noUsers{}
}

// noUsers is the UserStore of a store that keeps none: only the
// administrator exists.
type noUsers struct{}

func (noUsers) CreateUser(*User, []*Key) error {
	return Errorf(EINVALID, "This server keeps no users.")
}
func (noUsers) User(email string) (*User, error) {
	if email == AdminEmail {
		return &User{Email: AdminEmail, Admin: true}, nil
	}
	return nil, errNoUser(email)
}
func (noUsers) Users() ([]*User, error)            { return []*User{{Email: AdminEmail, Admin: true}}, nil }
func (noUsers) DeleteUser(email string) error      { return errNoUser(email) }
func (noUsers) AddToken(*Token) error              { return Errorf(EINVALID, "This server keeps no tokens.") }
func (noUsers) TokenByHash(string) (*Token, error) { return nil, Errorf(ENOTFOUND, "No such token.") }
func (noUsers) Tokens(string) ([]*Token, error)    { return nil, nil }
func (noUsers) DeleteToken(string, string) error   { return Errorf(ENOTFOUND, "No such token.") }

func errNoUser(email string) error {
	return Errorf(ENOTFOUND, "There is no user %s: `hako users` lists them.", email)
}

// emailRe is a plain address: enough to tell an email from a typo, and
// free of what a shell, a URL path or a log line would mangle.
var emailRe = regexp.MustCompile(`^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$`)

// ValidateEmail refuses what cannot name a user. Returns EINVALID.
func ValidateEmail(email string) error {
	if len(email) > 254 || !emailRe.MatchString(email) {
		return Errorf(EINVALID, "%q is not an email address: users are named by one, e.g. student1@example.test.", email)
	}
	return nil
}

// Users lists the accounts, oldest first.
func (e *Engine) Users() ([]*User, error) { return e.users().Users() }

// User returns the account of that email. Returns ENOTFOUND.
func (e *Engine) User(email string) (*User, error) { return e.users().User(email) }

// AddUser creates an account, with the public keys given (authorized_keys
// lines) registered to it in the same transaction. Returns EINVALID or
// ECONFLICT, and then creates nothing.
func (e *Engine) AddUser(email string, admin bool, publicKeys ...string) (*User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if err := ValidateEmail(email); err != nil {
		return nil, err
	}
	if len(publicKeys) > MaxKeysPerUser {
		return nil, Errorf(EINVALID, "A user may have at most %d SSH keys.", MaxKeysPerUser)
	}
	now := time.Now().UTC()
	var keys []*Key
	for _, text := range publicKeys {
		k, err := e.ParseKey(text)
		if err != nil {
			return nil, err
		}
		k.ID, k.CreatedAt, k.Email = newID(), now, email
		keys = append(keys, k)
	}
	u := &User{ID: newID(), Email: email, Admin: admin, CreatedAt: now}
	if err := e.users().CreateUser(u, keys); err != nil {
		return nil, err
	}
	return u, nil
}

// RemoveUser removes an account with its keys and tokens. An
// administrator cannot remove themselves, so a server always keeps one.
// Returns ENOTFOUND, EINVALID, or ECONFLICT while the user owns apps.
func (e *Engine) RemoveUser(actor, email string) error {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == actor || email == AdminEmail {
		return Errorf(EINVALID, "You cannot remove %s: a server keeps its administrator.", email)
	}
	if err := e.users().DeleteUser(email); err != nil {
		return err
	}
	e.sessions.forget(email)
	e.revoked.signal()
	return nil
}

// CreateToken makes a new API token for user and returns its secret,
// which is shown this once. Returns ENOTFOUND if the user is gone.
func (e *Engine) CreateToken(user, description string) (string, *Token, error) {
	secret := newSecret()
	t := &Token{ID: newID(), User: user, Hash: hashToken(secret), Description: description, CreatedAt: time.Now().UTC()}
	count := func() (int, error) {
		ts, err := e.users().Tokens(user)
		return len(ts), err
	}
	refusal := Errorf(EINVALID, "You have %d API tokens, as many as a user may: revoke one with `hako auth:tokens:revoke ID`.", MaxTokensPerUser)
	if err := e.withinBound(count, MaxTokensPerUser, refusal, func() error { return e.users().AddToken(t) }); err != nil {
		return "", nil, err
	}
	return secret, t, nil
}

// Tokens lists the user's API tokens (never their secrets).
func (e *Engine) Tokens(user string) ([]*Token, error) { return e.users().Tokens(user) }

// RevokeToken removes one of the user's tokens; whoever holds it is
// refused from the next request on, and what was opened with it (a
// dashboard session, a log tail) ends (see Revoked). Returns ENOTFOUND.
func (e *Engine) RevokeToken(user, id string) error {
	if err := e.users().DeleteToken(user, id); err != nil {
		return err
	}
	e.revoked.signal()
	return nil
}

// Revoked returns a channel closed at the next revocation of a token or
// removal of a user: what lives longer than a request on a credential (a
// dashboard session's event stream) waits on it to check its credential
// again at once (AuthenticateDigest) rather than at its next poll.
func (e *Engine) Revoked() <-chan struct{} { return e.revoked.wait() }

// TokenDigest is what a token is kept as: its SHA-256, in hex. A
// session made with a token keeps the digest, never the secret, and
// checks it again with AuthenticateDigest, so that revoking the token
// ends the session.
func TokenDigest(secret string) string { return hashToken(secret) }

// Authenticate returns the user a token belongs to: a stored token, or
// one an SSH session holds (SessionToken). Returns EUNAUTHORIZED.
func (e *Engine) Authenticate(secret string) (*User, error) {
	if secret == "" {
		return nil, errBadToken
	}
	return e.AuthenticateDigest(hashToken(secret))
}

// AuthenticateDigest is Authenticate for a token known by its digest
// (TokenDigest): the user it belongs to while it is not revoked and its
// user not removed. Returns EUNAUTHORIZED.
func (e *Engine) AuthenticateDigest(hash string) (*User, error) {
	if hash == "" {
		return nil, errBadToken
	}
	email, ok := e.sessions.lookup(hash)
	if !ok {
		t, err := e.users().TokenByHash(hash)
		if err != nil || subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hash)) != 1 {
			return nil, errBadToken
		}
		email = t.User
	}
	u, err := e.users().User(email)
	if err != nil {
		return nil, errBadToken
	}
	return u, nil
}

var errBadToken = Errorf(EUNAUTHORIZED, "Invalid credentials provided: use the token the server wrote to HAKO_HOME, one from `hako auth:tokens:create`, or set HAKO_API_TOKEN.")

// SessionToken returns a token for user that lives in memory until end
// is called: an SSH command reaches the API with it, as its key's user.
func (e *Engine) SessionToken(user string) (secret string, end func()) {
	secret = newSecret() // 256 random bits: its SHA-256 alone may be kept
	hash := hashToken(secret)
	e.sessions.add(hash, user)
	return secret, func() { e.sessions.remove(hash) }
}

func hashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// sessionTokens are the in-memory tokens of running SSH commands, by
// hash.
type sessionTokens struct {
	mu     sync.Mutex
	byHash map[string]string
}

func (s *sessionTokens) add(hash, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byHash == nil {
		s.byHash = map[string]string{}
	}
	s.byHash[hash] = user
}

func (s *sessionTokens) remove(hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byHash, hash)
}

func (s *sessionTokens) lookup(hash string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byHash[hash]
	return u, ok
}

// forget drops a removed user's session tokens.
func (s *sessionTokens) forget(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, u := range s.byHash {
		if u == user {
			delete(s.byHash, h)
		}
	}
}

// broadcast wakes every waiter at once: wait returns a channel that
// signal closes (and replaces).
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *broadcast) signal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}

// sortedEmails is a copy of emails in order, without repeats.
func sortedEmails(emails []string) []string {
	out := slices.Clone(emails)
	slices.Sort(out)
	return slices.Compact(out)
}
