package store

import (
	"slices"
	"testing"
	"time"

	"hako/engine"
)

// addKeys registers keys k1..k3 with increasing CreatedAt, inserted out of
// order so that listing must sort.
func addKeys(t *testing.T, s *Store) {
	t.Helper()
	for _, k := range []engine.Key{
		{ID: "k3", Fingerprint: "SHA256:ccc", Comment: "laptop", CreatedAt: t0.Add(3 * time.Hour)},
		{ID: "k1", Fingerprint: "SHA256:zzz", Comment: "alice@desk", CreatedAt: t0.Add(1 * time.Hour)},
		{ID: "k2", Fingerprint: "SHA256:aaa", Comment: "laptop", CreatedAt: t0.Add(2 * time.Hour)},
	} {
		if err := s.AddKey(&k); err != nil {
			t.Fatalf("AddKey(%s): %v", k.ID, err)
		}
	}
}

func TestAddKey(t *testing.T) {
	tests := []struct {
		name     string
		key      engine.Key
		wantCode string
		wantMsg  string
	}{
		{name: "OK", key: engine.Key{ID: "k9", Fingerprint: "SHA256:new"}},
		{name: "ErrConflict", key: engine.Key{ID: "k9", Fingerprint: "SHA256:aaa"}, wantCode: engine.ECONFLICT, wantMsg: "Key SHA256:aaa is already registered."},
		{name: "ErrConflictID", key: engine.Key{ID: "k1", Fingerprint: "SHA256:new"}, wantCode: engine.ECONFLICT},
		{name: "ErrInvalid", key: engine.Key{ID: "k9"}, wantCode: engine.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			addKeys(t, s)
			k := tt.key
			err := s.AddKey(&k)
			if c := code(err); c != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.wantCode)
			}
			if tt.wantMsg != "" {
				if got := engine.ErrorMessage(err); got != tt.wantMsg {
					t.Errorf("message = %q, want %q", got, tt.wantMsg)
				}
			}
			if tt.wantCode != "" {
				return
			}
			got, err := s.KeyByFingerprint(tt.key.Fingerprint)
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tt.key.ID || got.CreatedAt.IsZero() {
				t.Errorf("stored = %+v", got)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	s := openTest(t)
	if ks, err := s.Keys(); err != nil || len(ks) != 0 {
		t.Fatalf("Keys on empty store = %v, %v", ks, err)
	}
	addKeys(t, s)
	ks, err := s.Keys()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range ks {
		got = append(got, k.ID)
	}
	if want := []string{"k1", "k2", "k3"}; !slices.Equal(got, want) {
		t.Errorf("Keys = %v, want %v (oldest first)", got, want)
	}
}

func TestKeyByFingerprint(t *testing.T) {
	s := openTest(t)
	addKeys(t, s)
	tests := []struct {
		name     string
		fp       string
		wantID   string
		wantCode string
	}{
		{name: "OK", fp: "SHA256:zzz", wantID: "k1"},
		{name: "ErrNotFound", fp: "SHA256:nope", wantCode: engine.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.KeyByFingerprint(tt.fp)
			if c := code(err); c != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.wantCode)
			}
			if tt.wantCode == "" && got.ID != tt.wantID {
				t.Errorf("ID = %q, want %q", got.ID, tt.wantID)
			}
		})
	}
}

func TestDeleteKey(t *testing.T) {
	tests := []struct {
		name     string
		idOrName string
		wantCode string
		wantLeft []string
	}{
		{name: "OKByID", idOrName: "k1", wantLeft: []string{"k2", "k3"}},
		{name: "OKByFingerprint", idOrName: "SHA256:ccc", wantLeft: []string{"k1", "k2"}},
		{name: "OKByComment", idOrName: "alice@desk", wantLeft: []string{"k2", "k3"}},
		{name: "ErrConflictAmbiguousComment", idOrName: "laptop", wantCode: engine.ECONFLICT, wantLeft: []string{"k1", "k2", "k3"}},
		{name: "ErrNotFound", idOrName: "nope", wantCode: engine.ENOTFOUND, wantLeft: []string{"k1", "k2", "k3"}},
		{name: "ErrNotFoundEmpty", idOrName: "", wantCode: engine.ENOTFOUND, wantLeft: []string{"k1", "k2", "k3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			addKeys(t, s)
			err := s.DeleteKey("", tt.idOrName)
			if c := code(err); c != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", c, err, tt.wantCode)
			}
			ks, err := s.Keys()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range ks {
				got = append(got, k.ID)
			}
			if !slices.Equal(got, tt.wantLeft) {
				t.Errorf("keys left = %v, want %v", got, tt.wantLeft)
			}
		})
	}
}
