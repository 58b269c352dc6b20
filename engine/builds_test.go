package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hako/engine"
)

// lastLine returns the last line of a build's output file.
func lastLine(t *testing.T, e *engine.Engine, b *engine.Build) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.Paths.Builds, b.AppID, b.ID+".log"))
	if err != nil {
		t.Fatal(err)
	}
	ls := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return ls[len(ls)-1]
}

// Deploys record their build: succeeded with its release, or failed with
// the reason at the end of its output.
func TestDeployRecordsBuild(t *testing.T) {
	e, b, _, _ := newEngine(t)
	e.Paths.Builds = t.TempDir()
	if _, err := e.CreateApp("my-app", "u"); err != nil {
		t.Fatal(err)
	}
	rel, err := e.Deploy(context.Background(), engine.DeployRequest{App: "my-app", Commit: "0123456789abcdef", SourceDir: t.TempDir(), User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	b.fail = true
	if _, err := e.Deploy(context.Background(), engine.DeployRequest{App: "my-app", Commit: "feed", SourceDir: t.TempDir(), User: "u"}); err == nil {
		t.Fatal("a failing build deployed")
	}
	builds, err := e.Builds("my-app")
	if err != nil || len(builds) != 2 {
		t.Fatalf("Builds = %v, %v", builds, err)
	}
	if got := builds[0]; got.Status != engine.BuildSucceeded || got.ReleaseID != rel.ID || got.SlugID != rel.SlugID || got.Version != "0123456789abcdef" || got.User != "u" {
		t.Errorf("the good build: %+v", got)
	}
	if got := builds[1]; got.Status != engine.BuildFailed || got.ReleaseID != "" || got.Version != "feed" {
		t.Errorf("the failed build: %+v", got)
	}
	if l := lastLine(t, e, builds[0]); !strings.HasPrefix(l, "-----> Done in ") {
		t.Errorf("the good build's output ends with %q", l)
	}
	if r, err := e.Store.Release("my-app", 2); err != nil || r.BuildID != builds[0].ID {
		t.Errorf("v2 = %+v, %v; want made by %s", r, err, builds[0].ID)
	}
}

// A start settles the builds a stop interrupted: failed, with the line
// that says so, unless their release went live before the stop (or goes
// live now, rolled forward because git had moved the branch).
func TestInterruptedBuildsSettled(t *testing.T) {
	for _, c := range []struct {
		name string
		// stage is how far the build got before the stop.
		stage      func(t *testing.T, e *engine.Engine)
		heads      []string
		wantStatus string
		wantLine   string
		wantLive   bool
	}{
		{"WhileCompiling", func(t *testing.T, e *engine.Engine) {
			if _, err := e.NewBuild("my-app", engine.BuildSource{Version: "c1"}, "u"); err != nil {
				t.Fatal(err)
			}
		}, nil, engine.BuildFailed, engine.InterruptedBuildLine, false},
		{"StagedGitDidNotMove", stageOnly, nil, engine.BuildFailed, engine.InterruptedBuildLine, false},
		{"StagedGitMoved", stageOnly, []string{"c2c2c2c2c2"}, engine.BuildSucceeded,
			"-----> v2 went live at the server's start: git had moved the branch to c2c2c2c before the server stopped.", true},
		{"AfterGoingLive", func(t *testing.T, e *engine.Engine) {
			d := stage(t, e)
			if _, err := e.Store.SetReleaseStatus("my-app", d.Version, engine.ReleaseSucceeded); err != nil {
				t.Fatal(err)
			}
		}, nil, engine.BuildSucceeded, "-----> The server stopped after v2 went live, before this build's end was written.", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, _, _, _ := newEngine(t)
			e.Paths.Builds = t.TempDir()
			if _, err := e.CreateApp("my-app", "u"); err != nil {
				t.Fatal(err)
			}
			c.stage(t, e)
			// The next server, on the same store and home.
			next := engine.New(e.Parts)
			next.RepoHeads = func(string) ([]string, error) { return c.heads, nil }
			if err := next.Prepare(); err != nil {
				t.Fatal(err)
			}
			if err := next.StartAddons(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := next.Restore(context.Background()); err != nil {
				t.Fatal(err)
			}
			builds, err := next.Builds("my-app")
			if err != nil || len(builds) != 1 {
				t.Fatalf("Builds = %v, %v", builds, err)
			}
			b := builds[0]
			if b.Status != c.wantStatus || (b.ReleaseID != "") != c.wantLive {
				t.Errorf("build = %+v, want %s", b, c.wantStatus)
			}
			if l := lastLine(t, next, b); l != c.wantLine {
				t.Errorf("the build's output ends with %q, want %q", l, c.wantLine)
			}
			a, _ := next.Store.App("my-app")
			if want := map[bool]int{false: 1, true: 2}[c.wantLive]; a.CurrentRelease != want {
				t.Errorf("current release v%d, want v%d", a.CurrentRelease, want)
			}
			if pending, _ := next.Builds("my-app"); pending[0].Status == engine.BuildPending {
				t.Error("the build is still pending")
			}
		})
	}
}

// stage stages a deploy of commit c2c2c2c2c2 and leaves it there, as a
// stop would.
func stage(t *testing.T, e *engine.Engine) *engine.StagedDeploy {
	t.Helper()
	d, err := e.StageDeploy(context.Background(), engine.DeployRequest{App: "my-app", Commit: "c2c2c2c2c2", SourceDir: t.TempDir(), User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func stageOnly(t *testing.T, e *engine.Engine) { stage(t, e) }
