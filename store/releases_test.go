package store

import (
	"slices"
	"sync"
	"testing"

	"hako/engine"
)

func TestCreateRelease(t *testing.T) {
	tests := []struct {
		name        string
		app         string
		statuses    []string // created in order after v1 (succeeded)
		wantCode    string
		wantVersion int
		wantCurrent int
	}{
		{name: "OK", app: "web", statuses: []string{engine.ReleaseSucceeded}, wantVersion: 2, wantCurrent: 2},
		{name: "OKPendingStaysBehind", app: "web", statuses: []string{engine.ReleaseSucceeded, engine.ReleasePending}, wantVersion: 3, wantCurrent: 2},
		{name: "OKFailedStaysBehind", app: "web", statuses: []string{engine.ReleaseFailed}, wantVersion: 2, wantCurrent: 1},
		{name: "ErrNotFound", app: "nope", statuses: []string{engine.ReleaseSucceeded}, wantCode: engine.ENOTFOUND},
		{name: "ErrInvalid", app: "web", statuses: []string{""}, wantCode: engine.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
			var got *engine.Release
			var err error
			for _, st := range tt.statuses {
				in := &engine.Release{App: tt.app, Description: "Deploy", Status: st, Config: map[string]string{"A": "1"}}
				got, err = s.CreateRelease(in, nil)
				if err != nil {
					break
				}
				if in.Version != 0 {
					t.Errorf("input release modified: %+v", in)
				}
			}
			if c := code(err); c != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.wantCode)
			}
			if tt.wantCode != "" {
				return
			}
			if got.Version != tt.wantVersion {
				t.Errorf("Version = %d, want %d", got.Version, tt.wantVersion)
			}
			a, err := s.App(tt.app)
			if err != nil {
				t.Fatal(err)
			}
			if a.CurrentRelease != tt.wantCurrent {
				t.Errorf("CurrentRelease = %d, want %d", a.CurrentRelease, tt.wantCurrent)
			}
			stored, err := s.Release(tt.app, tt.wantVersion)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Config["A"] != "1" || stored.Version != tt.wantVersion {
				t.Errorf("stored = %+v", stored)
			}
		})
	}
}

func TestCreateReleaseWithSlug(t *testing.T) {
	s := openTest(t)
	mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
	slug := &engine.Slug{ID: "abc", Size: 42, Checksum: "SHA256:abc", ProcessTypes: map[string]string{"web": "./run"}}
	r, err := s.CreateRelease(&engine.Release{App: "web", Status: engine.ReleasePending}, slug)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.SlugID, "abc"; got != want {
		t.Errorf("SlugID = %q, want %q", got, want)
	}
	tests := []struct {
		name     string
		id       string
		wantCode string
	}{
		{name: "OK", id: "abc"},
		{name: "ErrNotFound", id: "nope", wantCode: engine.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Slug(tt.id)
			if c := code(err); c != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.wantCode)
			}
			if tt.wantCode != "" {
				return
			}
			if got.App != "web" || got.Size != 42 || got.ProcessTypes["web"] != "./run" || got.CreatedAt.IsZero() {
				t.Errorf("Slug = %+v", got)
			}
		})
	}
}

func TestSetReleaseStatus(t *testing.T) {
	tests := []struct {
		name        string
		app         string
		version     int
		initial     string // status of v2
		status      string
		wantCode    string
		wantCurrent int
	}{
		{name: "OKSucceeded", app: "web", version: 2, initial: engine.ReleasePending, status: engine.ReleaseSucceeded, wantCurrent: 2},
		{name: "OKFailed", app: "web", version: 2, initial: engine.ReleasePending, status: engine.ReleaseFailed, wantCurrent: 1},
		{name: "ErrConflictSucceeded", app: "web", version: 2, initial: engine.ReleaseSucceeded, status: engine.ReleaseFailed, wantCode: engine.ECONFLICT},
		{name: "ErrConflictFailed", app: "web", version: 2, initial: engine.ReleaseFailed, status: engine.ReleaseSucceeded, wantCode: engine.ECONFLICT},
		{name: "ErrInvalidPending", app: "web", version: 2, initial: engine.ReleasePending, status: engine.ReleasePending, wantCode: engine.EINVALID},
		{name: "ErrNotFoundVersion", app: "web", version: 9, initial: engine.ReleasePending, status: engine.ReleaseSucceeded, wantCode: engine.ENOTFOUND},
		{name: "ErrNotFoundApp", app: "nope", version: 2, initial: engine.ReleasePending, status: engine.ReleaseSucceeded, wantCode: engine.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
			if _, err := s.CreateRelease(&engine.Release{App: "web", Status: tt.initial}, nil); err != nil {
				t.Fatal(err)
			}
			got, err := s.SetReleaseStatus(tt.app, tt.version, tt.status)
			if c := code(err); c != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.wantCode)
			}
			if tt.wantCode != "" {
				return
			}
			if got.Status != tt.status || got.Version != tt.version {
				t.Errorf("returned %+v", got)
			}
			stored, err := s.Release(tt.app, tt.version)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Status != tt.status {
				t.Errorf("stored status = %q, want %q", stored.Status, tt.status)
			}
			a, err := s.App(tt.app)
			if err != nil {
				t.Fatal(err)
			}
			if a.CurrentRelease != tt.wantCurrent {
				t.Errorf("CurrentRelease = %d, want %d", a.CurrentRelease, tt.wantCurrent)
			}
		})
	}
}

func TestRelease(t *testing.T) {
	s := openTest(t)
	mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
	tests := []struct {
		name     string
		app      string
		version  int
		wantCode string
	}{
		{name: "OK", app: "web", version: 1},
		{name: "ErrNotFoundVersion", app: "web", version: 2, wantCode: engine.ENOTFOUND},
		{name: "ErrNotFoundZero", app: "web", version: 0, wantCode: engine.ENOTFOUND},
		{name: "ErrNotFoundApp", app: "nope", version: 1, wantCode: engine.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Release(tt.app, tt.version)
			if c := code(err); c != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.wantCode)
			}
			if tt.wantCode == "" && (got.App != tt.app || got.Version != tt.version) {
				t.Errorf("Release = %+v", got)
			}
		})
	}
}

func TestReleases(t *testing.T) {
	tests := []struct {
		name     string
		app      string
		extra    int
		want     []int
		wantCode string
	}{
		{name: "OKOnlyFirst", app: "web", want: []int{1}},
		{name: "OKNewestFirst", app: "web", extra: 11, want: []int{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{name: "ErrNotFound", app: "nope", wantCode: engine.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
			for range tt.extra {
				if _, err := s.CreateRelease(&engine.Release{App: "web", Status: engine.ReleaseSucceeded}, nil); err != nil {
					t.Fatal(err)
				}
			}
			rs, err := s.Releases(tt.app)
			if c := code(err); c != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.wantCode)
			}
			var got []int
			for _, r := range rs {
				got = append(got, r.Version)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("versions = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCreateReleaseConcurrent(t *testing.T) {
	const n = 20
	s := openTest(t)
	mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
	versions := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := s.CreateRelease(&engine.Release{App: "web", Status: engine.ReleaseSucceeded}, nil)
			errs[i] = err
			if err == nil {
				versions[i] = r.Version
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("CreateRelease #%d: %v", i, err)
		}
	}
	slices.Sort(versions)
	var want []int
	for v := 2; v <= n+1; v++ {
		want = append(want, v)
	}
	if !slices.Equal(versions, want) {
		t.Errorf("versions = %v, want %v", versions, want)
	}
	a, err := s.App("web")
	if err != nil {
		t.Fatal(err)
	}
	if a.CurrentRelease != n+1 {
		t.Errorf("CurrentRelease = %d, want %d", a.CurrentRelease, n+1)
	}
}
