package logs

import (
	"fmt"
	"strings"
	"testing"
)

func TestRecent(t *testing.T) {
	var b Buffer
	for i := 0; i < Capacity+10; i++ {
		b.Log("a", "app", "web.1", fmt.Sprint(i))
	}
	b.Log("other", "app", "web.1", "x")
	got := b.Recent("a", 0)
	if len(got) != Capacity || got[0].Text != "10" || got[len(got)-1].Text != fmt.Sprint(Capacity+9) {
		t.Fatalf("Recent kept %d lines from %q to %q", len(got), got[0].Text, got[len(got)-1].Text)
	}
	if got := b.Recent("a", 3); len(got) != 3 || got[2].Text != fmt.Sprint(Capacity+9) {
		t.Errorf("Recent(3) = %v", got)
	}
	if s := got[0].String(); !strings.Contains(s, " app[web.1]: ") {
		t.Errorf("line format %q", s)
	}
}

// TestTailNeverBlocks checks that a reader that does not read loses
// lines, with an L11 note, instead of blocking the writer.
func TestTailNeverBlocks(t *testing.T) {
	var b Buffer
	tail, stop := b.Subscribe("a")
	defer stop()
	for i := 0; i < TailBuffer+50; i++ {
		b.Log("a", "app", "web.1", fmt.Sprint(i))
	}
	for i := 0; i < TailBuffer; i++ {
		<-tail.C
	}
	b.Log("a", "app", "web.1", "after")
	l := <-tail.C
	if !strings.Contains(l.Text, "L11") || !strings.Contains(l.Text, "dropped 50") {
		t.Fatalf("after overflow got %q, want an L11 note of 50 drops", l.Text)
	}
	if l := <-tail.C; l.Text != "after" {
		t.Errorf("next line %q, want after", l.Text)
	}
}
