package compose

import (
	"strings"
	"testing"

	"hako/engine/export"
)

// TestComposeFile builds the file of an app with a release phase and two
// add-ons, validates it, and checks services, replicas, the order of
// start and the env file's URLs.
func TestComposeFile(t *testing.T) {
	app := &export.App{
		Release:        export.Release{App: "shop", Version: 7},
		Image:          "localhost/shop:v7",
		Processes:      []export.Process{{Type: "web", Command: "./bin/web", Quantity: 2}, {Type: "worker", Command: "./bin/worker", Quantity: 1}},
		ReleaseCommand: "./bin/migrate",
		Config:         map[string]string{"DATABASE_URL": "postgres://old-host/db", "REDIS_URL": "redis://old", "NOTE": "it's\ntwo \"lines\"", "PLAIN": "a $b"},
		Addons:         []export.Addon{{Kind: "postgres", ConfigVar: "DATABASE_URL"}, {Kind: "redis", ConfigVar: "REDIS_URL"}},
		MemoryMB:       512,
	}
	f, env, err := Build(app, "shop.env", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Validate(data)
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, data)
	}
	var names []string
	for n := range back.Services {
		names = append(names, n)
	}
	if len(names) != 5 {
		t.Errorf("services = %v, want postgres, redis, release, web, worker", names)
	}
	web := back.Services["web"]
	if *web.Deploy.Replicas != 2 || web.Command[0] != "./bin/web" || web.Environment["PORT"] != "5000" || web.Deploy.Resources.Limits["memory"] != "512M" {
		t.Errorf("web = %+v", web)
	}
	if web.DependsOn["release"].Condition != "service_completed_successfully" || web.DependsOn["postgres"].Condition != "service_healthy" {
		t.Errorf("web depends on %+v", web.DependsOn)
	}
	if r := back.Services["release"]; r.Restart != "no" || r.DependsOn["redis"].Condition != "service_healthy" || r.Deploy != nil {
		t.Errorf("release = %+v", r)
	}
	wantEnv := `DATABASE_URL='postgres://shop:s3cret@postgres:5432/shop'
NOTE="it's\ntwo \"lines\""
PLAIN='a $b'
REDIS_URL='redis://redis:6379'
`
	if env != wantEnv {
		t.Errorf("env file =\n%s\nwant\n%s", env, wantEnv)
	}
}

// TestComposeValidateRefuses: what the specification refuses is caught.
func TestComposeValidateRefuses(t *testing.T) {
	for _, bad := range []string{
		"name: x\nservices:\n  web:\n    image: i\n    replicaz: 2\n",
		"name: x\nservices:\n  web:\n    image: i\n    depends_on:\n      db:\n        condition: service_healthy\n",
		"name: x\nservices:\n  web:\n    command: [x]\n",
	} {
		if _, err := Validate([]byte(bad)); err == nil {
			t.Errorf("validated:\n%s", bad)
		}
	}
	app := &export.App{Release: export.Release{App: "a"}, Image: "i", Processes: []export.Process{{Type: "postgres", Command: "x", Quantity: 1}},
		Addons: []export.Addon{{Kind: "postgres", ConfigVar: "DATABASE_URL"}}, MemoryMB: 512}
	if _, _, err := Build(app, "a.env", "p"); err == nil || !strings.Contains(err.Error(), "add-on") {
		t.Errorf("a process type named like an add-on's service: %v", err)
	}
}
