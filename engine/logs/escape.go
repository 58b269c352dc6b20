package logs

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape makes a log line safe to print on a terminal: an app's output
// could otherwise move the cursor, retitle the window, rewrite earlier
// lines or, on some terminals, have keystrokes answered back. C0 control
// characters but the tab, DEL and C1 controls (U+0080 to U+009F) become
// \xNN or \u00NN, and bytes that are not UTF-8 \xNN, which some terminals
// would read as C1 controls; a backslash stays as it is. The JSON output
// and drains keep lines as the app wrote them.
func Escape(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 && r != '\t', r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// appendEscaped appends Escape(s) to b.
func appendEscaped(b []byte, s string) []byte {
	if !needsEscape(s) {
		return append(b, s...)
	}
	return append(b, Escape(s)...)
}

// needsEscape reports whether Escape would change s.
func needsEscape(s string) bool {
	// Most lines are printable ASCII: a byte loop settles them.
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			ascii = false
			break
		}
		if c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	if ascii {
		return false
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r < 0x20 && r != '\t' || r >= 0x7f && r <= 0x9f {
			return true
		}
		i += size
	}
	return false
}
