package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// browser is a headless Chromium the test drives, one browser context
// (cookies of its own) per user.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// newBrowser starts Chromium (Debian's chromium package; a missing one
// fails the test under CI) and stops it when the test ends.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	need(t, "chromium")
	exe, _ := exec.LookPath("chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		cancelB()
		cancelA()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancelB(); cancelA() })
	return &browser{t: t, ctx: bctx}
}

// tab opens a tab in a browser context of its own (its own cookies).
func (b *browser) tab() *tab {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	// The tab opens now, on its own context: opened by a call on a
	// context with a deadline, it would close when that call ends.
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open a tab: %v", err)
	}
	return &tab{t: b.t, ctx: ctx}
}

type tab struct {
	t   *testing.T
	ctx context.Context
}

func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates js in the page and decodes its value into T.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// wait polls js in the page until it is true.
func (tb *tab) wait(d time.Duration, what, js string) {
	tb.t.Helper()
	waitFor(tb.t, d, what, func() bool {
		ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		return err == nil && ok
	}, func() string {
		ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
		defer cancel()
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body.innerText"))
		if err != nil {
			return "the page's text: " + err.Error()
		}
		return "the page's text:\n" + text
	})
}

// login logs in at base with token and waits for the live stream.
func (tb *tab) login(base, token string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#login")))
	tb.wait(15*time.Second, "the dashboard to be live", `document.getElementById("live") && document.getElementById("live").textContent === "live"`)
}

// shot saves a screenshot of the page when HAKO_DASHBOARD_SHOTS names a
// directory (how docs/dashboard-*.png are made).
func (tb *tab) shot(name string) {
	dir := os.Getenv("HAKO_DASHBOARD_SHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dashboard-"+name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// dashboardClass is a server with two members, alice and bob, who own
// alice-app and bob-app, and their API tokens.
type dashboardClass struct {
	s      *server
	keys   map[string]string
	tokens map[string]string
	web    string // the dashboard through the router: http://hako.localhost:PORT
}

func newDashboardClass(t *testing.T) *dashboardClass {
	t.Helper()
	s := startServer(t)
	admin, err := os.ReadFile(filepath.Join(s.home, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	c := &dashboardClass{s: s, keys: map[string]string{"admin": s.key}, tokens: map[string]string{"admin": strings.TrimSpace(string(admin))},
		web: "http://hako.localhost:" + s.httpPort}
	for _, who := range []string{"alice", "bob"} {
		key := s.keygen(who)
		s.hako(t, "users:add", who+"@example.test", "--key", key+".pub")
		c.keys[who] = key
		out, err := s.ssh(key, nil, "auth:tokens:create", "-s", "-d", "dashboard")
		if err != nil {
			t.Fatalf("%s: auth:tokens:create: %v\n%s", who, err, out)
		}
		c.tokens[who] = strings.TrimSpace(out)
		if out, err := s.ssh(key, nil, "apps:create", who+"-app"); err != nil {
			t.Fatalf("%s: apps:create: %v\n%s", who, err, out)
		}
	}
	return c
}

// api calls the API as who and decodes the answer into v.
func (c *dashboardClass) api(t *testing.T, who, method, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(method, "http://127.0.0.1:"+c.s.apiPort+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.tokens[who])
	req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		_ = json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

func (c *dashboardClass) formation(t *testing.T, app, typ string) int {
	t.Helper()
	var f []struct {
		Type     string `json:"type"`
		Quantity int    `json:"quantity"`
	}
	c.api(t, "admin", "GET", "/apps/"+app+"/formation", &f)
	for _, e := range f {
		if e.Type == typ {
			return e.Quantity
		}
	}
	return -1
}

// cardJS is a JavaScript expression for the overview card of app.
func cardJS(app string) string {
	return fmt.Sprintf(`document.querySelector('.card[data-app="%s"]')`, app)
}

// TestDashboardInBrowser drives the dashboard in headless Chromium: each
// member logs in with their token and sees only their own app, the
// administrator sees every student's; a push appears live (dyno boxes,
// the explain panel's steps in order) without a reload; the formation
// slider scales with the keyboard; a rollback button rolls back; config
// values show only when asked; the log stream filters by source.
func TestDashboardInBrowser(t *testing.T) {
	need(t, "python3")
	c := newDashboardClass(t)
	b := newBrowser(t)

	alice, bob, teacher := b.tab(), b.tab(), b.tab()
	alice.login(c.web, c.tokens["alice"])
	bob.login(c.web, c.tokens["bob"])
	teacher.login("http://127.0.0.1:"+c.s.apiPort+"/dashboard", c.tokens["admin"])
	alice.wait(10*time.Second, "alice's app", cardJS("alice-app")+" !== null")
	bob.wait(10*time.Second, "bob's app", cardJS("bob-app")+" !== null")
	teacher.wait(10*time.Second, "both apps on the teacher's screen", cardJS("alice-app")+" !== null && "+cardJS("bob-app")+" !== null")
	if eval[bool](alice, cardJS("bob-app")+" !== null") || eval[bool](bob, cardJS("alice-app")+" !== null") {
		t.Fatal("a member sees another member's app")
	}
	if got := eval[string](alice, `document.cookie`); got != "" {
		t.Fatalf("the session cookie is readable from scripts: %q", got)
	}

	// A push appears live: the page is never reloaded (the marker stays).
	alice.do(chromedp.Click(chromedp.CSS(`.card[data-app="alice-app"] h4 a`)))
	alice.wait(5*time.Second, "the detail of alice-app", `document.getElementById("detail-title").textContent === "alice-app"`)
	eval[bool](alice, `window.__notReloaded = true`)
	pushed := make(chan string, 1)
	go func() {
		out, err := c.s.push(repo(t, "procfile-app"), c.keys["alice"], "alice-app", "main")
		if err != nil {
			out += "\n" + err.Error()
		}
		pushed <- out
	}()
	alice.wait(60*time.Second, "the push's first step", `document.querySelector('#explain li[data-step="push"]') !== null`)
	alice.wait(90*time.Second, "web.1 up on alice's page", cardJS("alice-app")+`.querySelector('.dyno[data-dyno="web.1"][data-state="up"]') !== null`)
	alice.wait(30*time.Second, "the router step", `document.querySelector('#explain li[data-step="router"]') !== null`)
	if out := <-pushed; !released(out, 2) {
		t.Fatalf("push:\n%s", out)
	}
	steps := eval[[]string](alice, `[...document.querySelectorAll('#explain li')].map(li => li.dataset.step)`)
	if want := "push detect compile slug release dynos router"; strings.Join(steps, " ") != want {
		t.Fatalf("explain steps = %q, want %q", strings.Join(steps, " "), want)
	}
	if !eval[bool](alice, `window.__notReloaded === true`) {
		t.Fatal("the page was reloaded")
	}
	teacher.wait(10*time.Second, "alice's dyno on the teacher's screen", cardJS("alice-app")+`.querySelector('.dyno[data-state="up"]') !== null`)
	alice.shot("app")

	// Traffic through the router shows up as a rate.
	for i := 0; i < 20; i++ {
		if code, _, err := c.s.get("alice-app", "/"); err != nil || code != 200 {
			t.Fatalf("GET alice-app: %d %v", code, err)
		}
	}
	alice.wait(10*time.Second, "a request rate", `document.getElementById("rps") !== null && Number(document.getElementById("rps").textContent) > 0`)

	// The slider scales web to 2, with the keyboard.
	alice.do(chromedp.Focus(chromedp.CSS("#scale-web")), chromedp.KeyEvent(kb.ArrowRight))
	alice.wait(60*time.Second, "two web dynos up", cardJS("alice-app")+`.querySelectorAll('.dyno[data-state="up"]').length === 2`)
	if got := c.formation(t, "alice-app", "web"); got != 2 {
		t.Fatalf("web quantity after the slider = %d, want 2", got)
	}

	// A restart button restarts that dyno.
	alice.do(chromedp.Click(chromedp.CSS(`button[data-restart="web.1"]`)))
	alice.wait(60*time.Second, "the restart's answer", `document.getElementById("action-status").textContent === "Restarted web.1."`)

	// Config values are hidden until asked for.
	if out, err := c.s.ssh(c.keys["alice"], nil, "config:set", "GREETING=hi-there", "-a", "alice-app"); err != nil {
		t.Fatalf("config:set: %v\n%s", err, out)
	}
	alice.wait(30*time.Second, "release v3", `document.querySelector('#releases tr[data-version="3"]') !== null`)
	if eval[bool](alice, `document.getElementById("config").innerText.includes("hi-there")`) {
		t.Fatal("a config value is shown before it was asked for")
	}
	alice.do(chromedp.Click(chromedp.CSS("#reveal-config")))
	alice.wait(10*time.Second, "the config value", `document.getElementById("config").innerText.includes("hi-there")`)

	// A rollback button rolls back to v2.
	alice.do(chromedp.Click(chromedp.CSS(`button[data-rollback="2"]`)))
	alice.wait(60*time.Second, "release v4, the rollback", `(() => { const r = document.querySelector('#releases tr[data-version="4"]'); return r !== null && r.classList.contains("cur") && r.innerText.includes("Rollback to v2") })()`)
	var rels []struct {
		Version     int    `json:"version"`
		Description string `json:"description"`
	}
	c.api(t, "alice", "GET", "/apps/alice-app/releases", &rels)
	if len(rels) == 0 || rels[len(rels)-1].Version != 4 || rels[len(rels)-1].Description != "Rollback to v2" {
		t.Fatalf("releases after the rollback: %+v", rels)
	}

	// The log stream, filtered by source.
	alice.wait(10*time.Second, "router lines in the log stream", `document.getElementById("logs").textContent.includes("heroku[router]: at=info method=GET")`)
	alice.do(chromedp.SetValue(chromedp.CSS("#log-source"), "app"))
	eval[bool](alice, `document.getElementById("log-source").dispatchEvent(new Event("change")), true`)
	alice.wait(5*time.Second, "only app lines", `!document.getElementById("logs").textContent.includes("heroku[")`)
	teacher.shot("teacher")

	// H-codes show as they happen: maintenance mode answers H80.
	if out, err := c.s.ssh(c.keys["alice"], nil, "maintenance:on", "-a", "alice-app"); err != nil {
		t.Fatalf("maintenance:on: %v\n%s", err, out)
	}
	if code, _, err := c.s.get("alice-app", "/"); err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("GET in maintenance: %d %v", code, err)
	}
	alice.wait(10*time.Second, "the H80", `[...document.querySelectorAll("#hcodes li")].some(li => li.textContent.includes(" H80 Maintenance mode "))`)

	// Bob, in his own session, may not act on alice-app: the page's own
	// fetch with his CSRF token is refused by the one authorization check.
	got := eval[string](bob, `fetch("/apps/alice-app/scale", {method: "POST", headers: {"Content-Type": "application/json",
		"X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content}, body: JSON.stringify({type: "web", quantity: 0})})
		.then(async r => r.status + " " + (await r.json()).message)`)
	if got != "403 You do not have access to the app alice-app." {
		t.Fatalf("bob scaling alice-app: %q", got)
	}
	if q := c.formation(t, "alice-app", "web"); q != 2 {
		t.Fatalf("web quantity after bob's attempt = %d, want 2", q)
	}

	// Shared with bob, alice-app appears on his page; taken off it, it
	// leaves, without a reload.
	if out, err := c.s.ssh(c.keys["alice"], nil, "access:add", "bob@example.test", "-a", "alice-app"); err != nil {
		t.Fatalf("access:add: %v\n%s", err, out)
	}
	bob.wait(10*time.Second, "the shared app on bob's page", cardJS("alice-app")+" !== null")
	if out, err := c.s.ssh(c.keys["alice"], nil, "access:remove", "bob@example.test", "-a", "alice-app"); err != nil {
		t.Fatalf("access:remove: %v\n%s", err, out)
	}
	bob.wait(10*time.Second, "the app to leave bob's page", cardJS("alice-app")+" === null")
}

// TestDashboardRefuses: without a session nothing is shown or done; an
// action without the page's CSRF token, or sent from another site, is
// refused; a cross-site form in a real browser arrives without the cookie
// (SameSite=Strict); one member's session can neither read nor change
// another's app; the login page refuses a log-in posted from elsewhere.
func TestDashboardRefuses(t *testing.T) {
	need(t, "python3")
	c := newDashboardClass(t)
	base := "http://127.0.0.1:" + c.s.apiPort + "/dashboard"
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, cookie *http.Cookie, hdr map[string]string, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if cookie != nil {
			req.AddCookie(cookie)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusSeeOther {
			return resp.StatusCode, resp.Header.Get("Location")
		}
		return resp.StatusCode, string(b)
	}
	login := func(who string) (*http.Cookie, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"token": {c.tokens[who]}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var ck *http.Cookie
		for _, k := range resp.Cookies() {
			if k.Name == "hako_session" {
				ck = k
			}
		}
		if resp.StatusCode != http.StatusSeeOther || ck == nil {
			t.Fatalf("%s's log-in: %d, cookies %v", who, resp.StatusCode, resp.Cookies())
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/dashboard" || ck.Secure {
			t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/dashboard, not Secure over plain HTTP", ck)
		}
		_, page := do("GET", "/", ck, nil, "")
		i := strings.Index(page, `<meta name="csrf-token" content="`)
		if i < 0 {
			t.Fatalf("no CSRF token in the page:\n%s", page)
		}
		rest := page[i+len(`<meta name="csrf-token" content="`):]
		return ck, rest[:strings.IndexByte(rest, '"')]
	}

	// No session: the page redirects to the log-in, the rest is 401.
	if code, loc := do("GET", "/", nil, nil, ""); code != http.StatusSeeOther || loc != "/dashboard/login" {
		t.Fatalf("GET / without a session: %d %s", code, loc)
	}
	for _, r := range [][2]string{{"GET", "/events"}, {"POST", "/apps/alice-app/scale"}, {"GET", "/apps/alice-app/config"}, {"POST", "/apps/alice-app/restart"}} {
		if code, body := do(r[0], r[1], nil, nil, `{"type":"web","quantity":3}`); code != http.StatusUnauthorized || body != `{"id":"unauthorized","message":"Log in first."}`+"\n" {
			t.Fatalf("%s %s without a session: %d %s", r[0], r[1], code, body)
		}
	}
	if code, _ := do("POST", "/login", nil, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "token=not-a-token"); code != http.StatusUnauthorized {
		t.Fatalf("log-in with a bad token: %d", code)
	}
	if code, _ := do("POST", "/login", nil, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"}, "token="+c.tokens["alice"]); code != http.StatusForbidden {
		t.Fatalf("log-in posted from another site: %d, want 403", code)
	}

	// No app may take the dashboard's name.
	if out, err := c.s.run("apps:create", "hako"); err == nil || !hasLine(out, ` ▸    Name "hako" is reserved: the dashboard is served at hako.DOMAIN.`) {
		t.Fatalf("apps:create hako: %v\n%s", err, out)
	}

	alice, csrf := login("alice")
	bob, bobCSRF := login("bob")
	scale := `{"type":"web","quantity":3}`
	plain := map[string]string{"Content-Type": "application/json"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{"Content-Type": "application/json"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	refusedCSRF := `{"id":"forbidden","message":"This request lacks the page's CSRF token (or came from another site) and was refused."}` + "\n"
	for name, hdr := range map[string]map[string]string{
		"no token":          plain,
		"a wrong token":     with(map[string]string{"X-CSRF-Token": bobCSRF}),
		"another Origin":    with(map[string]string{"X-CSRF-Token": csrf, "Origin": "http://evil.example"}),
		"a cross-site mark": with(map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}),
	} {
		if code, body := do("POST", "/apps/alice-app/scale", alice, hdr, scale); code != http.StatusForbidden || body != refusedCSRF {
			t.Errorf("scale with %s: %d %s", name, code, body)
		}
	}
	// Bob's session, with his own CSRF token, cannot touch alice-app.
	forbidden := `{"id":"forbidden","message":"You do not have access to the app alice-app."}` + "\n"
	for _, r := range [][2]string{{"POST", "/apps/alice-app/scale"}, {"POST", "/apps/alice-app/restart"}, {"POST", "/apps/alice-app/rollback"}, {"GET", "/apps/alice-app/config"}} {
		if code, body := do(r[0], r[1], bob, with(map[string]string{"X-CSRF-Token": bobCSRF}), `{"type":"web","quantity":3,"version":1}`); code != http.StatusForbidden || body != forbidden {
			t.Errorf("bob: %s %s: %d %s", r[0], r[1], code, body)
		}
	}
	// Alice herself, with her token, may.
	if code, body := do("GET", "/apps/alice-app/config", alice, with(map[string]string{"X-CSRF-Token": csrf}), ""); code != http.StatusOK || body != "{}\n" {
		t.Fatalf("alice reading her config: %d %s", code, body)
	}
	if q := c.formation(t, "alice-app", "web"); q > 0 {
		t.Fatalf("alice-app's web was scaled to %d by a refused request", q)
	}

	// A user holds at most 8 live streams (tabs); the ninth is refused.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := 0; i <= 8; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
		req.AddCookie(alice)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if i < 8 {
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("stream %d: %d", i+1, resp.StatusCode)
			}
			defer resp.Body.Close()
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || string(b) != `{"id":"rate_limit","message":"You have as many live dashboards open as you may: close another tab."}`+"\n" {
			t.Fatalf("a ninth stream: %d %s", resp.StatusCode, b)
		}
	}
	cancel()

	// Logging out ends the session.
	if code, _ := do("POST", "/logout", bob, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "csrf="+bobCSRF); code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := do("GET", "/events", bob, nil, ""); code != http.StatusUnauthorized {
		t.Fatalf("events after logout: %d", code)
	}

	// In a real browser: a page of another site posts a form to the
	// dashboard; SameSite=Strict keeps the cookie out, so it is refused.
	b := newBrowser(t)
	tb := b.tab()
	tb.login(c.web, c.tokens["alice"])
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s/apps/alice-app/restart"><input name="dyno" value=""></form><script>document.getElementById("f").submit()</script>`, c.web)
	}))
	defer evil.Close()
	tb.do(chromedp.Navigate(evil.URL))
	tb.wait(10*time.Second, "the refusal of the cross-site form", `location.host.startsWith("hako.localhost") && document.body.innerText.includes("Log in first.")`)
	out := c.s.hako(t, "logs", "-a", "alice-app", "-n", "200")
	if strings.Contains(out, "Restart") {
		t.Fatalf("the cross-site form restarted the app:\n%s", out)
	}
}

// TestDashboardOverHTTPS: over TLS (the router's HTTPS side at
// hako.localhost, and the API's port) the session cookie is Secure too.
func TestDashboardOverHTTPS(t *testing.T) {
	s := startServer(t)
	tok, err := os.ReadFile(filepath.Join(s.home, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	c := s.tlsClient(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, base := range []string{"https://hako.localhost:" + s.httpsPort, "https://127.0.0.1:" + s.apiPort + "/dashboard"} {
		req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"token": {strings.TrimSpace(string(tok))}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		resp.Body.Close()
		var ck *http.Cookie
		for _, k := range resp.Cookies() {
			if k.Name == "hako_session" {
				ck = k
			}
		}
		if resp.StatusCode != http.StatusSeeOther || ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
			t.Fatalf("%s: log-in %d, cookie %+v; want 303 and a Secure, HttpOnly, SameSite=Strict cookie", base, resp.StatusCode, ck)
		}
	}
}
