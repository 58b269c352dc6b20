package api

import (
	"encoding/base64"
	"testing"

	"hako/engine/logs"
)

func TestAPIHerokuCLICompat(t *testing.T) {
	runAPICases(t, []apiCase{
		{name: "stacks", method: "GET", path: "/stacks", token: "secret", status: 200, want: `"name": "heroku-24"`},
		{name: "stacks need the token", method: "GET", path: "/stacks", status: 401, want: `"id": "unauthorized"`},
		{name: "regions", method: "GET", path: "/regions", token: "secret", status: 200, want: `"name": "local"`},
		{name: "account features", method: "GET", path: "/account/features", token: "secret", status: 200, want: "[]"},
		{name: "app features", setup: withApp, method: "GET", path: "/apps/my-app/features", token: "secret", status: 200, want: `"name": "preboot"`},
		{name: "features of no app", method: "GET", path: "/apps/ghost/features", token: "secret", status: 404, want: `"id": "not_found"`},
		// The registry is public, as Heroku's: the CLI sends no token.
		{name: "registry go", method: "GET", path: "/buildpacks/heroku%2Fgo", status: 200, want: `"blob_url": "urn:buildpack:heroku/go"`},
		{name: "registry nodejs", method: "GET", path: "/buildpacks/heroku%2Fnodejs", status: 200, want: `"blob_url": "urn:buildpack:heroku/nodejs"`},
		{name: "registry unknown", method: "GET", path: "/buildpacks/heroku%2Fruby", status: 404, want: "not built into hako"},
		{name: "registry path escape", method: "GET", path: "/buildpacks/..%2F..%2Fapps", status: 404, want: "not built into hako"},
		{name: "urn installs", setup: withApp, method: "PUT", path: "/apps/my-app/buildpack-installations", token: "secret",
			body: `{"updates":[{"buildpack":"urn:buildpack:heroku/go"}]}`, status: 200, want: `"url": "urn:buildpack:heroku/go"`},
		{name: "urn of a path", setup: withApp, method: "PUT", path: "/apps/my-app/buildpack-installations", token: "secret",
			body: `{"updates":[{"buildpack":"urn:buildpack:/etc/passwd"}]}`, status: 422, want: "is invalid"},
		{name: "urn of a parent", setup: withApp, method: "PUT", path: "/apps/my-app/buildpack-installations", token: "secret",
			body: `{"updates":[{"buildpack":"urn:buildpack:../x"}]}`, status: 422, want: "is invalid"},
		{name: "data api needs the token", method: "GET", path: "/client/v11/databases/x", status: 401, want: `"id": "unauthorized"`},
		{name: "data api unknown database", method: "GET", path: "/client/v11/databases/x", token: "secret", status: 404, want: `"id": "not_found"`},
		{name: "transfers need the token", setup: withApp, method: "GET", path: "/client/v11/apps/my-app/transfers", status: 401, want: `"id": "unauthorized"`},
		{name: "transfers of no app", method: "GET", path: "/client/v11/apps/ghost/transfers", token: "secret", status: 404, want: `"id": "not_found"`},
		{name: "no transfer", setup: withApp, method: "GET", path: "/client/v11/apps/my-app/transfers/1", token: "secret", status: 404, want: `"id": "not_found"`},
		{name: "no transfer to delete", setup: withApp, method: "DELETE", path: "/client/v11/apps/my-app/transfers/b001", token: "secret", status: 404, want: `"id": "not_found"`},
		{name: "capture of no database", method: "POST", path: "/client/v11/databases/x/backups", token: "secret", status: 404, want: `"id": "not_found"`},
		{name: "restore of no database", method: "POST", path: "/client/v11/databases/x/restores", token: "secret",
			body: `{"backup_url": "http://example.test/pg-backups/x/b001"}`, status: 404, want: `"id": "not_found"`},
		{name: "restore of bad json", method: "POST", path: "/client/v11/databases/x/restores", token: "secret", body: `{"backup_url": `, status: 422, want: `"id": "invalid_params"`},
		{name: "backup blob unsigned", method: "GET", path: "/pg-backup-blobs/x/b001", status: 404, want: `"id": "not_found"`},
		{name: "backup blob forged", method: "GET", path: "/pg-backup-blobs/x/b001?expires=99999999999&sig=00", status: 404, want: `"id": "not_found"`},
	})
}

func TestAPIBasicAuthTakesTheToken(t *testing.T) {
	srv := newAPI(t)
	for _, c := range []struct {
		auth string
		want int
	}{
		{"Basic " + base64.StdEncoding.EncodeToString([]byte(":secret")), 200},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("heroku:secret")), 200},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte(":nope")), 401},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("secret:")), 401},
		{"Basic !!!", 401},
	} {
		if code, body := call(t, srv, "GET", "/apps", "", "", "Authorization", c.auth); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.auth, code, body, c.want)
		}
	}
}

func TestLogFilterDynoType(t *testing.T) {
	lines := []logs.Line{
		{Source: "heroku", Proc: "web.1"}, {Source: "app", Proc: "web.2"}, {Source: "app", Proc: "webhook.1"},
		{Source: "app", Proc: "worker.1"}, {Source: "app", Proc: "api"}, {Source: "heroku", Proc: "router"},
	}
	for _, c := range []struct {
		dyno, ps, source string
		want             string
	}{
		{dyno: "web", want: "web.1 web.2"},
		{dyno: "web.2", want: "web.2"},
		{dyno: "web.", want: ""},
		{dyno: "router", want: "router"},
		{ps: "web", want: "web.1 web.2"},
		{dyno: "web", source: "app", want: "web.2"},
		{source: "heroku", want: "web.1 router"},
	} {
		keep := filter(c.dyno, c.ps, c.source)
		got := ""
		for _, l := range lines {
			if keep(l) {
				if got != "" {
					got += " "
				}
				got += l.Proc
			}
		}
		if got != c.want {
			t.Errorf("dyno %q ps %q source %q: %q, want %q", c.dyno, c.ps, c.source, got, c.want)
		}
	}
}
