package api

import (
	"context"
	"net/http/httptest"
	"testing"

	"hako/engine"
)

// TestPerUserTake: a user holds at most the limit, another user's count
// is their own, a release gives one place back once however often it is
// called, and no limit means none.
func TestPerUserTake(t *testing.T) {
	var p perUser
	r1, ok1 := p.take("a", 2)
	_, ok2 := p.take("a", 2)
	if !ok1 || !ok2 {
		t.Fatal("a refused within the limit")
	}
	if _, ok := p.take("a", 2); ok {
		t.Fatal("a took a third past the limit of 2")
	}
	if _, ok := p.take("b", 2); !ok {
		t.Fatal("b refused for a's count")
	}
	r1()
	r1()
	if got := p.count("a"); got != 1 {
		t.Fatalf("a holds %d after one release called twice, want 1", got)
	}
	for range 5 {
		if _, ok := p.take("c", 0); !ok {
			t.Fatal("refused with no limit")
		}
	}
}

// TestBound: members get the setting (zero: the default), below zero
// none; administrators and requests of no user get none.
func TestBound(t *testing.T) {
	member := &engine.User{Email: "m@example.test"}
	adm := &engine.User{Email: engine.AdminEmail, Admin: true}
	for _, tc := range []struct {
		u    *engine.User
		v    int
		want int
	}{
		{member, 0, 7}, {member, 3, 3}, {member, -1, 0}, {adm, 3, 0}, {nil, 3, 0},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.u != nil {
			r = r.WithContext(context.WithValue(r.Context(), userCtxKey{}, tc.u))
		}
		if got := bound(r, tc.v, 7); got != tc.want {
			t.Errorf("bound(%v, %d) = %d, want %d", tc.u, tc.v, got, tc.want)
		}
	}
}
