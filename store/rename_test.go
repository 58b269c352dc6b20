package store

import (
	"strings"
	"testing"

	"hako/engine"
)

// TestRenameApp checks that a rename moves the app's record, add-ons,
// releases and slugs to the new name, and that a taken or missing name
// changes nothing.
func TestRenameApp(t *testing.T) {
	s := openTest(t)
	mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
	mustCreateApp(t, s, "taken", engine.ReleaseSucceeded)
	if _, err := s.UpdateApp("web", func(a *engine.App) error {
		a.Addons = []engine.Addon{{ID: "a1", Name: "redis-1", App: "web", Service: "heroku-redis", As: "REDIS"}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slug := &engine.Slug{ID: "s1", ProcessTypes: map[string]string{"web": "x"}}
	if _, err := s.CreateRelease(&engine.Release{App: "web", Description: "Deploy", Status: engine.ReleaseSucceeded}, slug); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Releases("web")

	for _, tt := range []struct{ old, new, code string }{
		{"web", "taken", engine.ECONFLICT},
		{"nope", "fresh", engine.ENOTFOUND},
	} {
		if _, err := s.RenameApp(tt.old, tt.new); code(err) != tt.code {
			t.Errorf("RenameApp(%s, %s) = %v, want %s", tt.old, tt.new, err, tt.code)
		}
	}
	if _, err := s.App("web"); err != nil {
		t.Fatalf("a refused rename lost the app: %v", err)
	}

	a, err := s.RenameApp("web", "fresh")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "fresh" || a.Addons[0].App != "fresh" || a.ID != "id-web" {
		t.Errorf("renamed app = %+v", a)
	}
	if _, err := s.App("web"); code(err) != engine.ENOTFOUND {
		t.Errorf("old name still found: %v", err)
	}
	after, err := s.Releases("fresh")
	if err != nil || len(after) != len(before) {
		t.Fatalf("releases after = %d (%v), want %d", len(after), err, len(before))
	}
	for i, r := range after {
		if r.App != "fresh" || r.ID != before[i].ID || r.Version != before[i].Version {
			t.Errorf("release moved as %+v, was %+v", r, before[i])
		}
	}
	if old, _ := s.Releases("web"); len(old) != 0 {
		t.Errorf("old name keeps %d releases", len(old))
	}
	sl, err := s.Slug("s1")
	if err != nil || sl.App != "fresh" {
		t.Errorf("slug = %+v, %v; want it to belong to fresh", sl, err)
	}
	// A new app may take the old name, with a history of its own.
	mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
	if rels, _ := s.Releases("web"); len(rels) != 1 {
		t.Errorf("new app of the old name has %d releases, want 1", len(rels))
	}
}

// TestRenameMovesReviewApps: renaming a parent or a review app moves
// their review records with them, so that a new app taking the old name
// neither inherits the parent's review apps (a push of a branch to it
// would deploy into them) nor passes for a review app of the parent
// (which may fork the parent's database).
func TestRenameMovesReviewApps(t *testing.T) {
	s := openTest(t)
	for _, n := range []string{"parent", "parent-feat", "parent-fix"} {
		mustCreateApp(t, s, n, engine.ReleaseSucceeded)
	}
	if err := s.PutReviewSettings(&engine.ReviewSettings{Parent: "parent", Enabled: true, ForkDB: true}); err != nil {
		t.Fatal(err)
	}
	for _, ra := range []*engine.ReviewApp{{Name: "parent-feat", Parent: "parent", Branch: "feat"}, {Name: "parent-fix", Parent: "parent", Branch: "fix"}} {
		if err := s.PutReviewApp(ra); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RenameApp("parent", "moved"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RenameApp("parent-feat", "feature"); err != nil {
		t.Fatal(err)
	}
	// A stranger's apps take the freed names.
	mustCreateApp(t, s, "parent", engine.ReleaseSucceeded)
	mustCreateApp(t, s, "parent-feat", engine.ReleaseSucceeded)

	if rs, err := s.ReviewSettings("parent"); err != nil || rs != nil {
		t.Errorf("the new app parent has settings %+v (%v), want none", rs, err)
	}
	if rs, err := s.ReviewSettings("moved"); err != nil || rs == nil || rs.Parent != "moved" || !rs.Enabled || !rs.ForkDB {
		t.Errorf("moved's settings = %+v (%v), want parent moved, enabled, fork_db", rs, err)
	}
	if got, err := s.ReviewApps("parent"); err != nil || len(got) != 0 {
		t.Errorf("the new app parent has review apps %v (%v), want none", got, err)
	}
	got, err := s.ReviewApps("moved")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ra := range got {
		names = append(names, ra.Name+"<"+ra.Parent+":"+ra.Branch)
	}
	if want := "feature<moved:feat parent-fix<moved:fix"; strings.Join(names, " ") != want {
		t.Errorf("moved's review apps = %q, want %q", strings.Join(names, " "), want)
	}
	all, _ := s.ReviewApps("")
	for _, ra := range all {
		if ra.Name == "parent-feat" {
			t.Errorf("the new app parent-feat passes for a review app: %+v", ra)
		}
	}
}
