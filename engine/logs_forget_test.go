package engine_test

import (
	"context"
	"testing"

	"hako/engine"
	"hako/engine/logs"
)

// TestDestroyForgetsLogs checks that an app created with the name of a
// destroyed one does not show the old app's log lines.
func TestDestroyForgetsLogs(t *testing.T) {
	e, _, _, _ := newEngine(t)
	buf := &logs.Buffer{}
	e.Logs = buf
	if _, err := e.CreateApp("reused", "u"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Deploy(context.Background(), engine.DeployRequest{App: "reused", Commit: "c", SourceDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	buf.Log("reused", "app", "web.1", "a line of the first app")
	if err := e.DestroyApp("reused"); err != nil {
		t.Fatal(err)
	}
	if got := buf.Recent("reused", 0); len(got) != 0 {
		t.Errorf("lines after destroy = %v, want none", got)
	}
	// A line logged late, after the destroy, is not the new app's either.
	buf.Log("reused", "app", "web.1", "late line of the first app")
	if _, err := e.CreateApp("reused", "u"); err != nil {
		t.Fatal(err)
	}
	got := buf.Recent("reused", 0)
	if len(got) != 1 || got[0].Text != "Release v1 created by user u" {
		t.Errorf("lines of the new app = %v, want only its v1 line", got)
	}
}
