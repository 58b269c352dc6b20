package api

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestPlatformShapes checks the Platform API's shapes and the single
// resources heroku-go and the heroku CLI read, and that unknown ids and
// bad bodies are refused with Heroku's error shape.
func TestPlatformShapes(t *testing.T) {
	app := []request{{"POST", "/apps", `{"name":"web"}`}}
	withDomain := append(app, request{"POST", "/apps/web/domains", `{"hostname":"www.example.test"}`})
	runAPICases(t, []apiCase{
		{name: "ReleaseHasUUIDAndApp", setup: app, method: "GET", path: "/apps/web/releases/v1", token: "secret", status: 200, want: `"eligible_for_rollback": false`},
		{name: "ReleaseConfigVars", setup: app, method: "GET", path: "/apps/web/releases/1/config-vars", token: "secret", status: 200, want: `{}`},
		{name: "ReleaseUnknownID", setup: app, method: "GET", path: "/apps/web/releases/0b7a3bb4-6d4d-4e83-9d23-000000000000", token: "secret", status: 404, want: `"id": "not_found"`},
		{name: "DynoUnknown", setup: app, method: "GET", path: "/apps/web/dynos/web.1", token: "secret", status: 404, want: `"id": "not_found"`},
		{name: "DomainAddAnswersOne", setup: app, method: "POST", path: "/apps/web/domains", body: `{"hostname":"www.example.test"}`, token: "secret", status: 201, want: `"status": "succeeded"`},
		{name: "DomainInfo", setup: withDomain, method: "GET", path: "/apps/web/domains/www.example.test", token: "secret", status: 200, want: `"kind": "custom"`},
		{name: "DomainRemoveAnswersOne", setup: withDomain, method: "DELETE", path: "/apps/web/domains/www.example.test", token: "secret", status: 200, want: `"hostname": "www.example.test"`},
		{name: "DomainUnknown", setup: app, method: "GET", path: "/apps/web/domains/nope.example.test", token: "secret", status: 404, want: `"id": "not_found"`},
		{name: "SNIEndpoints", setup: app, method: "GET", path: "/apps/web/sni-endpoints", token: "secret", status: 200, want: `[]`},
		{name: "Stacks", method: "GET", path: "/stacks", token: "secret", status: 200, want: `"name": "heroku-24"`},
		{name: "Regions", method: "GET", path: "/regions", token: "secret", status: 200, want: `"name": "local"`},
		{name: "Collaborators", setup: app, method: "GET", path: "/apps/web/collaborators", token: "secret", status: 200, want: `[]`},
		{name: "CollaboratorsUnknownApp", method: "GET", path: "/apps/nope/collaborators", token: "secret", status: 404, want: `"id": "not_found"`},
		{name: "AddonUnknown", method: "GET", path: "/addons/9b7a3bb4-6d4d-4e83-9d23-000000000000", token: "secret", status: 404, want: `"id": "not_found"`},
		{name: "ReleaseNeitherReleaseNorSlug", setup: app, method: "POST", path: "/apps/web/releases", body: `{}`, token: "secret", status: 422, want: `give the release to roll back to`},
		{name: "ReleaseBoth", setup: app, method: "POST", path: "/apps/web/releases", body: `{"release":"v1","slug":"x"}`, token: "secret", status: 422, want: `not both`},
		{name: "ReleaseUnknownSlug", setup: app, method: "POST", path: "/apps/web/releases", body: `{"slug":"0b7a3bb4-6d4d-4e83-9d23-000000000000"}`, token: "secret", status: 404, want: `"id": "not_found"`},
		{name: "FormationSizeUnknown", setup: app, method: "PATCH", path: "/apps/web/formation/web", body: `{"size":"huge"}`, token: "secret", status: 422, want: `hako runs every dyno at one size`},
		{name: "BatchSizeUnknown", setup: app, method: "PATCH", path: "/apps/web/formation", body: `{"updates":[{"type":"web","size":"huge"}]}`, token: "secret", status: 422, want: `hako runs every dyno at one size`},
		{name: "BatchSizeOnlyUnknownType", setup: app, method: "PATCH", path: "/apps/web/formation", body: `{"updates":[{"type":"web","size":"standard-2X"}]}`, token: "secret", status: 404, want: `"id": "not_found"`},
		{name: "BatchNeither", setup: app, method: "PATCH", path: "/apps/web/formation", body: `{"updates":[{"type":"web"}]}`, token: "secret", status: 422, want: `neither quantity nor size`},
		{name: "DrainUnescapedURL", setup: app, method: "DELETE", path: "/apps/web/log-drains/syslog://logs.example.test:514", token: "secret", status: 404, want: `"id": "not_found"`},
		{name: "SlugWithoutProcessTypes", setup: app, method: "POST", path: "/apps/web/slugs", body: `{"commit":"abc"}`, token: "secret", status: 422, want: `give the slug's commands`},
		{name: "SlugBlobUnknown", method: "PUT", path: "/slug-blobs/0000", body: `x`, status: 404, want: `"id": "not_found"`},
		{name: "ReleaseOutputUnsigned", method: "GET", path: "/release-output/0b7a3bb4-6d4d-4e83-9d23-000000000000?sig=bad", status: 404, want: `"id": "not_found"`},
		{name: "SlugExportUnsigned", method: "GET", path: "/slug-blobs/" + "aa" + "?sig=bad", status: 404, want: `"id": "not_found"`},
	})
}

// TestReleaseFoundByID checks that a release's id names it as its version
// does, and that the listing and the single answer agree.
func TestReleaseFoundByID(t *testing.T) {
	srv := newAPI(t)
	if status, body := call(t, srv, "POST", "/apps", "secret", `{"name":"web"}`); status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	_, body := call(t, srv, "GET", "/apps/web/releases", "secret", "")
	var list []ReleaseView
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != 1 {
		t.Fatalf("releases = %s (%v)", body, err)
	}
	v1 := list[0]
	if !uuidRe.MatchString(v1.ID) || v1.App.Name != "web" || v1.App.ID == "" || v1.UpdatedAt.IsZero() || v1.AddonPlanNames == nil {
		t.Errorf("v1 = %+v, want a UUID id, the app, updated_at and addon_plan_names", v1)
	}
	status, body := call(t, srv, "GET", "/apps/web/releases/"+v1.ID, "secret", "")
	var got ReleaseView
	if status != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || got.Version != 1 || got.ID != v1.ID {
		t.Errorf("GET by id = %d %s, want v1", status, body)
	}
}
