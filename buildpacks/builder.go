// Package buildpacks turns pushed source into slugs with Heroku's classic
// buildpack API, so that apps and third-party buildpacks written for
// Heroku build on hako unchanged. Built-in packs cover Go, Node.js and
// plain Procfile apps using the host's toolchains.
package buildpacks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"hako/engine"
)

// Builder runs buildpacks and keeps the slugs they produce. It holds no
// state between builds beyond its directories, so builds of different apps
// may run concurrently.
type Builder struct {
	slugDir  string
	workDir  string
	packsDir string
	// hostEnv is where the allowed host variables of a build come from.
	hostEnv func() []string
	// InstalledDir, when set, holds third-party packs the operator
	// installed (one directory each); apps name them in .buildpacks by
	// directory name, which works offline.
	InstalledDir string
	// SharedCache, when set, is a directory of the server's where the
	// builder keeps what it shares between apps' builds: the Go standard
	// library, compiled by a trusted step into a layer that isolated
	// builds see read-only under their app's own cache (see goCache).
	// Build steps never see the directory itself.
	SharedCache string
	// Sandbox, when set, runs every step of a build (the buildpacks'
	// scripts and the fetching of buildpacks) isolated, as dynos run: each
	// step sees the build, cache, HOME and shared cache directories to
	// write, the buildpack and the config to read, and the host's system
	// and PATH directories. The Sandbox gives the directories to write to
	// the user the steps run as. Nil runs steps on the host as the
	// server's user.
	Sandbox engine.Sandbox
	// Limits bound the sources extracted, the build directory and the
	// slugs; zero fields mean engine's defaults.
	Limits engine.BuildLimits

	gocache goCacheState
}

var _ engine.Builder = (*Builder)(nil)

// New returns a Builder storing slugs in slugDir and building in workDir,
// where it also writes out the built-in buildpacks so that they run from
// real files like any other pack.
func New(slugDir, workDir string) (*Builder, error) {
	var err error
	if slugDir, err = filepath.Abs(slugDir); err != nil {
		return nil, err
	}
	if workDir, err = filepath.Abs(workDir); err != nil {
		return nil, err
	}
	for _, d := range []string{slugDir, workDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	packsDir, err := extractPacks(workDir)
	if err != nil {
		return nil, fmt.Errorf("write built-in buildpacks: %w", err)
	}
	return &Builder{slugDir: slugDir, workDir: workDir, packsDir: packsDir, hostEnv: os.Environ}, nil
}

// RemoveSlug deletes a slug's file; a slug already gone is not an error,
// so that deleting an app twice, or after a crash, works.
func (b *Builder) RemoveSlug(slugID string) error {
	if err := validSlugID(slugID); err != nil {
		return err
	}
	if err := os.Remove(b.slugPath(slugID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// failure prints a build failure the Heroku way (" !     " then details
// indented) and returns it as an EBUILD error carrying the first line.
func failure(out io.Writer, msg string, details ...string) error {
	fmt.Fprintf(out, " !     %s\n", msg)
	for _, d := range details {
		fmt.Fprintf(out, "       %s\n", d)
	}
	return engine.Errorf(engine.EBUILD, "%s", msg)
}

// Build runs the app's buildpacks over req.SourceDir (which it modifies)
// and stores the result as a slug. Output goes to req.Out as it happens;
// every failure is shown there and returned as an EBUILD error, and
// leaves neither a slug nor a temporary directory behind.
func (b *Builder) Build(ctx context.Context, req engine.BuildRequest) (*engine.BuildResult, error) {
	out := io.Writer(io.Discard)
	if req.Out != nil {
		out = &syncWriter{w: req.Out}
	}
	fi, err := os.Stat(req.SourceDir)
	if err != nil || !fi.IsDir() {
		return nil, engine.Errorf(engine.EINVALID, "The source to build is not a directory.")
	}
	buildDir, err := filepath.Abs(req.SourceDir)
	if err != nil {
		return nil, err
	}
	if empty, err := hasNoFiles(buildDir); err != nil {
		return nil, err
	} else if empty {
		return nil, failure(out, "Push rejected: the pushed commit has no files.",
			"Add your app's files (with a Procfile, go.mod or package.json), commit them and push again.")
	}

	tmp, err := os.MkdirTemp(b.workDir, "build-*")
	if err != nil {
		return nil, err
	}
	defer removeAll(tmp)
	home := filepath.Join(tmp, "home")
	s := &step{ctx: ctx, buildDir: buildDir, cacheDir: req.CacheDir, envDir: filepath.Join(tmp, "env"), home: home, out: out, sandbox: b.Sandbox, uid: req.UID, gid: req.GID}
	if s.cacheDir == "" {
		s.cacheDir = filepath.Join(tmp, "cache")
	}
	for _, d := range []string{s.cacheDir, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	// The app's cache is its own: the sandbox gives it to the app's user,
	// and no other user may look in.
	if err := os.Chmod(s.cacheDir, 0o700); err != nil {
		return nil, err
	}
	s.writable = []string{buildDir, s.cacheDir, home}
	if err := writeEnvDir(s.envDir, req.Config); err != nil {
		return nil, err
	}
	if b.Sandbox != nil {
		if err := shareEnvDir(s.envDir); err != nil {
			return nil, fmt.Errorf("let the build steps read the config: %w", err)
		}
	}
	extra := map[string]string{"HOME": home, "STACK": engine.Stack, "REQUEST_ID": requestID()}
	// The server never runs git over the pushed tree: a .git in an
	// uploaded source is the uploader's, configuration and hooks included.
	if req.Commit != "" {
		extra["SOURCE_VERSION"] = req.Commit
	}
	s.env = buildEnv(b.hostEnv(), extra)
	// Read before .slugignore may leave it out of the slug.
	appJSON, err := ReadAppJSON(buildDir)
	if err != nil {
		return nil, appJSONFailure(out, err)
	}
	if err := applySlugIgnore(buildDir); err != nil {
		if errors.Is(err, errAppFile) {
			return nil, failure(out, "The app's .slugignore file could not be read: "+refusal(err)+".",
				"Make it a regular file of the app (one pattern per line), commit it and push again.")
		}
		return nil, err
	}

	fmt.Fprintf(out, "-----> Building on the %s stack\n", engine.Stack)
	packs, names, err := b.selectPacks(s, tmp, req, appJSON)
	if err != nil {
		return nil, err
	}
	goReady := false
	for i, p := range packs {
		fmt.Fprintf(out, "-----> %s app detected\n", names[i])
		if b.isBuiltinGo(p) && !goReady {
			// From here on every step sees the Go build cache.
			dir, overlays, err := b.goCache(s, buildEnv(b.hostEnv(), nil))
			if err == errCanceled {
				return nil, failure(out, "Build canceled.")
			}
			if err != nil {
				return nil, fmt.Errorf("prepare the Go build cache: %w", err)
			}
			env := envMap(s.env)
			env["HAKO_GOCACHE"] = dir
			s.env, s.overlays, goReady = envList(env), overlays, true
		}
		if err := s.compile(p); err != nil {
			if err == errCanceled {
				return nil, failure(out, "Build canceled.")
			}
			return nil, failure(out, fmt.Sprintf("Push rejected, failed to compile %s app.", names[i]))
		}
		if i < len(packs)-1 {
			if err := s.loadExport(p); err != nil {
				return nil, failure(out, fmt.Sprintf("Push rejected, the export file of the %s buildpack failed.", names[i]))
			}
		}
	}

	types, err := b.processTypes(s, packs[len(packs)-1])
	if err != nil {
		return nil, err
	}

	lim := b.Limits.WithDefaults()
	if used, err := treeSize(buildDir); err != nil {
		return nil, err
	} else if used > lim.BuildBytes {
		return nil, failure(out, fmt.Sprintf("The build's files take %d MiB, more than this server allows (%d MiB, --build-disk).", used>>20, lim.BuildBytes>>20),
			"Leave out what the app does not need at run time (.slugignore), or raise the server's limit.")
	}
	fmt.Fprintln(out, "-----> Compressing...")
	id, size, err := writeSlug(buildDir, b.slugDir, lim.SlugBytes)
	var big *slugTooLarge
	if errors.As(err, &big) {
		// Heroku's words.
		return nil, failure(out, fmt.Sprintf("Compiled slug size: %s is too large (max is %dM).", formatSize(big.size), lim.SlugBytes>>20),
			"See: https://devcenter.heroku.com/articles/slug-size")
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "       Done: %s\n", formatSize(size))
	return &engine.BuildResult{SlugID: id, Size: size, Buildpack: names[len(names)-1], ProcessTypes: types, AppJSON: appJSON}, nil
}

// selectPacks returns the packs to run with the names they detected as:
// the ones the request or the app's .buildpacks file lists, each of which
// must accept the app, or else the ones its app.json lists, or else the
// first built-in pack that detects it.
func (b *Builder) selectPacks(s *step, tmp string, req engine.BuildRequest, appJSON *engine.AppJSON) ([]*pack, []string, error) {
	specs, fromApp := req.Buildpacks, false
	var lines []int // where each of specs is in .buildpacks
	if len(specs) == 0 {
		var err error
		if specs, lines, err = readBuildpacksFile(s.buildDir); err != nil {
			return nil, nil, failure(s.out, "The app's .buildpacks file could not be read: "+refusal(err)+".",
				"Make it a regular file of the app (one buildpack per line), commit it and push again.")
		}
		fromApp = true
		if len(specs) == 0 && appJSON != nil && len(appJSON.Buildpacks) > 0 {
			specs = appJSON.Buildpacks
			for i, spec := range specs {
				if err := b.checkAppJSONPack(spec, i); err != nil {
					return nil, nil, failure(s.out, err.Error())
				}
				lines = append(lines, 0)
			}
		}
	}
	if len(specs) == 0 {
		for _, name := range builtinOrder {
			p := &pack{spec: name, dir: filepath.Join(b.packsDir, name)}
			detected, ok, err := s.detect(p)
			if err == errCanceled {
				return nil, nil, failure(s.out, "Build canceled.")
			}
			if err != nil {
				return nil, nil, err
			}
			if ok {
				return []*pack{p}, []string{detected}, nil
			}
		}
		return nil, nil, failure(s.out, "No default language could be detected for this app.",
			`Add a Procfile (with a line such as "web: ./server"), a go.mod or a package.json,`,
			"or set a buildpack for the app (its .buildpacks file lists one per line).")
	}
	var packs []*pack
	var names []string
	for i, spec := range specs {
		if fromApp && lines[i] > 0 {
			if err := b.checkAppPack(spec, lines[i]); err != nil {
				return nil, nil, failure(s.out, err.Error())
			}
		}
	}
	for _, spec := range specs {
		p, err := b.resolvePack(s, spec, tmp, fromApp)
		if err != nil {
			if s.ctx.Err() != nil {
				return nil, nil, failure(s.out, "Build canceled.")
			}
			return nil, nil, failure(s.out, err.Error())
		}
		name, ok, err := s.detect(p)
		if err == errCanceled {
			return nil, nil, failure(s.out, "Build canceled.")
		}
		if err != nil {
			return nil, nil, failure(s.out, fmt.Sprintf("Buildpack %s could not run its bin/detect: %v.", spec, err))
		}
		if !ok {
			return nil, nil, failure(s.out, fmt.Sprintf("App not compatible with buildpack: %s", spec),
				"Its bin/detect does not recognise the app: push the files it needs, or use another buildpack.")
		}
		packs = append(packs, p)
		names = append(names, name)
	}
	return packs, names, nil
}

// processTypes runs the last pack's release and works out the process
// types: the defaults it declares, overridden by the app's Procfile. Its
// config_vars become defaults in .profile.d.
func (b *Builder) processTypes(s *step, last *pack) (map[string]string, error) {
	rel, err := s.release(last)
	if err == errCanceled {
		return nil, failure(s.out, "Build canceled.")
	}
	if err != nil {
		return nil, failure(s.out, fmt.Sprintf("Push rejected, the buildpack's bin/release failed: %v.", err))
	}
	if err := writeConfigVarsProfile(s.buildDir, rel.ConfigVars); err != nil {
		// The build left .profile.d unusable (a link out of the app, say).
		return nil, failure(s.out, "Push rejected, the release's config vars could not be saved.", err.Error())
	}
	fmt.Fprintln(s.out, "-----> Discovering process types")
	types := map[string]string{}
	defaults := map[string]string{}
	for k, v := range rel.DefaultProcessTypes {
		if v != "" {
			defaults[k] = v
			types[k] = v
		}
	}
	data, err := readAppFile(s.buildDir, "Procfile", maxProcfile)
	switch {
	case err == nil:
		declared, err := engine.ParseProcfile(string(data))
		if err != nil {
			return nil, failure(s.out, engine.ErrorMessage(err), "Fix the Procfile, commit it and push again.")
		}
		for k, v := range declared {
			types[k] = v
		}
		fmt.Fprintf(s.out, "       Procfile declares types -> %s\n", strings.Join(engine.ProcessTypeNames(declared), ", "))
		if len(defaults) > 0 && len(declared) < len(types) {
			fmt.Fprintf(s.out, "       Default types for buildpack -> %s\n", strings.Join(engine.ProcessTypeNames(defaults), ", "))
		}
	case errors.Is(err, fs.ErrNotExist):
		if len(defaults) > 0 {
			fmt.Fprintf(s.out, "       Default types for buildpack -> %s\n", strings.Join(engine.ProcessTypeNames(defaults), ", "))
		}
	default:
		return nil, failure(s.out, "The Procfile could not be read: "+refusal(err)+".", "Make it a regular file of the app, commit it and push again.")
	}
	if len(types) == 0 {
		return nil, failure(s.out, `No process types: add a Procfile with a line such as "web: ./server"`)
	}
	return types, nil
}

// readBuildpacksFile returns the packs listed in the app's .buildpacks
// file, one per line, blank lines and # comments skipped, with the line
// number of each. No file lists none; a file the server will not read
// (see readAppFile) is an error.
func readBuildpacksFile(dir string) (specs []string, lines []int, err error) {
	data, err := readAppFile(dir, ".buildpacks", maxControlFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for i, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			specs = append(specs, line)
			lines = append(lines, i+1)
		}
	}
	return specs, lines, nil
}

// refusal says why an app file could not be read, in the words of
// readAppFile's refusals, and nothing more (an unexpected error of the
// server's is not the pusher's to see).
func refusal(err error) string {
	var e *appFileError
	if errors.As(err, &e) {
		return "it " + e.why
	}
	return "the server could not read it"
}

// hasNoFiles reports whether dir holds nothing but (maybe) .git: an empty
// commit, which no buildpack can do anything with.
func hasNoFiles(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if e.Name() != ".git" {
			return false, nil
		}
	}
	return true, nil
}

// requestID returns a random ID for REQUEST_ID, which buildpacks use to
// tag what they log.
func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
