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
	"time"

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
	Sandbox Sandbox
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

// HasSlug implements engine.SlugKeeper: whether a slug's file exists.
func (b *Builder) HasSlug(slugID string) bool {
	if validSlugID(slugID) != nil {
		return false
	}
	_, err := os.Stat(b.slugPath(slugID))
	return err == nil
}

// failed is a build failure to show the pusher: a sentence, and lines
// of details saying what to do.
type failed struct {
	msg     string
	details []string
}

func (f *failed) Error() string { return f.msg }

// fail returns a failure for Build to show (see build.fail).
func fail(msg string, details ...string) error { return &failed{msg: msg, details: details} }

// build is one run of Build: what its steps share.
type build struct {
	b   *Builder
	ctx context.Context
	req engine.BuildRequest
	out io.Writer
	tmp string // the build's own directory under workDir, removed at its end
	s   *step
	// disk is the build's own disk, when the sandbox gives one (see
	// mountDisk); scratch is where remote buildpacks are fetched to, on
	// it, or else tmp. diskFull is set once the build filled it.
	disk     *buildDisk
	scratch  string
	diskFull bool

	packs []*pack
	names []string // what each of packs detected the app as
	types map[string]string
	// appJSON is the app's app.json, read before .slugignore may leave it
	// out of the slug; nil when it has none.
	appJSON *engine.AppJSON
	res     *engine.BuildResult
	// testPacks are where a test build copied the packs with a bin/test.
	testPacks []string
}

// Build runs the app's buildpacks over req.SourceDir (which it modifies)
// and stores the result as a slug. Output goes to req.Out as it happens;
// every failure is shown there and returned as an EBUILD error, and
// leaves neither a slug nor a temporary directory behind.
//
// A build is a row of steps, each of which stops at its first error; no
// step starts once the build is canceled, and a canceled build says only
// that (see build.fail), whatever the step it stopped in returned.
func (b *Builder) Build(ctx context.Context, req engine.BuildRequest) (*engine.BuildResult, error) {
	bd := &build{b: b, ctx: ctx, req: req, out: io.Discard}
	if req.Out != nil {
		bd.out = &syncWriter{w: req.Out}
	}
	defer bd.cleanUp()
	for _, run := range []func() error{bd.setUp, bd.choosePacks, bd.compile, bd.discoverProcessTypes, bd.keepTestPacks, bd.writeSlug} {
		err := ctx.Err() // no step starts once the build is canceled
		if err == nil {
			err = run()
		}
		if bd.disk != nil && (errors.Is(err, errDiskFull) || bd.disk.full()) {
			bd.diskFull = true
			err = bd.disk.diskFailure()
		}
		if err != nil {
			return nil, bd.fail(err)
		}
	}
	return bd.res, nil
}

// fail is where a build's error is shown, once: a build whose context
// ended failed because it was canceled, whatever its step says; a
// failure is printed the Heroku way (" !     " then details indented)
// and returned as an EBUILD error carrying its sentence; any other error
// is the server's, returned as it is.
func (bd *build) fail(err error) error {
	if bd.ctx.Err() != nil {
		err = fail("Build canceled.")
	}
	var f *failed
	if !errors.As(err, &f) {
		return err
	}
	fmt.Fprintf(bd.out, " !     %s\n", f.msg)
	for _, d := range f.details {
		fmt.Fprintf(bd.out, "       %s\n", d)
	}
	return engine.Errorf(engine.EBUILD, "%s", f.msg)
}

// cleanUp removes the build's own directory, once its disk (if any) is
// emptied of all but the cache and unmounted.
func (bd *build) cleanUp() {
	if bd.disk != nil {
		if err := bd.disk.release(bd.diskFull); err != nil {
			fmt.Fprintf(bd.out, " !     %v\n", err)
		}
	}
	if bd.tmp != "" {
		removeAll(bd.tmp)
	}
}

// setUp checks the source, makes the build's directories (cache, HOME,
// the config as an env dir), its environment, and applies .slugignore.
func (bd *build) setUp() error {
	b, req := bd.b, bd.req
	fi, err := os.Stat(req.SourceDir)
	if err != nil || !fi.IsDir() {
		return engine.Errorf(engine.EINVALID, "The source to build is not a directory.")
	}
	buildDir, err := filepath.Abs(req.SourceDir)
	if err != nil {
		return err
	}
	if empty, err := hasNoFiles(buildDir); err != nil {
		return err
	} else if empty {
		return fail("Push rejected: the pushed commit has no files.",
			"Add your app's files (with a Procfile, go.mod or package.json), commit them and push again.")
	}

	if bd.tmp, err = os.MkdirTemp(b.workDir, "build-*"); err != nil {
		return err
	}
	s := &step{ctx: bd.ctx, buildDir: buildDir, cacheDir: req.CacheDir, envDir: filepath.Join(bd.tmp, "env"), home: filepath.Join(bd.tmp, "home"), out: bd.out, sandbox: b.Sandbox, uid: req.UID, gid: req.GID, app: req.App}
	bd.s, bd.scratch = s, bd.tmp
	if s.cacheDir == "" {
		s.cacheDir = filepath.Join(bd.tmp, "cache")
	}
	if err := bd.mountDisk(); err != nil {
		return err
	}
	buildDir, home := s.buildDir, s.home
	for _, d := range []string{s.cacheDir, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// The app's cache is its own: the sandbox gives it to the app's user,
	// and no other user may look in.
	if err := os.Chmod(s.cacheDir, 0o700); err != nil {
		return err
	}
	s.writable = []string{buildDir, s.cacheDir, home}
	// Read before .slugignore may leave it out of the slug.
	if bd.appJSON, err = ReadAppJSON(buildDir); err != nil {
		return appJSONFailure(err)
	}
	config := req.Config
	if req.Test {
		config = testConfig(req.Config, bd.appJSON)
	}
	if err := writeEnvDir(s.envDir, config); err != nil {
		return err
	}
	if b.Sandbox != nil {
		if err := shareEnvDir(s.envDir); err != nil {
			return fmt.Errorf("let the build steps read the config: %w", err)
		}
	}
	extra := map[string]string{"HOME": home, "STACK": engine.Stack, "REQUEST_ID": requestID()}
	// The server never runs git over the pushed tree: a .git in an
	// uploaded source is the uploader's, configuration and hooks included.
	if req.Commit != "" {
		extra["SOURCE_VERSION"] = req.Commit
	}
	s.env = buildEnv(b.hostEnv(), extra)
	if err := applySlugIgnore(buildDir); err != nil {
		if errors.Is(err, errAppFile) {
			return fail("The app's .slugignore file could not be read: "+refusal(err)+".",
				"Make it a regular file of the app (one pattern per line), commit it and push again.")
		}
		return err
	}
	fmt.Fprintf(bd.out, "-----> Building on the %s stack\n", engine.Stack)
	return nil
}

// choosePacks picks the buildpacks (see selectPacks).
func (bd *build) choosePacks() error {
	var err error
	bd.packs, bd.names, err = bd.b.selectPacks(bd.s, bd.scratch, bd.req, bd.appJSON)
	return err
}

// compile runs each pack's bin/compile in turn, each seeing what the
// ones before it exported; the built-in Go pack and every step after it
// see the app's Go build cache.
func (bd *build) compile() error {
	b, s := bd.b, bd.s
	goReady := false
	for i, p := range bd.packs {
		fmt.Fprintf(bd.out, "-----> %s app detected\n", bd.names[i])
		if b.isBuiltinGo(p) && !goReady {
			// From here on every step sees the Go build cache.
			dir, overlays, err := b.goCache(s, buildEnv(b.hostEnv(), nil))
			if err != nil {
				return fmt.Errorf("prepare the Go build cache: %w", err)
			}
			env := envMap(s.env)
			env["HAKO_GOCACHE"] = dir
			s.env, s.overlays, goReady = envList(env), overlays, true
		}
		if err := s.compile(p, bd.req.Test); err != nil {
			if bd.req.Test {
				return fail(fmt.Sprintf("Test run errored: failed to compile %s app for testing.", bd.names[i]))
			}
			return fail(fmt.Sprintf("Push rejected, failed to compile %s app.", bd.names[i]))
		}
		if i < len(bd.packs)-1 {
			if err := s.loadExport(p); err != nil {
				return fail(fmt.Sprintf("Push rejected, the export file of the %s buildpack failed.", bd.names[i]))
			}
		}
	}
	return nil
}

// discoverProcessTypes works out the process types (see processTypes).
func (bd *build) discoverProcessTypes() error {
	var err error
	bd.types, err = bd.b.processTypes(bd.s, bd.packs[len(bd.packs)-1], bd.req.Test)
	return err
}

// writeSlug checks the built tree against the server's limits and packs
// it into a slug.
func (bd *build) writeSlug() error {
	lim := bd.b.Limits.WithDefaults()
	if used, err := treeSize(bd.s.buildDir); err != nil {
		return err
	} else if used > lim.BuildBytes {
		return fail(fmt.Sprintf("The build's files take %d MiB, more than this server allows (%d MiB, --build-disk).", used>>20, lim.BuildBytes>>20),
			"Leave out what the app does not need at run time (.slugignore), or raise the server's limit.")
	}
	fmt.Fprintln(bd.out, "-----> Compressing...")
	t0 := time.Now()
	id, size, err := writeSlug(bd.s.buildDir, bd.b.slugDir, lim.SlugBytes)
	var big *slugTooLarge
	if errors.As(err, &big) {
		// Heroku's words.
		return fail(fmt.Sprintf("Compiled slug size: %s is too large (max is %dM).", formatSize(big.size), lim.SlugBytes>>20),
			"See: https://devcenter.heroku.com/articles/slug-size")
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(bd.out, "       Done: %s\n", formatSize(size))
	bd.res = &engine.BuildResult{SlugID: id, Size: size, Buildpack: bd.names[len(bd.names)-1], ProcessTypes: bd.types, AppJSON: bd.appJSON, SlugTime: time.Since(t0), TestPacks: bd.testPacks}
	return nil
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
			return nil, nil, fail("The app's .buildpacks file could not be read: "+refusal(err)+".",
				"Make it a regular file of the app (one buildpack per line), commit it and push again.")
		}
		fromApp = true
		declared := []string(nil)
		if appJSON != nil {
			declared = appJSON.Buildpacks
			if req.Test && appJSON.Test != nil && len(appJSON.Test.Buildpacks) > 0 {
				declared = appJSON.Test.Buildpacks
			}
		}
		if len(specs) == 0 && len(declared) > 0 {
			specs = declared
			for i, spec := range specs {
				if err := b.checkAppJSONPack(spec, i); err != nil {
					return nil, nil, fail(err.Error())
				}
				lines = append(lines, 0)
			}
		}
	}
	if len(specs) == 0 {
		for _, name := range builtinOrder {
			p := &pack{spec: name, dir: filepath.Join(b.packsDir, name), builtin: true}
			detected, ok, err := s.detect(p)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				return []*pack{p}, []string{detected}, nil
			}
		}
		return nil, nil, fail("No default language could be detected for this app.",
			`Add a Procfile (with a line such as "web: ./server"), a go.mod or a package.json,`,
			"or set a buildpack for the app (its .buildpacks file lists one per line).")
	}
	var packs []*pack
	var names []string
	for i, spec := range specs {
		if fromApp && lines[i] > 0 {
			if err := b.checkAppPack(spec, lines[i]); err != nil {
				return nil, nil, fail(err.Error())
			}
		}
	}
	for _, spec := range specs {
		p, err := b.resolvePack(s, spec, tmp, fromApp)
		if err != nil {
			return nil, nil, fail(err.Error())
		}
		name, ok, err := s.detect(p)
		if err != nil {
			return nil, nil, fail(fmt.Sprintf("Buildpack %s could not run its bin/detect: %v.", spec, err))
		}
		if !ok {
			return nil, nil, fail(fmt.Sprintf("App not compatible with buildpack: %s", spec),
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
func (b *Builder) processTypes(s *step, last *pack, test bool) (map[string]string, error) {
	rel, err := s.release(last)
	if err != nil {
		return nil, fail(fmt.Sprintf("Push rejected, the buildpack's bin/release failed: %v.", err))
	}
	if err := writeConfigVarsProfile(s.buildDir, rel.ConfigVars); err != nil {
		// The build left .profile.d unusable (a link out of the app, say).
		return nil, fail("Push rejected, the release's config vars could not be saved.", err.Error())
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
			return nil, fail(engine.ErrorMessage(err), "Fix the Procfile, commit it and push again.")
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
		return nil, fail("The Procfile could not be read: "+refusal(err)+".", "Make it a regular file of the app, commit it and push again.")
	}
	if len(types) == 0 && !test {
		return nil, fail(`No process types: add a Procfile with a line such as "web: ./server"`)
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
