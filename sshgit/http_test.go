package sshgit

import "testing"

// TestIsGitPath sends git's paths, traversals included, to the git
// handler (which refuses all but /APP.git/…) and leaves the API's alone.
func TestIsGitPath(t *testing.T) {
	for path, want := range map[string]bool{
		"/myapp.git/info/refs":              true,
		"/myapp.git/git-receive-pack":       true,
		"/myapp.git/HEAD":                   true,
		"/myapp.git":                        true,
		"/../myapp.git/info/refs":           true,
		"/x/../myapp.git/git-upload-pack":   true,
		"/apps/myapp/../../x.git/info/refs": true,
		"/apps":                             false,
		"/apps/myapp/releases":              false,
		"/users/bob.git/apps":               false,
		"/account/keys/laptop.git":          false,
	} {
		if got := IsGitPath(path); got != want {
			t.Errorf("IsGitPath(%q) = %v, want %v", path, got, want)
		}
	}
}
