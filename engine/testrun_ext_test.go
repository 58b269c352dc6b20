package engine_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"hako/engine"
)

// testBuilder is fakeBuilder answering with an app.json, and recording
// the request.
type testBuilder struct {
	fakeBuilder
	appJSON string
	req     engine.BuildRequest
}

func (b *testBuilder) Build(ctx context.Context, req engine.BuildRequest) (*engine.BuildResult, error) {
	b.req = req
	res, err := b.fakeBuilder.Build(ctx, req)
	if err != nil || b.appJSON == "" {
		return res, err
	}
	if res.AppJSON, err = engine.ParseAppJSON([]byte(b.appJSON)); err != nil {
		return nil, err
	}
	return res, nil
}

func newTestRunEngine(t *testing.T, appJSON string) (*engine.Engine, *testBuilder, *fakeSupervisor) {
	t.Helper()
	e, _, s, _ := newEngine(t)
	b := &testBuilder{appJSON: appJSON}
	e.Builder = b
	if _, err := e.CreateApp("ci-app", "u"); err != nil {
		t.Fatal(err)
	}
	return e, b, s
}

func testRun(e *engine.Engine, mod func(*engine.TestRunRequest)) (*engine.TestRunResult, error) {
	req := engine.TestRunRequest{App: "ci-app", Source: strings.NewReader("tar"), ID: "run-1", Branch: "main", Commit: "0123456789", CacheKey: "repo-1", User: engine.AdminEmail}
	if mod != nil {
		mod(&req)
	}
	return e.TestRun(context.Background(), req)
}

func TestTestRun(t *testing.T) {
	const appJSON = `{"environments": {"test": {"env": {"MODE": "test"}, "formation": {"test": {"quantity": 2}}, "scripts": {"test": "run-tests"}}}}`
	t.Run("OK", func(t *testing.T) {
		e, b, s := newTestRunEngine(t, appJSON)
		res, err := testRun(e, nil)
		if err != nil || res.Status != engine.TestSucceeded || len(res.Nodes) != 2 {
			t.Fatalf("TestRun = %+v, %v", res, err)
		}
		if !b.req.Test || b.req.CacheDir != filepath.Join(e.Paths.Cache, "_ci", "repo-1") || b.req.Config["CI"] != "true" || b.req.Config["HEROKU_TEST_RUN_ID"] != "run-1" {
			t.Errorf("build request = %+v", b.req)
		}
		if len(s.once) != 2 || len(s.started) != 0 {
			t.Fatalf("test dynos %d, formation dynos %d", len(s.once), len(s.started))
		}
		seen := map[string]bool{}
		for _, spec := range s.once {
			env := spec.Env
			seen[spec.Name+" "+env["CI_NODE_INDEX"]] = true
			if spec.Type != "test" || env["CI_NODE_TOTAL"] != "2" || env["MODE"] != "test" || env["CI"] != "true" || env["HAKO_TEST_SCRIPT"] != "run-tests" ||
				env["HEROKU_TEST_RUN_BRANCH"] != "main" || env["HEROKU_TEST_RUN_COMMIT_VERSION"] != "0123456789" || env["HEROKU_TEST_RUN_ID"] != "run-1" {
				t.Errorf("test dyno %s: %+v", spec.Name, spec)
			}
		}
		if !seen["test.1 0"] || !seen["test.2 1"] {
			t.Errorf("test dynos and indexes = %v", seen)
		}
		a, _ := e.Store.App("ci-app")
		rel, _ := e.Store.Release("ci-app", a.CurrentRelease)
		if a.CurrentRelease != 2 || rel.Description != "Test run 0123456" || rel.SlugID == "" || rel.Config["MODE"] != "test" {
			t.Errorf("release = %+v", rel)
		}
		// A second run on the same app is refused: it has a release now.
		if _, err := testRun(e, nil); engine.ErrorCode(err) != engine.EINVALID {
			t.Errorf("second run = %v, want EINVALID", err)
		}
	})
	t.Run("Failed", func(t *testing.T) {
		e, _, s := newTestRunEngine(t, appJSON)
		s.onceCode = 3
		res, err := testRun(e, nil)
		if err != nil || res.Status != engine.TestFailed || res.Nodes[0].ExitCode != 3 {
			t.Fatalf("TestRun = %+v, %v", res, err)
		}
	})
	t.Run("Errored", func(t *testing.T) {
		e, b, s := newTestRunEngine(t, appJSON)
		b.fail = true
		res, err := testRun(e, nil)
		if err != nil || res.Status != engine.TestErrored || len(s.once) != 0 {
			t.Fatalf("TestRun = %+v, %v; dynos %d", res, err, len(s.once))
		}
		if rels, _ := e.Store.Releases("ci-app"); len(rels) != 1 {
			t.Errorf("an errored run made %d releases", len(rels))
		}
	})
	t.Run("NoTest", func(t *testing.T) {
		e, b, s := newTestRunEngine(t, "")
		res, err := testRun(e, nil)
		if err != nil || res.Status != engine.TestErrored || !strings.HasPrefix(res.Message, "No test command") || len(s.once) != 0 || len(b.removed) != 1 {
			t.Fatalf("TestRun = %+v, %v; dynos %d, slugs removed %v", res, err, len(s.once), b.removed)
		}
	})
	for name, mod := range map[string]func(*engine.TestRunRequest){
		"ErrCacheKey":     func(r *engine.TestRunRequest) { r.CacheKey = "../../etc" },
		"ErrBranch":       func(r *engine.TestRunRequest) { r.Branch = "main\n\x1b[31m" },
		"ErrLongCommit":   func(r *engine.TestRunRequest) { r.Commit = strings.Repeat("a", 256) },
		"ErrNoSuchApp":    func(r *engine.TestRunRequest) { r.App = "ghost" },
		"ErrInvalidApp":   func(r *engine.TestRunRequest) { r.App = "../x" },
		"ErrNoSource":     func(r *engine.TestRunRequest) { r.Source = nil },
		"ErrUpperCaseKey": func(r *engine.TestRunRequest) { r.CacheKey = "Repo" },
	} {
		t.Run(name, func(t *testing.T) {
			e, b, s := newTestRunEngine(t, appJSON)
			if _, err := testRun(e, mod); engine.ErrorCode(err) != engine.EINVALID && engine.ErrorCode(err) != engine.ENOTFOUND {
				t.Fatalf("TestRun = %v, want EINVALID or ENOTFOUND", err)
			}
			if rels, _ := e.Store.Releases("ci-app"); len(rels) != 1 || len(s.once) != 0 || b.req.App != "" {
				t.Errorf("a refused run changed something: %d releases, %d dynos, build %+v", len(rels), len(s.once), b.req)
			}
		})
	}
}

// TestTestRunCachePerUser: a cache key is the hash of a repository's
// origin, which a class's students share; each user's runs of one key
// build with a cache of their own, not the administrator's nor another
// student's, so that one student's poisoned cache reaches no one else.
func TestTestRunCachePerUser(t *testing.T) {
	dirs := map[string]string{}
	for _, user := range []string{engine.AdminEmail, "ada@example.test", "bob@example.test"} {
		e, b, _ := newTestRunEngine(t, `{"environments": {"test": {"scripts": {"test": "run-tests"}}}}`)
		if _, err := testRun(e, func(r *engine.TestRunRequest) { r.User = user }); err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(e.Paths.Cache, b.req.CacheDir)
		if err != nil {
			t.Fatal(err)
		}
		dirs[user] = rel
	}
	if dirs[engine.AdminEmail] != filepath.Join("_ci", "repo-1") {
		t.Errorf("the administrator's cache = %s, want _ci/repo-1", dirs[engine.AdminEmail])
	}
	if a, b := dirs["ada@example.test"], dirs["bob@example.test"]; a == b || a == dirs[engine.AdminEmail] || filepath.Base(a) != "repo-1" || filepath.Base(b) != "repo-1" {
		t.Errorf("caches of one key: ada %s, bob %s, administrator %s: want one each", a, b, dirs[engine.AdminEmail])
	}
}
