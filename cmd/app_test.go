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
