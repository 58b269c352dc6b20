package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"hako/engine"
)

// fakeDB provisions databases that are only URLs.
type fakeDB struct{}

func (fakeDB) Service() string                                  { return "heroku-postgresql" }
func (fakeDB) Attachment() string                               { return "DATABASE" }
func (fakeDB) Plans() []string                                  { return []string{"essential-0"} }
func (fakeDB) Start(context.Context, []map[string]string) error { return nil }
func (fakeDB) Deprovision(context.Context, map[string]string) error {
	return nil
}
func (fakeDB) Stop() {}
func (fakeDB) Provision(_ context.Context, name, _ string) (string, map[string]string, error) {
	return "postgres://" + name + ":secret-of-" + name + "@127.0.0.1:5432/" + name, map[string]string{"db": name}, nil
}

// attachWorld is the authorization world with a database on "shared"
// (app A: owner and collaborator), and "strangers-own" (app B), the
// stranger's. The collaborator of A is a stranger to B, the stranger a
// stranger to A.
func attachWorld(t *testing.T) (*authzWorld, AddonView) {
	t.Helper()
	w := newAuthzWorld(t)
	w.s.Engine.AddonProviders = map[string]engine.AddonProvider{"heroku-postgresql": fakeDB{}}
	var db AddonView
	if err := json.Unmarshal([]byte(w.must(t, roleOwner, "POST", "/apps/shared/addons", `{"plan":"heroku-postgresql"}`)), &db); err != nil {
		t.Fatal(err)
	}
	w.must(t, roleStranger, "POST", "/apps", `{"name":"strangers-own"}`)
	return w, db
}

func (w *authzWorld) config(t *testing.T, app string) map[string]string {
	t.Helper()
	cfg, err := w.s.Engine.Config(app)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestAttachNeedsBothApps: attaching shares the add-on's credentials, so
// it takes access to the add-on's app and to the target. A member of the
// target who is a stranger to the add-on's app gets nothing (and learns
// nothing of it), a member of the add-on's app who is a stranger to the
// target is refused, and neither changes either app.
func TestAttachNeedsBothApps(t *testing.T) {
	w, db := attachWorld(t)
	for _, c := range []struct {
		name, role, body string
		status           int
		message          string
	}{
		{"a stranger to the add-on's app attaches it to their own", roleStranger,
			fmt.Sprintf(`{"addon":{"name":%q},"app":{"name":"strangers-own"},"name":"STOLEN"}`, db.Name),
			http.StatusNotFound, "Couldn't find that add-on: " + db.Name + "."},
		{"by the add-on's id", roleStranger,
			fmt.Sprintf(`{"addon":%q,"app":"strangers-own","name":"STOLEN"}`, db.ID),
			http.StatusNotFound, "Couldn't find that add-on: " + db.ID + "."},
		{"a collaborator of the add-on's app attaches it to a stranger's app", roleCollab,
			fmt.Sprintf(`{"addon":{"name":%q},"app":{"name":"strangers-own"},"name":"GIFT"}`, db.Name),
			http.StatusForbidden, "You do not have access to the app strangers-own."},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, out := w.call(c.role, "POST", "/addon-attachments", c.body)
			var e ErrorBody
			_ = json.Unmarshal([]byte(out), &e)
			if status != c.status || e.Message != c.message {
				t.Errorf("POST /addon-attachments as %s = %d %s, want %d %q", c.role, status, out, c.status, c.message)
			}
			for _, app := range []string{"shared", "strangers-own"} {
				for k := range w.config(t, app) {
					if k != "DATABASE_URL" {
						t.Errorf("%s gained %s from a refused attach", app, k)
					}
				}
			}
			if list, _ := w.s.Engine.Attachments("strangers-own"); len(list) != 0 {
				t.Errorf("strangers-own has attachments %v", list)
			}
		})
	}
	// Made a collaborator of both, the same person may.
	w.must(t, roleStranger, "POST", "/apps/strangers-own/collaborators", `{"user":"collaborator@example.test"}`)
	w.must(t, roleCollab, "POST", "/addon-attachments", fmt.Sprintf(`{"addon":{"name":%q},"app":{"name":"strangers-own"},"name":"GIFT"}`, db.Name))
	if got, want := w.config(t, "strangers-own")["GIFT_URL"], w.config(t, "shared")["DATABASE_URL"]; got != want {
		t.Errorf("GIFT_URL = %q, want %q", got, want)
	}
}

// TestAttachedAppMembersReachNoFurther: a member of an app another app's
// database is attached to sees the add-on and may detach it from their
// app, but may not pass it on to a third app, detach it from its owner,
// destroy it, or read the owner's attachments.
func TestAttachedAppMembersReachNoFurther(t *testing.T) {
	w, db := attachWorld(t)
	// The administrator attaches A's database to the stranger's app.
	var at AttachmentView
	out := w.must(t, roleAdmin, "POST", "/addon-attachments", fmt.Sprintf(`{"addon":{"name":%q},"app":{"name":"strangers-own"},"name":"SHARED"}`, db.Name))
	if err := json.Unmarshal([]byte(out), &at); err != nil || at.Name != "SHARED" || at.App.Name != "strangers-own" || at.Addon.App.Name != "shared" {
		t.Fatalf("attachment = %+v, %v", at, err)
	}
	w.must(t, roleStranger, "POST", "/apps", `{"name":"strangers-third"}`)
	own, err := w.s.Engine.Attachment("shared", "DATABASE")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"sees the add-on", "GET", "/addons/" + db.Name, "", http.StatusOK},
		{"sees its attachment on their app", "GET", "/apps/strangers-own/addon-attachments/SHARED", "", http.StatusOK},
		{"passes it on to a third app", "POST", "/addon-attachments", fmt.Sprintf(`{"addon":%q,"app":"strangers-third","name":"AGAIN"}`, db.Name), http.StatusForbidden},
		{"detaches the owner's attachment", "DELETE", "/addon-attachments/" + own.ID, "", http.StatusNotFound},
		{"destroys it through their app", "DELETE", "/apps/strangers-own/addons/SHARED", `{"force":true}`, http.StatusUnprocessableEntity},
		{"destroys it on its app", "DELETE", "/apps/shared/addons/" + db.Name, `{"force":true}`, http.StatusForbidden},
		{"lists the owner's attachments", "GET", "/apps/shared/addon-attachments", "", http.StatusForbidden},
	} {
		if status, out := w.call(roleStranger, c.method, c.path, c.body); status != c.status {
			t.Errorf("%s: %s %s as the stranger = %d %s, want %d", c.name, c.method, c.path, status, out, c.status)
		}
	}
	if _, ok := w.config(t, "strangers-third")["AGAIN_URL"]; ok {
		t.Error("the add-on was passed on to a third app")
	}
	if _, ok := w.config(t, "shared")["DATABASE_URL"]; !ok {
		t.Error("the owner lost DATABASE_URL")
	}
	// Their own app's attachment is theirs to detach.
	w.must(t, roleStranger, "DELETE", "/addon-attachments/"+at.ID, "")
	if _, ok := w.config(t, "strangers-own")["SHARED_URL"]; ok {
		t.Error("SHARED_URL still set after the detach")
	}
	// Once detached, the add-on is out of their sight again.
	if status, out := w.call(roleStranger, "GET", "/addons/"+db.Name, ""); status != http.StatusNotFound {
		t.Errorf("GET the add-on after the detach = %d %s, want 404", status, out)
	}
}
