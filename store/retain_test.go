package store

import (
	"fmt"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"hako/engine"
)

// release records a release of app running slug id (a new slug record
// when fresh), with status st.
func release(t *testing.T, s *Store, app, id, st string, fresh bool) *engine.Release {
	t.Helper()
	var sl *engine.Slug
	if fresh {
		sl = &engine.Slug{ID: id}
	}
	r, err := s.CreateRelease(&engine.Release{App: app, Description: "Deploy", Status: st, SlugID: id}, sl)
	if err != nil {
		t.Fatalf("CreateRelease(%s, %s): %v", app, id, err)
	}
	return r
}

// recorded lists which of ids have a slug record.
func recorded(t *testing.T, s *Store, ids ...string) []string {
	t.Helper()
	all, err := s.SlugIDs()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, id := range ids {
		if all[id] {
			out = append(out, id)
		}
	}
	return out
}

func TestPruneSlugs(t *testing.T) {
	ok, fail, pend := engine.ReleaseSucceeded, engine.ReleaseFailed, engine.ReleasePending
	type step struct {
		app, slug, status string
		fresh             bool
	}
	tests := []struct {
		name  string
		steps []step
		keep  int
		inUse []string
		prune string
		want  []string // removed, sorted
	}{
		{name: "OKKeepsTheLastN", keep: 2, prune: "web",
			steps: []step{{"web", "s1", ok, true}, {"web", "s2", ok, true}, {"web", "s3", ok, true}, {"web", "s4", ok, true}},
			want:  []string{"s1", "s2"}},
		{name: "OKConfigChangesCountOnce", keep: 2, prune: "web",
			steps: []step{{"web", "s1", ok, true}, {"web", "s2", ok, true}, {"web", "s2", ok, false}, {"web", "s2", ok, false}, {"web", "s2", ok, false}},
			want:  nil},
		{name: "OKRollbackBringsBack", keep: 2, prune: "web",
			steps: []step{{"web", "s1", ok, true}, {"web", "s2", ok, true}, {"web", "s3", ok, true}, {"web", "s1", ok, false}},
			want:  []string{"s2"}},
		{name: "OKFailedGoPendingStay", keep: 1, prune: "web",
			steps: []step{{"web", "s1", ok, true}, {"web", "s2", fail, true}, {"web", "s3", pend, true}},
			want:  []string{"s2"}},
		{name: "OKCurrentStaysBehindFailures", keep: 1, prune: "web",
			steps: []step{{"web", "s1", ok, true}, {"web", "s2", ok, true}, {"web", "s3", fail, true}, {"web", "s4", fail, true}},
			want:  []string{"s1", "s3", "s4"}},
		{name: "OKInUseStays", keep: 1, prune: "web", inUse: []string{"s1"},
			steps: []step{{"web", "s1", ok, true}, {"web", "s2", ok, true}, {"web", "s3", ok, true}},
			want:  []string{"s2"}},
		{name: "OKSharedStaysWhileTheOtherRetainsIt", keep: 1, prune: "web",
			steps: []step{{"web", "s1", ok, true}, {"prod", "s1", ok, false}, {"web", "s2", ok, true}, {"web", "s3", ok, true}},
			want:  []string{"s2"}},
		{name: "OKSharedGoesOnceNoneRetainsIt", keep: 1, prune: "prod",
			steps: []step{{"web", "s1", ok, true}, {"prod", "s1", ok, false}, {"web", "s2", ok, true}, {"prod", "s2", ok, false}},
			want:  []string{"s1"}},
		{name: "OKOtherAppsOldReleasesRetainNothing", keep: 1, prune: "web",
			steps: []step{{"prod", "p1", ok, true}, {"web", "s1", ok, true}, {"prod", "s1", ok, false}, {"prod", "p2", ok, true}, {"web", "s2", ok, true}},
			want:  []string{"s1"}},
		{name: "OKAnotherAppCannotPruneWhatThisRetains", keep: 1, prune: "prod",
			// prod released web's current slug long ago, then moved on.
			steps: []step{{"web", "s1", ok, true}, {"prod", "s1", ok, false}, {"prod", "p1", ok, true}, {"prod", "p2", ok, true}},
			want:  []string{"p1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
			mustCreateApp(t, s, "prod", engine.ReleaseSucceeded)
			var all []string
			for _, st := range tt.steps {
				release(t, s, st.app, st.slug, st.status, st.fresh)
				if !slices.Contains(all, st.slug) {
					all = append(all, st.slug)
				}
			}
			inUse := map[string]bool{}
			for _, id := range tt.inUse {
				inUse[id] = true
			}
			got, err := s.PruneSlugs(tt.prune, tt.keep, inUse)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("removed %v, want %v", got, tt.want)
			}
			left := recorded(t, s, all...)
			for _, id := range all {
				if slices.Contains(tt.want, id) == slices.Contains(left, id) {
					t.Errorf("slug %s recorded = %v after removing %v", id, slices.Contains(left, id), got)
				}
			}
			// The release records stay.
			rels, _ := s.Releases(tt.prune)
			n := 1
			for _, st := range tt.steps {
				if st.app == tt.prune {
					n++
				}
			}
			if len(rels) != n {
				t.Errorf("%d releases of %s left, want %d", len(rels), tt.prune, n)
			}
			// A second pass removes nothing more.
			if again, err := s.PruneSlugs(tt.prune, tt.keep, inUse); err != nil || len(again) != 0 {
				t.Errorf("second pass removed %v, %v", again, err)
			}
		})
	}
}

func TestPruneSlugsErrors(t *testing.T) {
	s := openTest(t)
	if _, err := s.PruneSlugs("ghost", 1, nil); code(err) != engine.ENOTFOUND {
		t.Errorf("PruneSlugs(ghost) = %v, want ENOTFOUND", err)
	}
	mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
	if _, err := s.PruneSlugs("web", 0, nil); code(err) != engine.EINVALID {
		t.Errorf("PruneSlugs(keep 0) = %v, want EINVALID", err)
	}
}

// TestCreateReleaseOfRemovedSlug: a release of a slug retention removed
// is refused, in the transaction that would record it, so that a slug a
// new release refers to is never removed.
func TestCreateReleaseOfRemovedSlug(t *testing.T) {
	s := openTest(t)
	mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
	release(t, s, "web", "s1", engine.ReleaseSucceeded, true)
	release(t, s, "web", "s2", engine.ReleaseSucceeded, true)
	if got, err := s.PruneSlugs("web", 1, nil); err != nil || !slices.Equal(got, []string{"s1"}) {
		t.Fatalf("PruneSlugs = %v, %v", got, err)
	}
	_, err := s.CreateRelease(&engine.Release{App: "web", Description: "Rollback to v2", Status: engine.ReleaseSucceeded, SlugID: "s1"}, nil)
	if code(err) != engine.EINVALID {
		t.Fatalf("release of a removed slug = %v, want EINVALID", err)
	}
	if a, _ := s.App("web"); a.CurrentRelease != 3 {
		t.Errorf("current = v%d after a refused release, want v3", a.CurrentRelease)
	}
}

// TestCreateReleaseKeepsSlugRecord: a build of the very bytes of another
// app's slug does not take its record over.
func TestCreateReleaseKeepsSlugRecord(t *testing.T) {
	s := openTest(t)
	mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
	mustCreateApp(t, s, "evil", engine.ReleaseSucceeded)
	if _, err := s.CreateRelease(&engine.Release{App: "web", Status: engine.ReleaseSucceeded}, &engine.Slug{ID: "same", Commit: "c1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRelease(&engine.Release{App: "evil", Status: engine.ReleaseSucceeded}, &engine.Slug{ID: "same", Commit: "c2"}); err != nil {
		t.Fatal(err)
	}
	if sl, err := s.Slug("same"); err != nil || sl.App != "web" || sl.Commit != "c1" {
		t.Errorf("slug record = %+v, %v; want web's", sl, err)
	}
}

func TestTrimReleases(t *testing.T) {
	s := openTest(t)
	mustCreateApp(t, s, "web", engine.ReleaseSucceeded)
	release(t, s, "web", "s1", engine.ReleaseSucceeded, true)
	// The current release (v2) is older than every other record.
	// Written in one transaction: a thousand would take seconds.
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReleases).Bucket([]byte("web"))
		for i := range engine.MaxReleaseRecords + 5 {
			id := fmt.Sprintf("f%d", i)
			if err := put(tx.Bucket(bucketSlugs), []byte(id), &engine.Slug{ID: id, App: "web"}); err != nil {
				return err
			}
			r := &engine.Release{App: "web", Version: 3 + i, SlugID: id, Status: engine.ReleaseFailed}
			if err := put(b, versionKey(r.Version), r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PruneSlugs("web", 3, nil); err != nil {
		t.Fatal(err)
	}
	rels, err := s.Releases("web")
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != engine.MaxReleaseRecords {
		t.Errorf("%d release records left, want %d", len(rels), engine.MaxReleaseRecords)
	}
	if last := rels[len(rels)-1]; last.Version != 2 {
		t.Errorf("oldest left is v%d, want the current v2", last.Version)
	}
	if rels[len(rels)-2].Version != 2+7 {
		t.Errorf("second oldest left is v%d, want v9", rels[len(rels)-2].Version)
	}
	if got := recorded(t, s, "s1", "f0"); !slices.Equal(got, []string{"s1"}) {
		t.Errorf("recorded %v, want the current's s1 only", got)
	}
}
