package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// readPhase reads a PhaseLog as the output URL does, chunk by chunk, until
// it says it is done.
func readPhase(t *testing.T, p *PhaseLog) []byte {
	t.Helper()
	var got []byte
	for range 1000 {
		chunk, done, _ := p.Read(len(got))
		got = append(got, chunk...)
		if done {
			return got
		}
	}
	t.Fatal("the output never ended")
	return nil
}

// TestPhaseLogOnDisk: a release phase's output goes to its file, bounded
// to maxPhaseLog bytes, and reads back whole, in chunks, from the file
// alone once the server's memory of it is gone.
func TestPhaseLogOnDisk(t *testing.T) {
	builds := t.TempDir()
	e := &Engine{Parts: Parts{Paths: Layout{Builds: builds}}}
	const id = "0b7a3bb4-6d4d-4e83-9d23-00000000000a"
	dir := filepath.Join(builds, "0b7a3bb4-6d4d-4e83-9d23-0000000000aa", "releases")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, id+".log"))
	if err != nil {
		t.Fatal(err)
	}
	p := &PhaseLog{path: f.Name(), f: f, changed: make(chan struct{})}
	line := bytes.Repeat([]byte("x"), 1023)
	line = append(line, '\n')
	var want []byte
	for range 1100 { // 1.07 MiB: past the bound
		p.Write(line)
		want = append(want, line...)
	}
	want = want[:maxPhaseLog]
	if chunk, done, _ := p.Read(0); done || len(chunk) != buildReadChunk {
		t.Errorf("while running: %d bytes, done %v; want a chunk of %d, not done", len(chunk), done, buildReadChunk)
	}
	p.finish()
	if got := readPhase(t, p); !bytes.Equal(got, want) {
		t.Errorf("read %d bytes, want the first %d", len(got), len(want))
	}
	if fi, err := os.Stat(f.Name()); err != nil || fi.Size() != maxPhaseLog {
		t.Errorf("the file: %v %v, want %d bytes", fi, err, maxPhaseLog)
	}

	// After a restart only the file is left.
	restored := e.ReleaseOutput(id)
	if restored == nil {
		t.Fatal("no output from disk")
	}
	if got := readPhase(t, restored); !bytes.Equal(got, want) {
		t.Errorf("restored: read %d bytes, want %d", len(got), len(want))
	}
	for _, bad := range []string{"*", "../x", "0b7a3bb4-6d4d-4e83-9d23-00000000000b", "0B7A3BB4-6D4D-4E83-9D23-00000000000A", ""} {
		if e.ReleaseOutput(bad) != nil {
			t.Errorf("ReleaseOutput(%q) found output", bad)
		}
	}
}

// TestPrunePhaseLogs: an app keeps its newest outputs, the one starting
// among them however its clock reads.
func TestPrunePhaseLogs(t *testing.T) {
	dir := t.TempDir()
	base := time.Now().Add(-time.Hour)
	for i, name := range []string{"a.log", "b.log", "c.log", "d.log", "e.log"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		at := base.Add(time.Duration(i) * time.Minute)
		if name == "a.log" {
			at = base.Add(-time.Hour) // the current one, oldest by its time
		}
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	prunePhaseLogs(dir, "a.log", 3)
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, en := range ents {
		names = append(names, en.Name())
	}
	if want := []string{"a.log", "d.log", "e.log"}; !slices.Equal(names, want) {
		t.Errorf("kept %v, want %v", names, want)
	}
}
