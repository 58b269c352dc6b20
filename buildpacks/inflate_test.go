package buildpacks

import (
	"bytes"
	stdflate "compress/flate"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/flate"
)

// inflateInputs are data shaped as slugs hold it, and the edge cases of
// deflate: nothing, one byte, runs (distance 1), incompressible bytes
// (stored blocks), and text.
func inflateInputs() map[string][]byte {
	r := rand.New(rand.NewPCG(3, 4))
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	sparse := make([]byte, 300<<10)
	for i := 0; i < len(sparse); i += 4 {
		sparse[i] = byte(r.Uint32())
	}
	words := []string{"function", "return", "const", "var", "this", "require", "=>", "{", "}", "\n"}
	var text []byte
	for len(text) < 500<<10 {
		text = append(text, words[r.IntN(len(words))]...)
		text = append(text, ' ')
	}
	short := []byte("abcabcabcabcabcabca")
	return map[string][]byte{
		"empty":  {},
		"one":    {'x'},
		"short":  short,
		"zeros":  make([]byte, 200<<10),
		"random": random,
		"sparse": sparse,
		"text":   text,
		"mixed":  append(append(append([]byte{}, text[:100<<10]...), random[:70<<10]...), sparse[:90<<10]...),
	}
}

// compressors make raw deflate streams of every kind an inflater meets:
// klauspost's levels (the slug writer's among them), the standard
// library's (Huffman only, stored, fixed and dynamic blocks), and flushes
// in the middle (empty stored blocks).
var compressors = map[string]func(t testing.TB, b []byte) []byte{
	"klauspost-1": kpDeflate(1), "klauspost-2": kpDeflate(2), "klauspost-5": kpDeflate(5), "klauspost-9": kpDeflate(9),
	"klauspost-0": kpDeflate(0), "klauspost-huffman": kpDeflate(flate.HuffmanOnly),
	"std-1": stdDeflate(1, false), "std-6": stdDeflate(6, false), "std-9": stdDeflate(9, false),
	"std-0": stdDeflate(0, false), "std-huffman": stdDeflate(stdflate.HuffmanOnly, false),
	"std-6-flushed": stdDeflate(6, true),
}

func kpDeflate(level int) func(testing.TB, []byte) []byte {
	return func(t testing.TB, b []byte) []byte {
		var out bytes.Buffer
		w, err := flate.NewWriter(&out, level)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		w.Close()
		return out.Bytes()
	}
}

func stdDeflate(level int, flush bool) func(testing.TB, []byte) []byte {
	return func(t testing.TB, b []byte) []byte {
		var out bytes.Buffer
		w, err := stdflate.NewWriter(&out, level)
		if err != nil {
			t.Fatal(err)
		}
		for len(b) > 0 {
			n := min(len(b), 10000)
			w.Write(b[:n])
			if flush {
				w.Flush()
			}
			b = b[n:]
		}
		w.Close()
		return out.Bytes()
	}
}

func TestInflateMatchesStreaming(t *testing.T) {
	var f inflater
	for name, data := range inflateInputs() {
		for cname, c := range compressors {
			z := c(t, data)
			out := make([]byte, len(data))
			if err := f.inflateInto(out, z); err != nil {
				t.Errorf("%s by %s: %v", name, cname, err)
				continue
			}
			if !bytes.Equal(out, data) {
				t.Errorf("%s by %s: inflated differently", name, cname)
			}
		}
	}
}

// TestInflateRefuses: a stream that does not fill its output exactly, runs
// past its input, has bytes after its end, or is corrupt is refused (the
// member is then read by the streaming inflater, which says why).
func TestInflateRefuses(t *testing.T) {
	data := inflateInputs()["text"][:50000]
	z := kpDeflate(1)(t, data)
	var f inflater
	cases := map[string]struct {
		out []byte
		in  []byte
	}{
		"output too short":  {make([]byte, len(data)-1), z},
		"output too long":   {make([]byte, len(data)+1), z},
		"input truncated":   {make([]byte, len(data)), z[:len(z)-3]},
		"bytes after end":   {make([]byte, len(data)), append(append([]byte{}, z...), 0)},
		"empty input":       {make([]byte, len(data)), nil},
		"reserved type":     {make([]byte, 1), []byte{0x07, 0, 0}},
		"stored length bad": {make([]byte, 3), []byte{0x01, 3, 0, 0, 0, 'a', 'b', 'c'}},
		"distance too far":  {make([]byte, 2000), kpDeflateAt(t, data)},
	}
	for name, c := range cases {
		if err := f.inflateInto(c.out, c.in); err == nil {
			t.Errorf("%s: inflated without an error", name)
		}
	}
}

// kpDeflateAt compresses data with a dictionary, so that its first
// back-reference points before its output: without the dictionary, a
// distance too far.
func kpDeflateAt(t *testing.T, data []byte) []byte {
	var out bytes.Buffer
	w, err := flate.NewWriterDict(&out, 5, data[:10000])
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[:2000])
	w.Close()
	return out.Bytes()
}

// FuzzInflate checks the one property the fallback rests on: whenever
// inflateInto accepts a stream, a streaming inflater reads the same bytes
// from it and ends exactly where it does. And for streams a compressor
// made it must accept them.
func FuzzInflate(f *testing.F) {
	for name, data := range inflateInputs() {
		if len(data) > 4096 {
			data = data[:4096]
		}
		for cname, c := range compressors {
			if name == "text" || name == "short" || cname == "klauspost-1" {
				f.Add(c(f, data))
			}
		}
	}
	var fl inflater
	f.Fuzz(func(t *testing.T, z []byte) {
		br := bytes.NewReader(z)
		want, werr := io.ReadAll(io.LimitReader(flate.NewReader(br), 1<<20))
		wellFormed := werr == nil && br.Len() == 0
		size := len(want)
		for _, n := range []int{size, size + 1, max(size-1, 0)} {
			out := make([]byte, n)
			err := fl.inflateInto(out, z)
			if err == nil && (!wellFormed || !bytes.Equal(out, want)) {
				t.Fatalf("accepted a stream the streaming inflater reads differently (%v, %d bytes, %d left)", werr, len(want), br.Len())
			}
		}
	})
}

// TestSlugMembersTakeTheFastPath: every member of a slug as writeSlug
// makes it is inflated by inflateInto, not left to the streaming
// fallback (which would still be right, only slower).
func TestSlugMembersTakeTheFastPath(t *testing.T) {
	data, _ := memberSlug(t)
	var f inflater
	offs := members(t, data)
	if len(offs) < 3 {
		t.Fatalf("%d members, want several", len(offs))
	}
	for _, off := range offs {
		hdrLen, total, _ := parseMemberHeader(data[off:])
		m := data[off : off+total]
		out := make([]byte, binary.LittleEndian.Uint32(m[total-4:]))
		if err := f.inflateInto(out, m[hdrLen:total-8]); err != nil {
			t.Fatalf("member at byte %d: %v", off, err)
		}
		if crc32.ChecksumIEEE(out) != binary.LittleEndian.Uint32(m[total-8:]) {
			t.Fatalf("member at byte %d: CRC differs", off)
		}
	}
}
