package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"hako/engine"
)

// openTest opens a fresh store in a temporary directory and closes it when
// the test ends.
func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "hako.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// code returns the engine error code of err, "" for nil.
func code(err error) string {
	if err == nil {
		return ""
	}
	var e *engine.Error
	if !errors.As(err, &e) {
		return "non-engine error: " + err.Error()
	}
	return e.Code
}

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// mustCreateApp creates app name with a first release of the given status.
func mustCreateApp(t *testing.T, s *Store, name, status string) {
	t.Helper()
	app := &engine.App{ID: "id-" + name, Name: name, Stack: engine.Stack, CreatedAt: t0}
	first := &engine.Release{Description: "Initial release", User: "me", Status: status}
	if err := s.CreateApp(app, first); err != nil {
		t.Fatalf("CreateApp(%s): %v", name, err)
	}
}
