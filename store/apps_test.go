package store

import (
	"maps"
	"reflect"
	"slices"
	"testing"

	"hako/engine"
)

func TestCreateApp(t *testing.T) {
	tests := []struct {
		name        string
		existing    string
		app         string
		status      string
		wantCode    string
		wantCurrent int
	}{
		{name: "OK", app: "web", status: engine.ReleaseSucceeded, wantCurrent: 1},
		{name: "OKPendingNotCurrent", app: "web", status: engine.ReleasePending, wantCurrent: 0},
		{name: "ErrConflict", existing: "web", app: "web", status: engine.ReleaseSucceeded, wantCode: engine.ECONFLICT},
		{name: "ErrInvalidStatus", app: "web", status: "bogus", wantCode: engine.EINVALID},
		{name: "ErrInvalidName", app: "", status: engine.ReleaseSucceeded, wantCode: engine.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			if tt.existing != "" {
				mustCreateApp(t, s, tt.existing, engine.ReleaseSucceeded)
			}
			app := &engine.App{ID: "x", Name: tt.app, Stack: engine.Stack}
			first := &engine.Release{Description: "Initial release", Status: tt.status}
			err := s.CreateApp(app, first)
			if got := code(err); got != tt.wantCode {
				t.Fatalf("CreateApp code = %q (%v), want %q", got, err, tt.wantCode)
			}
			if tt.wantCode != "" {
				if tt.wantCode == engine.ECONFLICT {
					if got, want := engine.ErrorMessage(err), "Name web is already taken"; got != want {
						t.Errorf("message = %q, want %q", got, want)
					}
				}
				return
			}
			got, err := s.App(tt.app)
			if err != nil {
				t.Fatalf("App: %v", err)
			}
			if got.CurrentRelease != tt.wantCurrent {
				t.Errorf("CurrentRelease = %d, want %d", got.CurrentRelease, tt.wantCurrent)
			}
			if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() {
				t.Errorf("timestamps not filled: %+v", got)
			}
			if app.CurrentRelease != tt.wantCurrent || first.Version != 1 || first.App != tt.app {
				t.Errorf("arguments not updated: app %+v, first %+v", app, first)
			}
			r, err := s.Release(tt.app, 1)
			if err != nil {
				t.Fatalf("Release(v1): %v", err)
			}
			if r.Version != 1 || r.App != tt.app || r.Status != tt.status {
				t.Errorf("v1 = %+v", r)
			}
		})
	}
}

func TestApp(t *testing.T) {
	s := openTest(t)
	mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
	tests := []struct {
		name     string
		app      string
		wantCode string
	}{
		{name: "OK", app: "web"},
		{name: "ErrNotFound", app: "nope", wantCode: engine.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.App(tt.app)
			if c := code(err); c != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.wantCode)
			}
			if tt.wantCode == engine.ENOTFOUND {
				if got, want := engine.ErrorMessage(err), "Couldn't find that app."; got != want {
					t.Errorf("message = %q, want %q", got, want)
				}
				return
			}
			want := &engine.App{ID: "id-web", Name: "web", Stack: engine.Stack, CreatedAt: t0, UpdatedAt: t0, CurrentRelease: 1, UID: engine.FirstAppUID}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("App = %+v, want %+v", got, want)
			}
		})
	}
}

func TestApps(t *testing.T) {
	tests := []struct {
		name   string
		create []string
		want   []string
	}{
		{name: "Empty", create: nil, want: nil},
		{name: "SortedByName", create: []string{"zeta", "alpha", "mid"}, want: []string{"alpha", "mid", "zeta"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			for _, n := range tt.create {
				mustCreateApp(t, s, n, engine.ReleaseSucceeded)
			}
			apps, err := s.Apps()
			if err != nil {
				t.Fatalf("Apps: %v", err)
			}
			var got []string
			for _, a := range apps {
				got = append(got, a.Name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Apps = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDeleteApp(t *testing.T) {
	tests := []struct {
		name      string
		app       string
		wantCode  string
		wantSlugs []string
	}{
		{name: "OK", app: "web", wantSlugs: []string{"s1", "s2"}},
		{name: "ErrNotFound", app: "nope", wantCode: engine.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
			mustCreateApp(t, s, "other", engine.ReleaseSucceeded)
			for _, sl := range []struct{ app, id string }{{"web", "s1"}, {"web", "s2"}, {"other", "s3"}} {
				r := &engine.Release{App: sl.app, Status: engine.ReleaseSucceeded}
				if _, err := s.CreateRelease(r, &engine.Slug{ID: sl.id}); err != nil {
					t.Fatalf("CreateRelease: %v", err)
				}
			}
			if err := s.SetFormation("web", map[string]int{"web": 1}); err != nil {
				t.Fatalf("SetFormation: %v", err)
			}

			ids, err := s.DeleteApp(tt.app)
			if c := code(err); c != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.wantCode)
			}
			if tt.wantCode != "" {
				return
			}
			slices.Sort(ids)
			if !slices.Equal(ids, tt.wantSlugs) {
				t.Errorf("slug IDs = %v, want %v", ids, tt.wantSlugs)
			}
			if _, err := s.App(tt.app); code(err) != engine.ENOTFOUND {
				t.Errorf("App after delete: %v, want not found", err)
			}
			for _, id := range tt.wantSlugs {
				if _, err := s.Slug(id); code(err) != engine.ENOTFOUND {
					t.Errorf("Slug(%s) after delete: %v, want not found", id, err)
				}
			}
			if _, err := s.Slug("s3"); err != nil {
				t.Errorf("other app's slug gone: %v", err)
			}
			// A new app of the same name starts with a fresh history.
			mustCreateApp(t, s, tt.app, engine.ReleaseSucceeded)
			rs, err := s.Releases(tt.app)
			if err != nil {
				t.Fatalf("Releases: %v", err)
			}
			if len(rs) != 1 || rs[0].Version != 1 {
				t.Errorf("releases after recreate = %d, want only v1", len(rs))
			}
			a, err := s.App(tt.app)
			if err != nil {
				t.Fatalf("App: %v", err)
			}
			if len(a.Formation) != 0 {
				t.Errorf("formation survived delete: %v", a.Formation)
			}
		})
	}
}

func TestDeleteAppKeepsSharedSlug(t *testing.T) {
	s := openTest(t)
	mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
	mustCreateApp(t, s, "copy", engine.ReleaseSucceeded)
	if _, err := s.CreateRelease(&engine.Release{App: "web", Status: engine.ReleaseSucceeded}, &engine.Slug{ID: "shared"}); err != nil {
		t.Fatal(err)
	}
	// The second app reuses the slug without re-recording it.
	if _, err := s.CreateRelease(&engine.Release{App: "copy", SlugID: "shared", Status: engine.ReleaseSucceeded}, nil); err != nil {
		t.Fatal(err)
	}
	ids, err := s.DeleteApp("web")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 0 {
		t.Errorf("slug IDs = %v, want none (still used)", ids)
	}
	sl, err := s.Slug("shared")
	if err != nil {
		t.Fatalf("Slug: %v", err)
	}
	if got, want := sl.App, "copy"; got != want {
		t.Errorf("slug owner = %q, want %q", got, want)
	}
}

func TestSetFormation(t *testing.T) {
	tests := []struct {
		name     string
		app      string
		set      []map[string]int
		want     map[string]int
		wantCode string
	}{
		{name: "OK", app: "web", set: []map[string]int{{"web": 2, "worker": 1}}, want: map[string]int{"web": 2, "worker": 1}},
		{name: "OKReplaces", app: "web", set: []map[string]int{{"web": 2, "worker": 1}, {"web": 3}}, want: map[string]int{"web": 3}},
		{name: "ErrNotFound", app: "nope", set: []map[string]int{{"web": 1}}, wantCode: engine.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
			var err error
			for _, f := range tt.set {
				if err = s.SetFormation(tt.app, f); err != nil {
					break
				}
			}
			if c := code(err); c != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.wantCode)
			}
			if tt.wantCode != "" {
				return
			}
			a, err := s.App(tt.app)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(a.Formation, tt.want) {
				t.Errorf("Formation = %v, want %v", a.Formation, tt.want)
			}
		})
	}
}

func TestUpdateApp(t *testing.T) {
	s := openTest(t)
	if err := s.CreateApp(&engine.App{Name: "app-one"}, &engine.Release{Status: engine.ReleaseSucceeded}); err != nil {
		t.Fatal(err)
	}
	got, err := s.UpdateApp("app-one", func(a *engine.App) error {
		a.Buildpacks = []string{"go", "https://example.test/pack.git"}
		return nil
	})
	if err != nil || len(got.Buildpacks) != 2 {
		t.Fatalf("UpdateApp = %+v, %v", got, err)
	}
	again, _ := s.App("app-one")
	if len(again.Buildpacks) != 2 || again.Buildpacks[1] != "https://example.test/pack.git" {
		t.Errorf("stored = %+v", again)
	}
	refused := engine.Errorf(engine.EINVALID, "no")
	if _, err := s.UpdateApp("app-one", func(a *engine.App) error { a.Buildpacks = nil; return refused }); err != refused {
		t.Errorf("fn's error = %v, want it returned as is", err)
	}
	if again, _ := s.App("app-one"); len(again.Buildpacks) != 2 {
		t.Errorf("an aborted update changed the app: %+v", again)
	}
	if _, err := s.UpdateApp("ghost", func(*engine.App) error { return nil }); engine.ErrorCode(err) != engine.ENOTFOUND {
		t.Errorf("missing app = %v, want ENOTFOUND", err)
	}
}
