package api

import (
	"testing"
	"time"
)

// TestPendingExpiresUnasked: an upload that waits past its time is
// dropped (its file with it) even if no request touches the table again,
// so that a slug import never released does not keep its file for good.
func TestPendingExpiresUnasked(t *testing.T) {
	p := &pending[string]{ttl: 50 * time.Millisecond}
	dropped := make(chan string, 1)
	if !p.add("k", "someone@example.test", "slug-id", func(v string) { dropped <- v }) {
		t.Fatal("add refused")
	}
	select {
	case v := <-dropped:
		if v != "slug-id" {
			t.Errorf("dropped %q, want slug-id", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the expired entry was not dropped")
	}
	if _, ok := p.get("k"); ok {
		t.Error("the expired entry is still there")
	}
}
