package dyno

import (
	"testing"

	"hako/engine"
)

// A build step's overlays must name clean absolute paths and may not be
// mounted where the build's root has directories of its own.
func TestCheckOverlays(t *testing.T) {
	ok := engine.Overlay{Path: "/cache/app/go-build", Lower: "/shared/go-std/k", Upper: "/cache/app/go-build/upper", Work: "/cache/app/go-build/work"}
	with := func(f func(o *engine.Overlay)) []engine.Overlay {
		o := ok
		f(&o)
		return []engine.Overlay{o}
	}
	for _, tt := range []struct {
		name     string
		overlays []engine.Overlay
		wantErr  bool
	}{
		{"None", nil, false},
		{"OK", []engine.Overlay{ok}, false},
		{"RelativeLower", with(func(o *engine.Overlay) { o.Lower = "shared" }), true},
		{"UncleanUpper", with(func(o *engine.Overlay) { o.Upper = "/cache/app/../other/upper" }), true},
		{"EmptyWork", with(func(o *engine.Overlay) { o.Work = "" }), true},
		{"OnRoot", with(func(o *engine.Overlay) { o.Path = "/" }), true},
		{"OnTmp", with(func(o *engine.Overlay) { o.Path = "/tmp" }), true},
		{"UnderProc", with(func(o *engine.Overlay) { o.Path = "/proc/self" }), true},
		{"OnDev", with(func(o *engine.Overlay) { o.Path = "/dev" }), true},
		{"UnderTmp", with(func(o *engine.Overlay) { o.Path = "/tmp/cache" }), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkOverlays(tt.overlays); (err != nil) != tt.wantErr {
				t.Errorf("checkOverlays = %v, want an error: %v", err, tt.wantErr)
			}
		})
	}
}
