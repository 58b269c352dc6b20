package engine_test

import (
	"path/filepath"
	"testing"

	"hako/engine"
	"hako/store"
)

func newAccountsEngine(t *testing.T) *engine.Engine {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "hako.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return engine.New(engine.Parts{Store: st, ParseKey: func(text string) (*engine.Key, error) {
		if text == "" {
			return nil, engine.Errorf(engine.EINVALID, "empty key")
		}
		return &engine.Key{Fingerprint: "SHA256:" + text, PublicKey: text}, nil
	}})
}

// TestCheckAccess is the rule itself, for every kind of user and both
// levels.
func TestCheckAccess(t *testing.T) {
	e := newAccountsEngine(t)
	for _, email := range []string{"owner@example.test", "collab@example.test", "stranger@example.test"} {
		if _, err := e.AddUser(email, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.AddUser("teacher@example.test", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateApp("shared", "owner@example.test"); err != nil {
		t.Fatal(err)
	}
	if err := e.AddCollaborator("shared", "collab@example.test", "owner@example.test"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		user  string
		level int
		want  string // error code, "" for access
	}{
		{"owner@example.test", engine.AccessMember, ""},
		{"owner@example.test", engine.AccessOwner, ""},
		{"collab@example.test", engine.AccessMember, ""},
		{"collab@example.test", engine.AccessOwner, engine.EFORBIDDEN},
		{"stranger@example.test", engine.AccessMember, engine.EFORBIDDEN},
		{"stranger@example.test", engine.AccessOwner, engine.EFORBIDDEN},
		{"teacher@example.test", engine.AccessOwner, ""},
		{engine.AdminEmail, engine.AccessOwner, ""},
		{"ghost@example.test", engine.AccessMember, engine.EFORBIDDEN},
		{"", engine.AccessMember, engine.EFORBIDDEN},
	}
	for _, c := range cases {
		err := e.CheckAccess(c.user, "shared", c.level)
		if engine.ErrorCode(err) != c.want {
			t.Errorf("CheckAccess(%q, level %d) = %v, want %q", c.user, c.level, err, c.want)
		}
		if c.want == engine.EFORBIDDEN && engine.ErrorMessage(err) != "You do not have access to the app shared." {
			t.Errorf("refusal says %q", engine.ErrorMessage(err))
		}
	}
	if err := e.CheckAccess("stranger@example.test", "ghost-app", engine.AccessMember); engine.ErrorCode(err) != engine.ENOTFOUND {
		t.Errorf("a missing app = %v, want not found", err)
	}
	// Removing the collaborator ends their access at once.
	if err := e.RemoveCollaborator("shared", "collab@example.test", "owner@example.test"); err != nil {
		t.Fatal(err)
	}
	if err := e.CheckAccess("collab@example.test", "shared", engine.AccessMember); engine.ErrorCode(err) != engine.EFORBIDDEN {
		t.Errorf("a removed collaborator = %v", err)
	}
}

func TestCollaboratorsRefuseNonsense(t *testing.T) {
	e := newAccountsEngine(t)
	if _, err := e.AddUser("owner@example.test", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateApp("shared", "owner@example.test"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		email, want string
	}{{"ghost@example.test", engine.ENOTFOUND}, {"owner@example.test", engine.ECONFLICT}} {
		if err := e.AddCollaborator("shared", c.email, "admin"); engine.ErrorCode(err) != c.want {
			t.Errorf("AddCollaborator(%s) = %v, want %s", c.email, err, c.want)
		}
	}
	if err := e.RemoveCollaborator("shared", "owner@example.test", "admin"); engine.ErrorCode(err) != engine.EINVALID {
		t.Errorf("removing the owner = %v", err)
	}
}

func TestUsersAndTokens(t *testing.T) {
	e := newAccountsEngine(t)
	for _, bad := range []string{"", "nobody", "a b@example.test", "x@", "@example.test", "a@b@c", "../x@example.test"} {
		if _, err := e.AddUser(bad, false); engine.ErrorCode(err) != engine.EINVALID {
			t.Errorf("AddUser(%q) = %v, want invalid", bad, err)
		}
	}
	u, err := e.AddUser(" Ada@Example.test ", false, "key-a")
	if err != nil || u.Email != "ada@example.test" {
		t.Fatalf("AddUser = %+v, %v", u, err)
	}
	if who, ok := e.Authorized("SHA256:key-a"); !ok || who != "ada@example.test" {
		t.Errorf("the key added with the user = %q, %v", who, ok)
	}
	// A key that is taken makes nothing.
	if _, err := e.AddUser("bob@example.test", false, "key-a"); engine.ErrorCode(err) != engine.ECONFLICT {
		t.Errorf("AddUser with a taken key = %v", err)
	}
	if _, err := e.User("bob@example.test"); engine.ErrorCode(err) != engine.ENOTFOUND {
		t.Errorf("bob exists after a refused AddUser: %v", err)
	}

	secret, tok, err := e.CreateToken("ada@example.test", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if tok.Hash == secret || len(secret) != 64 {
		t.Errorf("token %+v for secret %q: the secret must not be kept", tok, secret)
	}
	if got, err := e.Authenticate(secret); err != nil || got.Email != "ada@example.test" {
		t.Errorf("Authenticate = %+v, %v", got, err)
	}
	for _, bad := range []string{"", tok.Hash, secret[:63], secret + "0"} {
		if _, err := e.Authenticate(bad); engine.ErrorCode(err) != engine.EUNAUTHORIZED {
			t.Errorf("Authenticate(%q) = %v", bad, err)
		}
	}
	session, end := e.SessionToken("ada@example.test")
	if got, err := e.Authenticate(session); err != nil || got.Email != "ada@example.test" {
		t.Errorf("session token = %+v, %v", got, err)
	}
	end()
	if _, err := e.Authenticate(session); err == nil {
		t.Error("a session token works after its command ended")
	}
	if err := e.RevokeToken("ada@example.test", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Authenticate(secret); err == nil {
		t.Error("a revoked token still works")
	}

	// Removing a user ends their tokens and keys; the administrator stays.
	secret, _, _ = e.CreateToken("ada@example.test", "")
	session, _ = e.SessionToken("ada@example.test")
	if err := e.RemoveUser(engine.AdminEmail, "ada@example.test"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, session} {
		if _, err := e.Authenticate(s); err == nil {
			t.Error("a removed user's token still works")
		}
	}
	if _, ok := e.Authorized("SHA256:key-a"); ok {
		t.Error("a removed user's key still works")
	}
	if err := e.RemoveUser("teacher@example.test", engine.AdminEmail); engine.ErrorCode(err) != engine.EINVALID {
		t.Errorf("removing the administrator = %v", err)
	}
}
