package buildpacks

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"hako/engine"
)

// ReadAppJSON reads and checks the app.json at the root of the app in
// buildDir, through readAppFile (no link out of the app, no device, no
// file over engine.MaxAppJSON). No file gives nil and no error; a file
// the server will not read, or one that is not valid, an EINVALID error
// saying why.
func ReadAppJSON(buildDir string) (*engine.AppJSON, error) {
	data, err := readAppFile(buildDir, "app.json", engine.MaxAppJSON)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, engine.Errorf(engine.EINVALID, "app.json could not be read: %s.", refusal(err))
	}
	return engine.ParseAppJSON(data)
}

// appJSONFailure shows an app.json problem the Heroku way and returns it
// as an EBUILD error.
func appJSONFailure(err error) error {
	return fail(engine.ErrorMessage(err), "Fix app.json, commit it and push again.")
}

// checkAppJSONPack allows in app.json's buildpacks what .buildpacks
// allows (see checkAppPack).
func (b *Builder) checkAppJSONPack(spec string, i int) error {
	ok := builtinName(spec) != "" || b.isInstalled(spec)
	if !ok && isRemoteURL(spec) {
		ok = len(spec) <= maxAppPackURL && !strings.ContainsFunc(spec, func(r rune) bool { return r <= ' ' || r >= 0x7f })
	}
	if !ok {
		return fmt.Errorf("app.json: buildpacks[%d].url (%s) is not a buildpack an app may name: a built-in pack (heroku/go, heroku/nodejs, procfile), "+
			"the name of a pack installed on the server, or a remote git URL (https://..., at most %d characters, with an optional #ref).", i, quoteLine(spec), maxAppPackURL)
	}
	return nil
}

// ReadAppJSON implements engine.AppJSONReader with the package's
// ReadAppJSON, for the engine to read a review app's app.json before it
// makes the app.
func (b *Builder) ReadAppJSON(dir string) (*engine.AppJSON, error) { return ReadAppJSON(dir) }
