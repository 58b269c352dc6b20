package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestStrictBodies checks that a body that is not exactly one JSON value
// in valid UTF-8 is refused with 422 and changes nothing.
func TestStrictBodies(t *testing.T) {
	srv := newAPI(t)
	if status, body := call(t, srv, "POST", "/apps", "secret", `{"name":"strict"}`); status != 201 {
		t.Fatalf("create = %d %s", status, body)
	}
	cases := []struct {
		name, method, path, body string
		want                     string // in the message
	}{
		{"trailing garbage", "PATCH", "/apps/strict/config-vars", `{"TG":"1"} xxx`, "data after its JSON value"},
		{"second value", "PATCH", "/apps/strict/config-vars", `{"TG":"1"}{"TG":"2"}`, "data after its JSON value"},
		{"invalid UTF-8", "PATCH", "/apps/strict/config-vars", "{\"TG\":\"a\xff\xfeb\"}", "not valid UTF-8"},
		{"lone low surrogate", "PATCH", "/apps/strict/config-vars", `{"TG":"a\udc80b"}`, "not valid UTF-8"},
		{"lone high surrogate", "PATCH", "/apps/strict/config-vars", `{"TG":"a\ud800b"}`, "not valid UTF-8"},
		{"high surrogate at the end", "PATCH", "/apps/strict/config-vars", `{"TG":"\ud800"}`, "not valid UTF-8"},
		{"rollback without release", "POST", "/apps/strict/releases", `{}`, `Missing \"release\"`},
		{"rollback with an empty body", "POST", "/apps/strict/releases", ``, `Missing \"release\"`},
		{"rollback with an empty release", "POST", "/apps/strict/releases", `{"release":" "}`, `Missing \"release\"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if status, body := call(t, srv, c.method, c.path, "secret", c.body); status != 422 || !strings.Contains(body, c.want) {
				t.Errorf("%s %s %q = %d %s, want 422 saying %q", c.method, c.path, c.body, status, body, c.want)
			}
		})
	}
	_, body := call(t, srv, "GET", "/apps/strict/config-vars", "secret", "")
	var cfg map[string]string
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg) != 0 {
		t.Errorf("config after refused bodies = %v, want none", cfg)
	}
	if _, body := call(t, srv, "GET", "/apps/strict/releases/current", "secret", ""); !strings.Contains(body, `"version": 1,`) {
		t.Errorf("current release after refused bodies = %s, want v1", body)
	}
	// What stays accepted: a valid pair, escapes, trailing white space.
	ok := `{"PAIR":"\ud83d\ude00","ESC":"\\udc80","NL":"a\nb"}` + " \n\t"
	if status, body := call(t, srv, "PATCH", "/apps/strict/config-vars", "secret", ok); status != 200 {
		t.Fatalf("valid body = %d %s", status, body)
	}
	_, body = call(t, srv, "GET", "/apps/strict/config-vars", "secret", "")
	cfg = nil
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["PAIR"] != "😀" || cfg["ESC"] != `\udc80` || cfg["NL"] != "a\nb" {
		t.Errorf("config = %q", cfg)
	}
}
