package engine

import (
	"strings"
	"testing"
)

func TestParseProcfile(t *testing.T) {
	cases := []struct {
		name, in string
		want     map[string]string
		errLine  string
	}{
		{"OK", "web: ./server -p $PORT\n# comment\n\nworker:  run --x=1 \n", map[string]string{"web": "./server -p $PORT", "worker": "run --x=1"}, ""},
		{"colon in command", "web: sh -c 'echo a:b'\n", map[string]string{"web": "sh -c 'echo a:b'"}, ""},
		{"no colon", "web: ok\nworker run\n", nil, "line 2"},
		{"bad type", "we b: x\n", nil, "line 1"},
		{"empty command", "web:\n", nil, "line 1"},
		{"duplicate", "web: a\nweb: b\n", nil, "line 2"},
		{"empty", "", map[string]string{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseProcfile(c.in)
			if c.errLine != "" {
				if err == nil || !strings.Contains(err.Error(), c.errLine) || ErrorCode(err) != EINVALID {
					t.Fatalf("err = %v, want EINVALID naming %s", err, c.errLine)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// FuzzParseProcfile checks the parser never panics and that whatever it
// accepts survives a round trip through FormatProcfile.
func FuzzParseProcfile(f *testing.F) {
	f.Add("web: ./server\nworker: run\n")
	f.Add("# c\n\nweb:x\n")
	f.Fuzz(func(t *testing.T, in string) {
		types, err := ParseProcfile(in)
		if err != nil {
			return
		}
		again, err := ParseProcfile(FormatProcfile(types))
		if err != nil {
			t.Fatalf("round trip of %q failed: %v", in, err)
		}
		if len(again) != len(types) {
			t.Fatalf("round trip changed %v into %v", types, again)
		}
		for k, v := range types {
			if again[k] != v {
				t.Fatalf("round trip changed %s: %q into %q", k, v, again[k])
			}
		}
	})
}
