package store

import (
	"testing"

	"hako/engine"
)

// TestPipelinesAndReviewsFollowApps: a deleted app leaves its pipeline
// and its review-app records; a pipeline's name is unique; deleting a
// pipeline drops its couplings, not its apps.
func TestPipelinesAndReviewsFollowApps(t *testing.T) {
	s := openTest(t)
	for _, a := range []string{"stag", "prod", "stag-feature"} {
		mustCreateApp(t, s, a, engine.ReleaseSucceeded)
	}
	p := &engine.Pipeline{ID: "p1", Name: "line"}
	if err := s.CreatePipeline(p); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePipeline(&engine.Pipeline{ID: "p2", Name: "line"}); engine.ErrorCode(err) != engine.ECONFLICT {
		t.Errorf("a second pipeline named line: %v, want ECONFLICT", err)
	}
	for _, c := range []*engine.PipelineCoupling{{ID: "c1", Pipeline: "p1", App: "stag", Stage: "staging"}, {ID: "c2", Pipeline: "p1", App: "prod", Stage: "production"}} {
		if err := s.PutCoupling(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutCoupling(&engine.PipelineCoupling{ID: "c3", Pipeline: "p1", App: "ghost", Stage: "staging"}); engine.ErrorCode(err) != engine.ENOTFOUND {
		t.Errorf("a coupling of a missing app: %v, want ENOTFOUND", err)
	}
	if err := s.PutReviewSettings(&engine.ReviewSettings{Parent: "stag", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutReviewApp(&engine.ReviewApp{Name: "stag-feature", Parent: "stag", Branch: "feature"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteApp("prod"); err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.Couplings("p1"); len(cs) != 1 || cs[0].App != "stag" {
		t.Errorf("couplings after prod went: %+v", cs)
	}
	if _, err := s.DeleteApp("stag-feature"); err != nil {
		t.Fatal(err)
	}
	if ras, _ := s.ReviewApps("stag"); len(ras) != 0 {
		t.Errorf("review apps after theirs went: %+v", ras)
	}
	// A parent deleted drops its review apps' records (the apps stay), so
	// that a new app of its name does not take them over.
	mustCreateApp(t, s, "stag-other", engine.ReleaseSucceeded)
	if err := s.PutReviewApp(&engine.ReviewApp{Name: "stag-other", Parent: "stag", Branch: "other"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteApp("stag"); err != nil {
		t.Fatal(err)
	}
	if rs, _ := s.ReviewSettings("stag"); rs != nil {
		t.Errorf("review settings of a deleted parent: %+v", rs)
	}
	if ras, _ := s.ReviewApps(""); len(ras) != 0 {
		t.Errorf("review app records of a deleted parent: %+v", ras)
	}
	if _, err := s.App("stag-other"); err != nil {
		t.Errorf("the review app of a deleted parent: %v", err)
	}
	if err := s.DeletePipeline("p1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pipeline("line"); engine.ErrorCode(err) != engine.ENOTFOUND {
		t.Errorf("a deleted pipeline: %v", err)
	}
}
