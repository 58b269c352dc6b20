package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A check's verdict is worded as the deploy shows it.
func TestProbeVerdict(t *testing.T) {
	h := Healthcheck{Name: "check-1", Path: "/", Content: "go", Attempts: 1, Timeout: 50 * time.Millisecond}
	plain := h
	plain.Content = ""
	for _, tc := range []struct {
		name   string
		h      Healthcheck
		status int
		body   string
		err    error
		block  bool
		want   string
	}{
		{"pass", h, 200, "lets go", nil, false, ""},
		{"server error", h, 500, "go", nil, false, `GET / answered 500, expected content "go"`},
		{"no content", h, 200, "nothing", nil, false, `GET / answered 200 without the expected content "go"`},
		{"redirect", plain, 302, "", nil, false, "GET / answered 302, expected 2xx"},
		{"refused", h, 0, "", errors.New("connection refused"), false, "GET / could not connect"},
		{"slow", h, 0, "", nil, true, "GET / did not answer within 50ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Parts{Probe: func(ctx context.Context, addr, host, path string, max int64) (int, []byte, error) {
				if addr != "127.0.0.1:5000" || host != "app.localhost" || path != "/" || max != maxCheckBody {
					t.Errorf("probe(%s, %s, %s, %d)", addr, host, path, max)
				}
				if tc.block {
					<-ctx.Done()
					return 0, nil, ctx.Err()
				}
				return tc.status, []byte(tc.body), tc.err
			}})
			if got := e.runCheck(context.Background(), "127.0.0.1:5000", e.checkHost("app"), tc.h); got != tc.want {
				t.Errorf("verdict = %q, want %q", got, tc.want)
			}
		})
	}
}
