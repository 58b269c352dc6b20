package sshgit

import (
	"strings"
	"testing"

	"hako/engine"
)

func TestRepoApp(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"/myapp.git", "myapp"},
		{"myapp.git", "myapp"},
		{"'myapp.git'", "myapp"},
		{"../myapp.git", ""},
		{"/a/b.git", ""},
		{"myapp", ""},
		{"My-App.git", ""},
		{".git", ""},
		{"/../../etc/passwd.git", ""},
		{"x;rm.git", ""},
	}
	for _, c := range cases {
		got, err := repoApp(c.in)
		if c.want == "" {
			if err == nil || engine.ErrorCode(err) != engine.EINVALID {
				t.Errorf("repoApp(%q) = %q, %v; want EINVALID", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("repoApp(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestParseKey(t *testing.T) {
	const pub = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb3fOeMZjmEbmvUIA7YlRtHMeqrPyqbhh4g0ZA8ZyIH someone@example"
	k, err := ParseKey(pub + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.Fingerprint, "SHA256:") || k.Comment != "someone@example" || !strings.HasPrefix(k.PublicKey, "ssh-ed25519 AAAA") {
		t.Errorf("ParseKey = %+v", k)
	}
	for _, bad := range []string{"", "not a key", "-----BEGIN OPENSSH PRIVATE KEY-----", pub + "\n" + pub} {
		if _, err := ParseKey(bad); engine.ErrorCode(err) != engine.EINVALID {
			t.Errorf("ParseKey(%.20q) = %v, want EINVALID", bad, err)
		}
	}
}
