package cmd

import (
	"slices"
	"testing"
)

func TestRedisCLIArgs(t *testing.T) {
	cases := []struct {
		url        string
		argv, envs []string
	}{
		{"redis://default:pw@127.0.0.1:6380", []string{"-h", "127.0.0.1", "-p", "6380"}, []string{"REDISCLI_AUTH=pw"}},
		// The form older add-ons have: no user at all.
		{"redis://:pw@127.0.0.1:6380", []string{"-h", "127.0.0.1", "-p", "6380"}, []string{"REDISCLI_AUTH=pw"}},
		{"rediss://alice:p%40ss@db.example.test:6390/2", []string{"-h", "db.example.test", "-p", "6390", "--tls", "-n", "2", "--user", "alice"}, []string{"REDISCLI_AUTH=p@ss"}},
		{"redis://127.0.0.1", []string{"-h", "127.0.0.1"}, nil},
	}
	for _, c := range cases {
		argv, envs, err := redisCLIArgs(c.url)
		if err != nil || !slices.Equal(argv, c.argv) || !slices.Equal(envs, c.envs) {
			t.Errorf("redisCLIArgs(%q) = %q, %q, %v; want %q, %q", c.url, argv, envs, err, c.argv, c.envs)
		}
	}
	for _, bad := range []string{"postgres://x@h/db", "redis://", "::"} {
		if _, _, err := redisCLIArgs(bad); err == nil {
			t.Errorf("redisCLIArgs(%q) accepted", bad)
		}
	}
}
