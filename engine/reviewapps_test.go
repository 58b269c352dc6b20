package engine

import "testing"

func TestReviewAppName(t *testing.T) {
	for _, c := range []struct {
		parent, branch string
		alt            bool
		want           string
	}{
		{"shop", "feature-x", false, "shop-feature-x"},
		{"shop", "Feature_X/2", false, "shop-feature-x-2"},
		{"shop", "../../etc", false, "shop-etc"},
		{"shop", "$(rm -rf /);`x`", false, "shop-rm-rf-x"},
		{"shop", "---", false, "shop-branch"},
		{"shop", "feature-x", true, "shop-feature-x-3f5b56"},
		{"a-rather-long-parent-name", "feature", false, "a-rather-long-parent-na-"},
	} {
		got := ReviewAppName(c.parent, c.branch, c.alt)
		if err := ValidateAppName(got); err != nil {
			t.Errorf("ReviewAppName(%q, %q, %v) = %q: %v", c.parent, c.branch, c.alt, got, err)
		}
		if c.want[len(c.want)-1] != '-' && got != c.want {
			t.Errorf("ReviewAppName(%q, %q, %v) = %q, want %q", c.parent, c.branch, c.alt, got, c.want)
		}
		if c.want[len(c.want)-1] == '-' && (len(got) != 30 || got[:len(c.want)] != c.want) {
			t.Errorf("ReviewAppName(%q, %q, %v) = %q, want %q and a hash", c.parent, c.branch, c.alt, got, c.want)
		}
	}
	if a, b := ReviewAppName("shop", "Feature-X", true), ReviewAppName("shop", "feature-x", true); a == b {
		t.Errorf("branches that fold alike get one name: %s", a)
	}
}
