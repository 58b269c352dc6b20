package cmd

import (
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzShellQuote checks that what `config --shell` prints gives back the
// exact value in a real shell.
func FuzzShellQuote(f *testing.F) {
	for _, s := range []string{"", "plain", "it's", "a b\nc", `$HOME "q" \ ` + "`x`", "=;&|"} {
		f.Add(s)
	}
	if _, err := exec.LookPath("sh"); err != nil {
		f.Skip("no sh")
	}
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsRune(v, 0) || !utf8.ValidString(v) {
			return // config vars refuse these
		}
		out, err := exec.Command("sh", "-c", "V="+ShellQuote(v)+`; printf %s "$V"`).Output()
		if err != nil {
			t.Fatalf("sh failed on %q: %v", v, err)
		}
		if string(out) != v {
			t.Fatalf("round trip of %q gave %q", v, out)
		}
	})
}

func TestReorder(t *testing.T) {
	app := NewApp(&Env{Remote: true})
	cases := []struct {
		in   []string
		want string
	}{
		{[]string{"apps:info", "x", "-a", "y"}, "apps:info -a y -- x"},
		{[]string{"config:set", "A=1", "--app=y", "B=-2"}, "config:set --app=y -- A=1 B=-2"},
		{[]string{"ps", "--json", "-a", "y"}, "ps --json -a y"},
		{[]string{"config:set", "-a", "y", "--", "-X=1"}, "config:set -a y -- -X=1"},
		{[]string{"run", "ls", "-la", "-a", "y"}, "run -a y -- ls -la"},
		{[]string{"run", "-a", "y", "--no-tty", "bash", "-c", "echo hi"}, "run -a y --no-tty -- bash -c echo hi"},
	}
	for _, c := range cases {
		if got := strings.Join(reorder(app, c.in), " "); got != c.want {
			t.Errorf("reorder(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBuildCommand(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{[]string{"echo hi | wc -c"}, "echo hi | wc -c"},
		{[]string{"bash", "-c", "echo hi"}, "bash -c 'echo hi'"},
		{[]string{"ls", "-la"}, "ls -la"},
		{[]string{"echo", "it's"}, `echo 'it'\''s'`},
	}
	for _, c := range cases {
		if got := buildCommand(c.in); got != c.want {
			t.Errorf("buildCommand(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRemoteApp(t *testing.T) {
	for in, want := range map[string]string{
		"ssh://git@127.0.0.1:2222/my-app.git": "my-app",
		"git@127.0.0.1:my-app.git":            "my-app",
		"https://example.test/other":          "",
		"ssh://git@h/../Bad.git":              "",
		"":                                    "",
	} {
		if got := remoteApp(in); got != want {
			t.Errorf("remoteApp(%q) = %q, want %q", in, got, want)
		}
	}
}
