package buildpacks

import "testing"

func TestBuiltinName(t *testing.T) {
	for spec, want := range map[string]string{
		"go": "go", "heroku/go": "go", "urn:buildpack:heroku/go": "go", "urn:buildpack:go": "go",
		"HEROKU/NodeJS": "nodejs", "urn:buildpack:heroku/procfile": "procfile",
		"heroku/ruby": "", "urn:buildpack:heroku/ruby": "", "urn:buildpack:": "", "other/go": "", "urn:go": "",
	} {
		if got := builtinName(spec); got != want {
			t.Errorf("builtinName(%q) = %q, want %q", spec, got, want)
		}
	}
}
