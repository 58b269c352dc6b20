package engine

import "testing"

func TestValidateBuildpack(t *testing.T) {
	for spec, ok := range map[string]bool{
		"go": true, "heroku/go": true, "urn:buildpack:heroku/go": true, "urn:buildpack:my-pack": true,
		"https://github.com/heroku/heroku-buildpack-go": true,
		"urn:buildpack:/etc":                            false, "urn:buildpack:../x": false, "urn:buildpack:": false, "/tmp/pack": false,
		"urn:buildpack:https://example.test/x": false, "../x": false,
	} {
		if err := ValidateBuildpack(spec); (err == nil) != ok {
			t.Errorf("ValidateBuildpack(%q) = %v, want ok %v", spec, err, ok)
		}
	}
}
