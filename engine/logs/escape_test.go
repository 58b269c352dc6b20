package logs

import "testing"

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain text, café ☕", "plain text, café ☕"},
		{"tab\tstays", "tab\tstays"},
		{"\x1b[2J\x1b]0;pwned\x07", `\x1b[2J\x1b]0;pwned\x07`},
		{"cr\rover", `cr\x0dover`},
		{"nl\ninside", `nl\x0ainside`},
		{"del\x7f", `del\x7f`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"bad \x9b utf-8 \xff", `bad \x9b utf-8 \xff`},
		{`back\slash`, `back\slash`},
		{"", ""},
	} {
		if got := Escape(c.in); got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
