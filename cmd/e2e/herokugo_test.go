package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	heroku "github.com/heroku/heroku-go/v5"
)

// herokuGoCalls are the heroku-go functions the Platform API must serve,
// as scripts written for Heroku call them.
var herokuGoCalls = []string{
	"AccountInfo", "AppList", "AppCreate", "AppInfo", "AppUpdate", "AppDelete",
	"ConfigVarInfoForApp", "ConfigVarUpdate", "ReleaseList", "ReleaseInfo", "ReleaseCreate",
	"FormationList", "FormationBatchUpdate", "FormationUpdate",
	"DynoList", "DynoInfo", "DynoCreate", "DynoRestart", "DynoRestartAll", "DynoStop",
	"DomainList", "DomainCreate", "DomainInfo", "DomainDelete",
	"AddOnCreate", "AddOnInfo", "AddOnListByApp", "AddOnAttachmentList",
	"AddOnAttachmentCreate", "AddOnAttachmentInfo", "AddOnAttachmentInfoByApp", "AddOnAttachmentListByApp",
	"AddOnAttachmentListByAddOn", "AddOnAttachmentDelete",
	"LogSessionCreate", "LogDrainCreate", "LogDrainList", "LogDrainDelete",
	"BuildpackInstallationList", "BuildpackInstallationUpdate", "KeyList",
	"SourceCreate", "BuildCreate", "BuildInfo", "BuildList", "SlugCreate", "SlugInfo",
}

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// herokuGo is a heroku-go client of a test server, counting the calls
// that did what they should.
type herokuGo struct {
	*heroku.Service
	t      *testing.T
	failed map[string]bool
	called map[string]bool
}

// check records a call's outcome: err must be nil and every condition
// hold (each a description when it does not).
func (h *herokuGo) check(call string, err error, problems ...string) bool {
	h.t.Helper()
	h.called[call] = true
	if err != nil {
		h.failed[call] = true
		h.t.Errorf("%s: %v", call, err)
		return false
	}
	var bad []string
	for _, p := range problems {
		if p != "" {
			bad = append(bad, p)
		}
	}
	if len(bad) > 0 {
		h.failed[call] = true
		h.t.Errorf("%s: %s", call, strings.Join(bad, "; "))
		return false
	}
	return true
}

// refused checks that a call was refused with Heroku's error shape: the
// status and the id.
func (h *herokuGo) refused(call string, err error, status int, id string) {
	h.t.Helper()
	h.called[call] = true
	var he heroku.Error
	if !errors.As(err, &he) || he.StatusCode != status || he.ID != id {
		h.failed[call] = true
		h.t.Errorf("%s: got %v (%#v), want %d %s", call, err, he, status, id)
	}
}

// when returns why unless cond holds.
func when(cond bool, why string, args ...any) string {
	if cond {
		return ""
	}
	if len(args) > 0 {
		return why + ": " + fmt.Sprintf("%+v", args)
	}
	return why
}

// herokuService is heroku-go's client for s's API, with the admin's token.
func herokuService(t *testing.T, s *server) *heroku.Service {
	t.Helper()
	token, err := os.ReadFile(filepath.Join(s.home, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	h := heroku.NewService(&http.Client{Transport: &heroku.Transport{BearerToken: strings.TrimSpace(string(token))}, Timeout: 2 * time.Minute})
	h.URL = "http://127.0.0.1:" + s.apiPort
	return h
}

// TestHerokuGo drives the API with github.com/heroku/heroku-go/v5, the
// official Go client, with Service.URL pointed at the server: each of
// the calls in herokuGoCalls, its answer checked and the server's state
// after it, and the wrong ones refused with Heroku's error shape.
func TestHerokuGo(t *testing.T) {
	need(t, "python3", "redis-server")
	s := startServer(t)
	h := &herokuGo{Service: herokuService(t, s), t: t, failed: map[string]bool{}, called: map[string]bool{}}
	ctx := context.Background()
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }

	acct, err := h.AccountInfo(ctx)
	h.check("AccountInfo", err, when(err == nil && acct.Email != "" && uuidShape.MatchString(acct.ID), "account without email or id"))

	app, err := h.AppCreate(ctx, heroku.AppCreateOpts{Name: str("hgo")})
	if !h.check("AppCreate", err, when(err == nil && app.Name == "hgo" && uuidShape.MatchString(app.ID) && app.Stack.Name == "heroku-24", "app shape")) {
		t.FailNow()
	}
	apps, err := h.AppList(ctx, nil)
	h.check("AppList", err, when(len(apps) == 1 && apps[0].ID == app.ID, "apps listed", apps))
	byID, err := h.AppInfo(ctx, app.ID)
	h.check("AppInfo", err, when(err == nil && byID.Name == "hgo", "app by id"))

	if out, err := s.push(repo(t, "procfile-app"), s.key, "hgo", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	s.waitBody(t, "hgo", "hello from procfile")

	// Config vars make v3.
	cfg, err := h.ConfigVarUpdate(ctx, "hgo", map[string]*string{"GREETING": str("hi")})
	h.check("ConfigVarUpdate", err, when(cfg["GREETING"] != nil && *cfg["GREETING"] == "hi", "GREETING not set"))
	info, err := h.ConfigVarInfoForApp(ctx, "hgo")
	h.check("ConfigVarInfoForApp", err, when(len(info) == 1 && info["GREETING"] != nil && *info["GREETING"] == "hi", "config", info))

	rels, err := h.ReleaseList(ctx, "hgo", nil)
	versions := []int{}
	for _, r := range rels {
		versions = append(versions, r.Version)
	}
	h.check("ReleaseList", err, when(slices.Equal(versions, []int{1, 2, 3}), "versions", versions),
		when(len(rels) == 3 && rels[2].Current && rels[2].App.Name == "hgo" && uuidShape.MatchString(rels[1].ID) && rels[1].Slug != nil, "release shape"))
	if len(rels) != 3 {
		t.FailNow()
	}
	v2, err := h.ReleaseInfo(ctx, "hgo", rels[1].ID)
	v3, err3 := h.ReleaseInfo(ctx, "hgo", "3")
	h.check("ReleaseInfo", errors.Join(err, err3), when(err == nil && v2.Version == 2 && v2.Slug != nil, "v2 by id"),
		when(err3 == nil && v3.ID == rels[2].ID && v3.Description == "Set GREETING config vars", "v3 by version"))
	_, err = h.ReleaseInfo(ctx, "hgo", "0b7a3bb4-6d4d-4e83-9d23-000000000000")
	h.refused("ReleaseInfo", err, 404, "not_found")

	// The formation: two web dynos, then one.
	form, err := h.FormationList(ctx, "hgo", nil)
	h.check("FormationList", err, when(len(form) == 1 && form[0].Type == "web" && form[0].Quantity == 1 && form[0].App.Name == "hgo", "formation", form))
	batch := heroku.FormationBatchUpdateOpts{}
	batch.Updates = append(batch.Updates, struct {
		Quantity *int    `json:"quantity,omitempty" url:"quantity,omitempty,key"`
		Size     *string `json:"size,omitempty" url:"size,omitempty,key"`
		Type     string  `json:"type" url:"type,key"`
	}{Quantity: num(2), Type: "web"})
	upd, err := h.FormationBatchUpdate(ctx, "hgo", batch)
	h.check("FormationBatchUpdate", err, when(len(upd) == 1 && upd[0].Quantity == 2, "web not at 2", upd))
	waitDynos(t, h, "hgo", 2)
	_, err = h.FormationUpdate(ctx, "hgo", "web", heroku.FormationUpdateOpts{Size: str("huge")})
	h.refused("FormationUpdate", err, 422, "invalid_params")
	one, err := h.FormationUpdate(ctx, "hgo", "web", heroku.FormationUpdateOpts{Quantity: num(1), Size: str("standard-1X")})
	h.check("FormationUpdate", err, when(err == nil && one.Quantity == 1 && one.Type == "web", "web not at 1"))
	dynos := waitDynos(t, h, "hgo", 1)
	batch.Updates[0].Quantity, batch.Updates[0].Size = nil, str("standard-2X")
	upd, err = h.FormationBatchUpdate(ctx, "hgo", batch)
	h.check("FormationBatchUpdate", err, when(len(upd) == 1 && upd[0].Quantity == 1, "a size alone changed the quantity", upd))

	d, err := h.DynoInfo(ctx, "hgo", "web.1")
	h.check("DynoInfo", err, when(err == nil && d.ID == dynos[0].ID && d.Release.Version == 3 && d.Release.ID == rels[2].ID && d.App.Name == "hgo" && d.Size != "", "dyno shape"))
	_, err = h.DynoInfo(ctx, "hgo", "web.9")
	h.refused("DynoInfo", err, 404, "not_found")
	_, err = h.DynoRestart(ctx, "hgo", "web.1")
	h.check("DynoRestart", err)
	_, err = h.DynoStop(ctx, "hgo", "web.1")
	h.check("DynoStop", err)
	_, err = h.DynoRestartAll(ctx, "hgo")
	h.check("DynoRestartAll", err)
	waitDynos(t, h, "hgo", 1)
	s.waitBody(t, "hgo", "hello from procfile")

	// One-off dynos: attached through the rendezvous (as `heroku run`),
	// and detached with the output in the logs.
	pem, err := os.ReadFile(s.caFile(t))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	run, err := h.DynoCreate(ctx, "hgo", heroku.DynoCreateOpts{Command: "echo attached-$((6*7))", Attach: heroku.Bool(true), ForceNoTty: heroku.Bool(true)})
	if h.check("DynoCreate", err, when(err == nil && run.AttachURL != nil && run.Type == "run" && run.App.Name == "hgo" && run.Release.Version == 3, "attached dyno")) {
		first, rest := rendezvous(t, roots, *run.AttachURL, "\x04")
		h.check("DynoCreate", nil, when(first == "rendezvous\r\n" && rest == "attached-42\n", "attached output", first, rest))
	}
	det, err := h.DynoCreate(ctx, "hgo", heroku.DynoCreateOpts{Command: "echo detached-$((6*7))"})
	if h.check("DynoCreate", err, when(err == nil && det.AttachURL == nil && strings.HasPrefix(det.Name, "run."), "detached dyno")) {
		var logs string
		waitFor(t, 30*time.Second, "the detached dyno's output in the logs", func() bool {
			logs = s.hako(t, "logs", "-a", "hgo")
			return hasLineMatch(logs, `\S+ app\[`+regexp.QuoteMeta(det.Name)+`\]: detached-42`)
		}, func() string { return logs })
	}
	_, err = h.DynoCreate(ctx, "hgo", heroku.DynoCreateOpts{Command: ""})
	h.refused("DynoCreate", err, 422, "invalid_params")

	// Domains.
	dom, err := h.DomainCreate(ctx, "hgo", heroku.DomainCreateOpts{Hostname: "www.hgo.test"})
	h.check("DomainCreate", err, when(err == nil && dom.Hostname == "www.hgo.test" && uuidShape.MatchString(dom.ID) && dom.Status != "" &&
		dom.CName != nil && *dom.CName == "hgo.localhost" && !dom.CreatedAt.IsZero() && dom.SniEndpoint == nil, "domain shape"))
	_, err = h.DomainCreate(ctx, "hgo", heroku.DomainCreateOpts{Hostname: "not a host"})
	h.refused("DomainCreate", err, 422, "invalid_params")
	doms, err := h.DomainList(ctx, "hgo", nil)
	h.check("DomainList", err, when(len(doms) == 2 && doms[1].Hostname == "www.hgo.test", "domains", doms))
	if code, body, _ := s.getHost("www.hgo.test", "/"); code != 200 || body != "hello from procfile\n" {
		t.Errorf("www.hgo.test answers %d %q", code, body)
	}
	if err == nil {
		info, err := h.DomainInfo(ctx, "hgo", dom.ID)
		info2, err2 := h.DomainInfo(ctx, "hgo", "www.hgo.test")
		h.check("DomainInfo", errors.Join(err, err2), when(err == nil && err2 == nil && info.Hostname == "www.hgo.test" && info2.ID == dom.ID, "domain by id and name"))
	}
	_, err = h.DomainInfo(ctx, "hgo", "nope.hgo.test")
	h.refused("DomainInfo", err, 404, "not_found")
	gone, err := h.DomainDelete(ctx, "hgo", "www.hgo.test")
	h.check("DomainDelete", err, when(err == nil && gone.Hostname == "www.hgo.test", "deleted domain"))
	if doms, _ := h.DomainList(ctx, "hgo", nil); len(doms) != 1 {
		t.Errorf("after DomainDelete: %d domains, want the app's own", len(doms))
	}

	// An add-on.
	ad, err := h.AddOnCreate(ctx, "hgo", heroku.AddOnCreateOpts{Plan: "heroku-redis"})
	h.check("AddOnCreate", err, when(err == nil && ad.AddonService.Name == "heroku-redis" && strings.HasPrefix(ad.Plan.Name, "heroku-redis:") &&
		ad.BillingEntity.Name == "hgo" && slices.Equal(ad.ConfigVars, []string{"REDIS_URL"}), "add-on shape"))
	if err == nil {
		info, err := h.AddOnInfo(ctx, ad.ID)
		h.check("AddOnInfo", err, when(err == nil && info.Name == ad.Name && info.App.Name == "hgo", "add-on by id"))
	}
	_, err = h.AddOnInfo(ctx, "0b7a3bb4-6d4d-4e83-9d23-000000000000")
	h.refused("AddOnInfo", err, 404, "not_found")
	ads, err := h.AddOnListByApp(ctx, "hgo", nil)
	h.check("AddOnListByApp", err, when(len(ads) == 1 && ads[0].ID == ad.ID, "add-ons", ads))
	atts, err := h.AddOnAttachmentList(ctx, nil)
	h.check("AddOnAttachmentList", err, when(len(atts) == 1 && atts[0].Name == "REDIS" && atts[0].App.Name == "hgo" && atts[0].Addon.ID == ad.ID, "attachments", atts))
	if cfg, _ := h.ConfigVarInfoForApp(ctx, "hgo"); cfg["REDIS_URL"] == nil {
		t.Errorf("the add-on set no REDIS_URL: %v", cfg)
	}
	// A second attachment of it, to its own app, and away again.
	at, err := h.AddOnAttachmentCreate(ctx, heroku.AddOnAttachmentCreateOpts{Addon: ad.Name, App: "hgo", Name: str("SECOND_CACHE")})
	h.check("AddOnAttachmentCreate", err, when(err == nil && at.Name == "SECOND_CACHE" && at.App.Name == "hgo" && at.Addon.ID == ad.ID &&
		uuidShape.MatchString(at.ID) && at.ID != ad.ID, "attachment", at))
	if cfg, _ := h.ConfigVarInfoForApp(ctx, "hgo"); cfg["SECOND_CACHE_URL"] == nil || cfg["REDIS_URL"] == nil || *cfg["SECOND_CACHE_URL"] != *cfg["REDIS_URL"] {
		t.Errorf("after AddOnAttachmentCreate: want SECOND_CACHE_URL = REDIS_URL: %v", cfg)
	}
	if err == nil {
		got, err := h.AddOnAttachmentInfo(ctx, at.ID)
		h.check("AddOnAttachmentInfo", err, when(err == nil && got.Name == "SECOND_CACHE" && got.Addon.Name == ad.Name, "attachment by id", got))
		got, err = h.AddOnAttachmentInfoByApp(ctx, "hgo", "SECOND_CACHE")
		h.check("AddOnAttachmentInfoByApp", err, when(err == nil && got.ID == at.ID, "attachment by name", got))
		byApp, err := h.AddOnAttachmentListByApp(ctx, "hgo", nil)
		h.check("AddOnAttachmentListByApp", err, when(len(byApp) == 2 && byApp[0].Name == "REDIS" && byApp[1].Name == "SECOND_CACHE", "attachments of the app", byApp))
		byAddon, err := h.AddOnAttachmentListByAddOn(ctx, ad.ID, nil)
		h.check("AddOnAttachmentListByAddOn", err, when(len(byAddon) == 2 && byAddon[1].ID == at.ID, "attachments of the add-on", byAddon))
		gone, err := h.AddOnAttachmentDelete(ctx, at.ID)
		h.check("AddOnAttachmentDelete", err, when(err == nil && gone.ID == at.ID, "deleted attachment", gone))
		if cfg, _ := h.ConfigVarInfoForApp(ctx, "hgo"); cfg["SECOND_CACHE_URL"] != nil || cfg["REDIS_URL"] == nil {
			t.Errorf("after AddOnAttachmentDelete: want REDIS_URL alone: %v", cfg)
		}
	}
	// The add-on's own attachment stays while the add-on does.
	_, err = h.AddOnAttachmentDelete(ctx, ad.ID)
	h.refused("AddOnAttachmentDelete", err, 409, "conflict")

	// Logs and drains.
	ls, err := h.LogSessionCreate(ctx, "hgo", heroku.LogSessionCreateOpts{Lines: num(200)})
	if h.check("LogSessionCreate", err, when(err == nil && ls.LogplexURL != "", "no logplex_url")) {
		body := fetchURL(t, ls.LogplexURL)
		h.check("LogSessionCreate", nil, when(strings.Contains(body, "Release v3 created by user"), "log lacks the release line"))
	}
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	drainURL := "syslog://" + sink.Addr().String()
	drain, err := h.LogDrainCreate(ctx, "hgo", heroku.LogDrainCreateOpts{URL: drainURL})
	h.check("LogDrainCreate", err, when(err == nil && drain.URL == drainURL && drain.Token != "", "drain shape"))
	drains, err := h.LogDrainList(ctx, "hgo", nil)
	h.check("LogDrainList", err, when(len(drains) == 1 && drains[0].URL == drainURL, "drains", drains))
	// heroku-go puts the URL in the path as it is: syslog://HOST:PORT.
	gd, err := h.LogDrainDelete(ctx, "hgo", drainURL)
	h.check("LogDrainDelete", err, when(err == nil && gd.URL == drainURL, "deleted drain"))
	if drains, _ := h.LogDrainList(ctx, "hgo", nil); len(drains) != 0 {
		t.Errorf("after LogDrainDelete: %v", drains)
	}

	// Buildpacks and keys.
	bp := heroku.BuildpackInstallationUpdateOpts{}
	bp.Updates = append(bp.Updates, struct {
		Buildpack string `json:"buildpack" url:"buildpack,key"`
	}{Buildpack: "procfile"})
	bps, err := h.BuildpackInstallationUpdate(ctx, "hgo", bp)
	h.check("BuildpackInstallationUpdate", err, when(len(bps) == 1 && bps[0].Buildpack.URL == "procfile", "buildpacks", bps))
	bpl, err := h.BuildpackInstallationList(ctx, "hgo", nil)
	h.check("BuildpackInstallationList", err, when(len(bpl) == 1 && bpl[0].Buildpack.Name == "procfile" && bpl[0].Ordinal == 0, "buildpacks", bpl))
	keys, err := h.KeyList(ctx, nil)
	h.check("KeyList", err, when(len(keys) == 1 && keys[0].Comment == "owner" && keys[0].Email == acct.Email && strings.HasPrefix(keys[0].Fingerprint, "SHA256:"), "keys", keys))

	// A build from a source, without git.
	src, err := h.SourceCreate(ctx)
	h.check("SourceCreate", err, when(err == nil && src.SourceBlob.PutURL != "" && src.SourceBlob.GetURL != "", "source URLs"))
	if err != nil {
		t.FailNow()
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(testdataDir(), "apps", "procfile-app"))); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "index.html", "built from a source\n")
	writeFile(t, dir, "Procfile", "web: python3 -m http.server $PORT\nrelease: echo release-phase-$((6*7))\n")
	putBlob(t, src.SourceBlob.PutURL, tarGz(t, dir))
	_, err = h.BuildCreate(ctx, "hgo", heroku.BuildCreateOpts{SourceBlob: struct {
		Checksum *string `json:"checksum,omitempty" url:"checksum,omitempty,key"`
		URL      *string `json:"url,omitempty" url:"url,omitempty,key"`
		Version  *string `json:"version,omitempty" url:"version,omitempty,key"`
	}{URL: str("http://198.51.100.1/elsewhere.tgz")}})
	h.refused("BuildCreate", err, 422, "invalid_params")
	opts := heroku.BuildCreateOpts{}
	opts.SourceBlob.URL, opts.SourceBlob.Version = &src.SourceBlob.GetURL, str("src-1")
	b, err := h.BuildCreate(ctx, "hgo", opts)
	if !h.check("BuildCreate", err, when(err == nil && uuidShape.MatchString(b.ID) && b.Status == "pending" && b.OutputStreamURL != "", "build shape")) {
		t.FailNow()
	}
	if out := fetchURL(t, b.OutputStreamURL); !hasLine(out, "-----> Launching...") || !released(out, 7) {
		t.Errorf("build output:\n%s", out)
	}
	var done *heroku.Build
	waitFor(t, time.Minute, "the build to end", func() bool {
		done, err = h.BuildInfo(ctx, "hgo", b.ID)
		return err != nil || done.Status != "pending"
	})
	h.check("BuildInfo", err, when(err == nil && done.Status == "succeeded" && done.Release != nil && done.Slug != nil, "build end"))
	s.waitBody(t, "hgo", "built from a source")
	// The build's release ran a release phase, whose output it streams.
	if done != nil && done.Release != nil {
		rel, err := h.ReleaseInfo(ctx, "hgo", done.Release.ID)
		if h.check("ReleaseInfo", err, when(err == nil && rel.Version == 7 && rel.OutputStreamURL != nil, "release output URL")) {
			if out := fetchURL(t, *rel.OutputStreamURL); !hasLine(out, "       release-phase-42") {
				t.Errorf("release output:\n%s", out)
			}
			// The URL carries its expiry, signed: one moved an hour on is
			// refused, as is one without it.
			u, err := url.Parse(*rel.OutputStreamURL)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if _, err := strconv.ParseInt(q.Get("expires"), 10, 64); err != nil {
				t.Errorf("release output URL %s has no expiry", *rel.OutputStreamURL)
			}
			for _, change := range []func(){
				func() { q.Set("expires", strconv.FormatInt(time.Now().Add(2*time.Hour).Unix(), 10)) },
				func() { q.Del("expires") },
			} {
				change()
				u.RawQuery = q.Encode()
				resp, err := http.Get(u.String())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 404 {
					t.Errorf("GET %s = %d, want 404", u, resp.StatusCode)
				}
			}
		}
		if v2.OutputStreamURL != nil {
			t.Errorf("v2 had no release phase, yet an output URL %s", *v2.OutputStreamURL)
		}
	}
	_, err = h.BuildInfo(ctx, "hgo", "0b7a3bb4-6d4d-4e83-9d23-000000000000")
	h.refused("BuildInfo", err, 404, "not_found")
	builds, err := h.BuildList(ctx, "hgo", nil)
	// The push's build, then the API's.
	h.check("BuildList", err, when(len(builds) == 2 && builds[1].ID == b.ID && builds[1].Status == "succeeded" && builds[0].Status == "succeeded", "builds", builds))

	// The build's slug, exported and imported again as a slug of its own.
	var blob []byte
	if done != nil && done.Slug != nil {
		sl, err := h.SlugInfo(ctx, "hgo", done.Slug.ID)
		if h.check("SlugInfo", err, when(err == nil && sl.ProcessTypes["web"] == "python3 -m http.server $PORT" && sl.Blob.URL != "", "slug shape")) {
			blob = []byte(fetchURL(t, sl.Blob.URL))
		}
	}
	_, err = h.SlugInfo(ctx, "hgo", "0b7a3bb4-6d4d-4e83-9d23-000000000000")
	h.refused("SlugInfo", err, 404, "not_found")
	_, err = h.SlugCreate(ctx, "hgo", heroku.SlugCreateOpts{})
	h.refused("SlugCreate", err, 422, "invalid_params")
	imp, err := h.SlugCreate(ctx, "hgo", heroku.SlugCreateOpts{ProcessTypes: map[string]string{"web": "python3 -m http.server $PORT"}, Commit: str("imported1")})
	if h.check("SlugCreate", err, when(err == nil && imp.Blob.URL != "" && strings.EqualFold(imp.Blob.Method, "put"), "slug import shape")) && blob != nil {
		_, err = h.ReleaseCreate(ctx, "hgo", heroku.ReleaseCreateOpts{Slug: imp.ID})
		h.refused("ReleaseCreate", err, 422, "invalid_params") // no archive yet
		putBlob(t, imp.Blob.URL, blob)
		rel, err := h.ReleaseCreate(ctx, "hgo", heroku.ReleaseCreateOpts{Slug: imp.ID, Description: str("Imported slug")})
		h.check("ReleaseCreate", err, when(err == nil && rel.Version == 8 && rel.Description == "Imported slug" && rel.Current, "slug release"))
		got, err := h.SlugInfo(ctx, "hgo", imp.ID)
		h.check("SlugInfo", err, when(err == nil && got.Commit != nil && *got.Commit == "imported1" && got.Size != nil, "imported slug"))
		if cfg, _ := h.ConfigVarInfoForApp(ctx, "hgo"); cfg["GREETING"] == nil {
			t.Errorf("the slug's release lost the config vars: %v", cfg)
		}
	}
	_, err = h.ReleaseCreate(ctx, "hgo", heroku.ReleaseCreateOpts{Slug: ""})
	h.refused("ReleaseCreate", err, 422, "invalid_params")

	// Maintenance, then a rename that moves everything.
	m, err := h.AppUpdate(ctx, "hgo", heroku.AppUpdateOpts{Maintenance: heroku.Bool(true)})
	h.check("AppUpdate", err, when(err == nil && m.Maintenance, "maintenance not on"))
	if code, _, _ := s.get("hgo", "/"); code != 503 {
		t.Errorf("in maintenance hgo answers %d", code)
	}
	_, err = h.AppUpdate(ctx, "hgo", heroku.AppUpdateOpts{Name: str("Not A Name")})
	h.refused("AppUpdate", err, 422, "invalid_params")
	ren, err := h.AppUpdate(ctx, "hgo", heroku.AppUpdateOpts{Name: str("hgo-renamed"), Maintenance: heroku.Bool(false)})
	h.check("AppUpdate", err, when(err == nil && ren.Name == "hgo-renamed" && ren.ID == app.ID && !ren.Maintenance, "rename"))
	if err == nil {
		s.waitBody(t, "hgo-renamed", "built from a source")
		if code, _, _ := s.get("hgo", "/"); code != 404 {
			t.Errorf("the old name still answers %d", code)
		}
		rels, _ := h.ReleaseList(ctx, "hgo-renamed", nil)
		ads, _ := h.AddOnListByApp(ctx, "hgo-renamed", nil)
		builds, _ := h.BuildList(ctx, "hgo-renamed", nil)
		if len(rels) != 8 || len(ads) != 1 || ads[0].App.Name != "hgo-renamed" || len(builds) != 2 {
			t.Errorf("after the rename: %d releases, add-ons %v, builds %v", len(rels), ads, builds)
		}
		if _, err := h.AppInfo(ctx, "hgo"); err == nil {
			t.Errorf("the old name is still an app")
		}
	}

	deleted, err := h.AppDelete(ctx, app.ID)
	h.check("AppDelete", err, when(err == nil && deleted.ID == app.ID, "deleted app"))
	if apps, _ := h.AppList(ctx, nil); len(apps) != 0 {
		t.Errorf("after AppDelete: %v", apps)
	}

	var passed, missing []string
	for _, c := range herokuGoCalls {
		switch {
		case !h.called[c]:
			missing = append(missing, c)
		case !h.failed[c]:
			passed = append(passed, c)
		}
	}
	sort.Strings(missing)
	t.Logf("heroku-go calls passing: %d of %d; not called: %v", len(passed), len(herokuGoCalls), missing)
}

// waitDynos waits until the app runs n dynos, all up, and returns them.
func waitDynos(t *testing.T, h *herokuGo, app string, n int) heroku.DynoListResult {
	t.Helper()
	var ds heroku.DynoListResult
	var err error
	waitFor(t, time.Minute, "dynos to be up", func() bool {
		ds, err = h.DynoList(context.Background(), app, nil)
		if err != nil || len(ds) != n {
			return false
		}
		for _, d := range ds {
			if d.State != "up" {
				return false
			}
		}
		return true
	})
	h.check("DynoList", err, when(len(ds) == n && uuidShape.MatchString(ds[0].ID) && ds[0].App.Name == app && ds[0].Release.Version > 0, "dynos", ds))
	return ds
}

// fetchURL GETs a URL the API handed out, without the token.
func fetchURL(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// putBlob PUTs data to a blob URL the API handed out, without the token.
func putBlob(t *testing.T, url string, data []byte) {
	t.Helper()
	req, _ := http.NewRequest("PUT", url, bytes.NewReader(data))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT %s = %d %s", url, resp.StatusCode, b)
	}
}

// tarGz packs the files of dir (flat) into a tar.gz.
func tarGz(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.Name(), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
