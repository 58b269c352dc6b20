package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dashboardSnapshot logs in to the dashboard with token and returns the
// raw data of every "app" event of the stream's first snapshot, by app.
func dashboardSnapshot(t *testing.T, s *server, token string) map[string]string {
	t.Helper()
	base := "http://127.0.0.1:" + s.apiPort + "/dashboard"
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == "hako_session" {
			cookie = k
		}
	}
	if cookie == nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("dashboard log-in: %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
	req.AddCookie(cookie)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	apps := map[string]string{}
	r := bufio.NewReader(resp.Body)
	name := ""
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("the dashboard's stream ended before it was ready: %v", err)
		}
		switch {
		case l == "event: ready\n":
			return apps
		case strings.HasPrefix(l, "event: "):
			name = strings.TrimSpace(strings.TrimPrefix(l, "event: "))
		case strings.HasPrefix(l, "data: ") && name == "app":
			var v struct{ Name string }
			data := strings.TrimSpace(strings.TrimPrefix(l, "data: "))
			if err := json.Unmarshal([]byte(data), &v); err != nil {
				t.Fatalf("app event: %v\n%s", err, data)
			}
			apps[v.Name] = data
		}
	}
}

// TestDashboardAttachedAddons: the dashboard's picture of an app shows
// the add-ons attached to it from other apps (with the app that owns
// each), to whoever may see that app; a member of that app alone sees
// neither the owning app nor its other add-ons, and a stranger sees the
// add-on nowhere.
func TestDashboardAttachedAddons(t *testing.T) {
	d := newAttachedDB(t)
	s := d.s
	if out, err := s.ssh(d.keys["stranger"], nil, "apps:create", "strange-db"); err != nil {
		t.Fatalf("stranger: apps:create: %v\n%s", err, out)
	}
	type addon struct{ Name, Service, Plan, As, App string }
	addonsOf := func(data string) []addon {
		var v struct{ Addons []addon }
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			t.Fatal(err)
		}
		return v.Addons
	}
	shared := addon{Name: d.addon, Service: "heroku-postgresql", Plan: "essential-0", As: "SHARED_DB", App: "owner-db"}

	// The hub learns of changes as they happen: wait until it has drawn
	// every app once.
	var member, stranger map[string]string
	waitFor(t, 20*time.Second, "the dashboard to draw the apps", func() bool {
		member = dashboardSnapshot(t, s, d.tokens["member"])
		stranger = dashboardSnapshot(t, s, d.tokens["stranger"])
		return member["uses-db"] != "" && stranger["strange-db"] != ""
	})
	if got := addonsOf(member["uses-db"]); len(got) != 1 || got[0] != shared {
		t.Errorf("member: uses-db's add-ons = %+v, want [%+v]", got, shared)
	}
	for app, data := range member {
		if app != "uses-db" {
			t.Errorf("member sees %s: %s", app, data)
		}
	}

	if len(stranger) != 1 {
		t.Errorf("stranger's apps: %v", stranger)
	}
	for app, data := range stranger {
		if strings.Contains(data, d.addon) || strings.Contains(data, "SHARED_DB") || strings.Contains(data, "owner-db") {
			t.Errorf("stranger's view of %s shows the attached add-on: %s", app, data)
		}
	}

	// The owner's picture shows its own add-on, not where it is attached.
	b, err := os.ReadFile(filepath.Join(s.home, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))
	admin := dashboardSnapshot(t, s, token)
	own := shared
	own.As = "DATABASE"
	if got := addonsOf(admin["owner-db"]); len(got) != 1 || got[0] != own {
		t.Errorf("owner-db's add-ons = %+v, want [%+v]", got, own)
	}
	if strings.Contains(admin["owner-db"], "uses-db") || strings.Contains(admin["owner-db"], "SHARED_DB") {
		t.Errorf("owner-db's picture names where its add-on is attached: %s", admin["owner-db"])
	}

	// Detached, it leaves uses-db's picture.
	s.hako(t, "addons:detach", "SHARED_DB", "-a", "uses-db")
	waitFor(t, 20*time.Second, "uses-db's picture without the detached add-on", func() bool {
		data := dashboardSnapshot(t, s, d.tokens["member"])["uses-db"]
		return data != "" && len(addonsOf(data)) == 0
	})
}
