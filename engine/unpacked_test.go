package engine

import (
	"slices"
	"testing"
)

func TestUnpackedToRemove(t *testing.T) {
	rel := func(v int, slug, status string) *Release {
		return &Release{Version: v, SlugID: slug, Status: status}
	}
	ok := ReleaseSucceeded
	history := []*Release{
		rel(1, "", ok), rel(2, "a", ok), rel(3, "a", ok), rel(4, "b", ok),
		rel(5, "c", ReleaseFailed), rel(6, "b", ok), rel(7, "d", ReleasePending),
	}
	for _, tc := range []struct {
		name    string
		entries []string
		current int
		inUse   []string
		want    []string
	}{
		{"current and previous kept", []string{"a", "b", "c"}, 6, nil, []string{"c"}},
		{"previous skips the same slug and failed releases", []string{"a", "b", "c", "d"}, 6, nil, []string{"c", "d"}},
		{"in use kept", []string{"a", "b", "c", "d"}, 6, []string{"c", "d"}, nil},
		{"unused old slug goes", []string{"a", "b"}, 4, nil, nil},
		{"only the current one", []string{"a", "b"}, 2, nil, []string{"b"}},
		{"config releases share one slug", []string{"a"}, 3, nil, nil},
		{"leftovers of older layouts and extractions go", []string{"v3", "b.tmp", "b"}, 6, nil, []string{"b.tmp", "v3"}},
		{"a leftover in use stays", []string{"v3", "b"}, 6, []string{"v3"}, nil},
		{"no release with a slug", []string{"a"}, 1, nil, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			used := map[string]bool{}
			for _, n := range tc.inUse {
				used[n] = true
			}
			got := unpackedToRemove(tc.entries, tc.current, history, used)
			if !slices.Equal(got, tc.want) {
				t.Errorf("unpackedToRemove(%v, v%d, in use %v) = %v, want %v", tc.entries, tc.current, tc.inUse, got, tc.want)
			}
		})
	}
}
