package store

import (
	"path/filepath"
	"testing"
	"time"

	"hako/engine"
)

// Slug imports are kept by secret across the store's closing, changed in
// place and forgotten on demand; one without a secret is refused.
func TestSlugImportsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hako.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a := &engine.SlugImport{ID: "im-a", Secret: "sec-a", AppID: "id-x", App: "x", User: "me", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
		Slug: engine.Slug{Commit: "abc", ProcessTypes: map[string]string{"web": "./web"}}}
	b := &engine.SlugImport{ID: "im-b", Secret: "sec-b", AppID: "id-x", App: "x", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for _, im := range []*engine.SlugImport{a, b} {
		if err := s.PutSlugImport(im); err != nil {
			t.Fatal(err)
		}
	}
	a.Slug.ID, a.Uploaded = "slug-a", "SHA256:aa"
	if err := s.PutSlugImport(a); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSlugImport("sec-b"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSlugImport(&engine.SlugImport{ID: "im-c"}); code(err) != engine.EINVALID {
		t.Errorf("an import without a secret: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.SlugImports()
	if err != nil || len(got) != 1 {
		t.Fatalf("SlugImports = %v, %v; want im-a alone", got, err)
	}
	if g := got[0]; g.ID != "im-a" || g.Slug.ID != "slug-a" || g.Uploaded != "SHA256:aa" || g.Slug.ProcessTypes["web"] != "./web" || !g.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("im-a after a reopen: %+v", g)
	}
}
