package engine

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
)

// readAll reads a build's output as a stream does, to its end.
func readAll(t *testing.T, o *BuildOutput) []byte {
	t.Helper()
	var got []byte
	for range 1000 {
		chunk, done, changed := o.Read(int64(len(got)))
		got = append(got, chunk...)
		if done {
			return got
		}
		<-changed
	}
	t.Fatal("the output never ended")
	return nil
}

// A build printing far more than MaxBuildOutput keeps its first
// buildHead bytes, a line saying how much was left out and its last
// buildTail bytes; the file on disk holds no more, whatever the size of
// the writes.
func TestBuildOutputBounded(t *testing.T) {
	for _, c := range []struct {
		name         string
		write, total int
	}{
		{"Small", 100, 10 << 10},
		{"TinyWrites", 7, 3 << 20},
		{"BigWrites", 600 << 10, 5 << 20},
		{"OneHugeWrite", 9 << 20, 9 << 20},
		{"JustTheHead", 4096, buildHead},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := New(Parts{Paths: Layout{Builds: t.TempDir()}})
			run, err := e.startBuild(&App{ID: "app-id", Name: "loud"}, BuildSource{Version: "abc"}, "me")
			if err != nil {
				t.Fatal(err)
			}
			var all bytes.Buffer
			for i := 0; all.Len() < c.total; i++ {
				p := []byte(strings.Repeat(fmt.Sprintf("%x", i%16), min(c.write, c.total-all.Len())))
				all.Write(p)
				if n, err := run.Write(p); n != len(p) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			e.endBuild(run, nil, " !     the end")
			o := &BuildOutput{e: e, id: run.rec.ID, path: e.buildOutputPath(&run.rec)}
			got := readAll(t, o)
			want := all.Bytes()
			if skipped := len(want) - MaxBuildOutput; skipped > 0 {
				line := fmt.Sprintf("\n !     %d bytes of this build's output were left out here: a build keeps its first 768 KiB and its last 256 KiB.\n", skipped)
				want = append(append(want[:buildHead:buildHead], line...), want[len(want)-buildTail:]...)
			}
			want = append(want, " !     the end\n"...)
			if !bytes.Equal(got, want) {
				t.Errorf("output of %d bytes (%.80q…%.80q), want %d bytes", len(got), got, got[max(0, len(got)-80):], len(want))
			}
			if st, err := os.Stat(o.path); err != nil || st.Size() > MaxBuildOutput+200 {
				t.Errorf("the output file: %v, %v", st.Size(), err)
			}
		})
	}
}

// A reader following a build gets each write as it happens and ends with
// the build.
func TestBuildOutputFollowed(t *testing.T) {
	e := New(Parts{Paths: Layout{Builds: t.TempDir()}})
	run, err := e.startBuild(&App{ID: "app-id", Name: "live"}, BuildSource{}, "me")
	if err != nil {
		t.Fatal(err)
	}
	o := &BuildOutput{e: e, id: run.rec.ID, path: e.buildOutputPath(&run.rec)}
	chunk, done, changed := o.Read(0)
	if len(chunk) != 0 || done {
		t.Fatalf("before any output: %q, done %v", chunk, done)
	}
	fmt.Fprintln(run, "-----> Building")
	<-changed
	if chunk, done, _ = o.Read(0); string(chunk) != "-----> Building\n" || done {
		t.Fatalf("after a line: %q, done %v", chunk, done)
	}
	e.endBuild(run, &Release{ID: "rel"}, "")
	if chunk, done, _ = o.Read(int64(len("-----> Building\n"))); len(chunk) != 0 || !done {
		t.Fatalf("after the end: %q, done %v", chunk, done)
	}
}

// A build id that is no UUID names no file: nothing of it reaches a path.
func TestBuildOutputPathRefusesOddIDs(t *testing.T) {
	e := New(Parts{Paths: Layout{Builds: "/builds"}})
	for _, b := range []Build{
		{ID: "../../etc/passwd", AppID: "a"},
		{ID: "0b7a3bb4-6d4d-4e83-9d23-00000000b11d", AppID: "../x"},
		{ID: "0b7a3bb4-6d4d-4e83-9d23-00000000b11d", AppID: ".."},
		{ID: "0B7A3BB4-6D4D-4E83-9D23-00000000B11D", AppID: "a"},
		{ID: "0b7a3bb4/6d4d-4e83-9d23-00000000b11d", AppID: "a"},
	} {
		if p := e.buildOutputPath(&b); p != "" {
			t.Errorf("build %q of %q: path %q, want none", b.ID, b.AppID, p)
		}
	}
	if p := e.buildOutputPath(&Build{ID: "0b7a3bb4-6d4d-4e83-9d23-00000000b11d", AppID: "a"}); p != "/builds/a/0b7a3bb4-6d4d-4e83-9d23-00000000b11d.log" {
		t.Errorf("a good build's path: %q", p)
	}
}
