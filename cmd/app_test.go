package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestRemoteInternalErrorLogged checks that a command sent over SSH that
// fails inside the server tells the user the server log has the details,
// and that the server log does.
func TestRemoteInternalErrorLogged(t *testing.T) {
	var stderr bytes.Buffer
	var logged []string
	env := &Env{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &stderr, Remote: true,
		Client: func() (*Client, error) { return nil, errors.New("dial unix /secret/api.sock: refused") },
		Logf:   func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) },
	}
	if code := Run(env, []string{"apps"}); code != 1 {
		t.Fatalf("exit status %d, want 1", code)
	}
	if got := stderr.String(); got != " ▸    Internal server error: the server log has the details.\n" {
		t.Errorf("the user was told %q", got)
	}
	if len(logged) != 1 || logged[0] != "ssh command apps: dial unix /secret/api.sock: refused" {
		t.Errorf("server log = %q", logged)
	}
}

// TestUsageErrorsShown checks that a command line the library refuses
// before any command runs tells the user what is wrong with it, over SSH
// too, instead of pointing at the server log.
func TestUsageErrorsShown(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"pipelines:add", "p", "-a", "x"}, " ▸    Required flag \"stage\" not set\n"},
		{[]string{"apps", "--no-such-flag"}, " ▸    flag provided but not defined: -no-such-flag\n"},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		env := &Env{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &stderr, Remote: true,
			Client: func() (*Client, error) { return nil, errors.New("no server in this test") },
			Logf:   func(string, ...any) {},
		}
		if code := Run(env, c.args); code != 1 {
			t.Errorf("%v: exit status %d, want 1", c.args, code)
		}
		if got := stderr.String(); got != c.want {
			t.Errorf("%v: the user was told %q, want %q", c.args, got, c.want)
		}
	}
}
