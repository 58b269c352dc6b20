package buildpacks

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"hako/engine"
)

// packFS holds the built-in buildpacks. They are ordinary classic
// buildpacks (shell scripts under bin/) so that they run exactly like a
// third-party pack and can be read, copied or replaced by users.
//
//go:embed packs
var packFS embed.FS

// builtinOrder is the order in which built-in packs are tried when the app
// names none: the most specific marker file first, the Procfile last, as
// any app can have one.
var builtinOrder = []string{"go", "nodejs", "procfile"}

// builtinMarkers are what the built-in packs' bin/detect look for: one
// regular file at the app's root, and the name they then print. A push
// tries them in turn, and each run of a script is a sandboxed process
// (about 20 ms, most of a Procfile app's build), so they are answered
// here when the answer is plain: the name is a regular file (detected)
// or nothing (not). Anything else there, a symlink above all (which the
// sandbox resolves in its own root), is left to the script.
// TestBuiltinMarkersMatchScripts holds them to the scripts.
var builtinMarkers = map[string]struct{ file, name string }{
	"go":       {"go.mod", "Go"},
	"nodejs":   {"package.json", "Node.js"},
	"procfile": {"Procfile", "Procfile"},
}

// The built-in procfile pack builds nothing: its bin/compile prints
// procfileCompiled and its bin/release writes procfileRelease, which are
// answered here too rather than by two more sandboxed processes
// (TestProcfilePackAnsweredHere holds them to the scripts).
const (
	procfileCompiled = "-----> Nothing to compile: the app runs as pushed, as its Procfile says\n"
	procfileRelease  = "--- {}\n"
)

// isBuiltinProcfile reports whether p is the built-in procfile pack.
func isBuiltinProcfile(p *pack) bool { return p.builtin && p.spec == "procfile" }

// detectBuiltin answers a built-in pack's bin/detect for the app in
// buildDir without running it, when known is true.
func detectBuiltin(spec, buildDir string) (name string, ok, known bool) {
	m, found := builtinMarkers[spec]
	if !found {
		return "", false, false
	}
	fi, err := os.Lstat(filepath.Join(buildDir, m.file))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", false, true
	case err != nil:
		return "", false, false
	case fi.Mode().IsRegular():
		return m.name, true, true
	case fi.IsDir():
		return "", false, true
	}
	return "", false, false
}

// pack is a buildpack ready to run: a directory with bin/detect,
// bin/compile and bin/release.
type pack struct {
	spec    string // as the user gave it, for messages
	dir     string
	builtin bool // one of hako's own (spec is its name)
}

// extractPacks writes the embedded packs under workDir, in a directory
// named by the hash of their content so that a new hako version gets its
// own copy and an unchanged one is written only once. The copy is made in
// a temporary directory and renamed into place, so a half-written pack is
// never used.
func extractPacks(workDir string) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(packFS, "packs", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := packFS.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", err
	}
	dir := filepath.Join(workDir, "packs-"+hex.EncodeToString(h.Sum(nil))[:16])
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(workDir, ".packs-*")
	if err != nil {
		return "", err
	}
	defer removeAll(tmp) // a no-op once renamed
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	err = fs.WalkDir(packFS, "packs", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(tmp, filepath.FromSlash(strings.TrimPrefix(strings.TrimPrefix(p, "packs"), "/")))
		if d.IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chmod(target, 0o755)
		}
		data, err := packFS.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, data, 0o755); err != nil {
			return err
		}
		return os.Chmod(target, 0o755)
	})
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process may have won the race with the same content.
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return dir, nil
		}
		return "", err
	}
	return dir, nil
}

// builtinName maps the names users give built-in packs (including
// Heroku's "heroku/go" style and its urn:buildpack:heroku/go) to ours;
// "" when spec is not one.
func builtinName(spec string) string {
	name := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(spec), "urn:buildpack:"), "heroku/")
	for _, b := range builtinOrder {
		if name == b {
			return b
		}
	}
	return ""
}

// isGitURL reports whether spec names a repository to clone rather than a
// directory.
func isGitURL(spec string) bool {
	return strings.Contains(spec, "://") || strings.HasPrefix(spec, "git@") || strings.HasSuffix(strings.SplitN(spec, "#", 2)[0], ".git")
}

// installedName is what an app may call a pack installed on the server.
var installedName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// isRemoteURL reports whether spec is a git URL of another host.
func isRemoteURL(spec string) bool {
	for _, p := range []string{"https://", "http://", "ssh://", "git://", "git@"} {
		if strings.HasPrefix(spec, p) {
			return true
		}
	}
	return false
}

// resolvePack turns a buildpack into a directory: a built-in name, a pack
// installed in Builder.InstalledDir, an existing directory, or a git URL
// (with an optional "#ref") cloned shallowly into tmp, by a step that can
// write only there and in its HOME. An app's own .buildpacks file
// (fromApp) is the pusher's input: it may not name paths or repositories
// on the server, only built-in or installed packs and remote URLs. The
// error is a sentence for the pusher.
func (b *Builder) resolvePack(s *step, spec, tmp string, fromApp bool) (*pack, error) {
	ctx, out := s.ctx, s.out
	// A registry name given as Heroku's urn (urn:buildpack:heroku/go) is
	// that name: the checks below see what it names.
	spec = strings.TrimPrefix(strings.TrimSpace(spec), engine.BuildpackURN)
	if name := builtinName(spec); name != "" {
		return &pack{spec: name, dir: filepath.Join(b.packsDir, name), builtin: true}, nil
	}
	if b.InstalledDir != "" && installedName.MatchString(spec) {
		dir := filepath.Join(b.InstalledDir, spec)
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return checkPack(spec, dir)
		}
	}
	if fromApp && !isRemoteURL(spec) {
		// resolveAppPack checked this already.
		return nil, fmt.Errorf("Buildpack %s is not something an app's .buildpacks may name.", quoteLine(spec))
	}
	if fi, err := os.Stat(spec); err == nil && fi.IsDir() {
		dir, err := filepath.Abs(spec)
		if err != nil {
			return nil, err
		}
		return checkPack(spec, dir)
	}
	if !isGitURL(spec) {
		return nil, fmt.Errorf("Buildpack %q was not found: give a directory, a built-in name (go, nodejs, procfile) or a git URL.", spec)
	}
	url, ref, _ := strings.Cut(spec, "#")
	if strings.HasPrefix(url, "-") {
		return nil, fmt.Errorf("Buildpack %q is not a valid git URL.", spec)
	}
	parent, err := os.MkdirTemp(tmp, "buildpack-*")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(parent, path.Base(strings.TrimSuffix(strings.TrimRight(url, "/"), ".git")))
	args := []string{"clone", "--quiet", "--depth", "1"}
	if ref != "" {
		args = append(args, "--branch", ref)
	}
	args = append(args, "--", url, dir)
	fmt.Fprintf(out, "-----> Fetching buildpack %s\n", spec)
	gitEnv := append(append([]string{}, s.env...), "GIT_TERMINAL_PROMPT=0")
	clone := engine.SandboxSpec{
		Name: "fetch", Argv: append([]string{"git"}, args...), Env: gitEnv, Dir: parent,
		Writable: []string{parent, s.home}, UID: s.uid, GID: s.gid,
	}
	if local := localRepo(url); local != "" && s.sandbox != nil {
		// The clone runs as another user than the repository's owner, and
		// git serves a repository of another user only when told to trust
		// it, on the command line of the process that serves it.
		clone.ReadOnly = []string{local}
		clone.Argv = slices.Insert(slices.Clone(clone.Argv), 2, "--upload-pack", "git -c 'safe.directory=*' upload-pack")
	}
	if err := runCmd(ctx, s.sandbox, clone, out, out); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("Buildpack %s could not be cloned: %v.", spec, err)
	}
	return checkPack(spec, dir)
}

// maxAppPackURL bounds a remote URL in an app's .buildpacks.
const maxAppPackURL = 512

// checkAppPack checks the pack on line n of the app's .buildpacks
// before anything is fetched or run: a built-in or installed pack, or a
// remote git URL (see resolvePack with fromApp). Whatever the line
// holds, the message shows its number and at most a short, cleaned piece
// of it; a URL must be short printable ASCII without spaces, so that the
// messages of git, which repeat it, cannot carry more.
func (b *Builder) checkAppPack(spec string, n int) error {
	ok := builtinName(spec) != "" || b.isInstalled(spec)
	if !ok && isRemoteURL(spec) {
		ok = len(spec) <= maxAppPackURL && !strings.ContainsFunc(spec, func(r rune) bool { return r <= ' ' || r >= 0x7f })
	}
	if !ok {
		return fmt.Errorf("Line %d of .buildpacks (%s) is not a buildpack an app may name: each line holds a built-in pack (go, nodejs, procfile), "+
			"the name of a pack installed on the server, or a remote git URL (https://..., git@..., at most %d characters, with an optional #ref).", n, quoteLine(spec), maxAppPackURL)
	}
	return nil
}

// isInstalled reports whether spec names a pack installed on the server.
func (b *Builder) isInstalled(spec string) bool {
	if b.InstalledDir == "" || !installedName.MatchString(spec) {
		return false
	}
	fi, err := os.Stat(filepath.Join(b.InstalledDir, spec))
	return err == nil && fi.IsDir()
}

// localRepo returns the directory a git URL names on this host (a
// file:// URL or an absolute path), which a sandboxed clone must be able to
// read, or "".
func localRepo(url string) string {
	p := strings.TrimPrefix(url, "file://")
	if !filepath.IsAbs(p) {
		return ""
	}
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// checkPack makes sure dir has the scripts of the classic buildpack API.
func checkPack(spec, dir string) (*pack, error) {
	for _, script := range []string{"detect", "compile"} {
		fi, err := os.Stat(filepath.Join(dir, "bin", script))
		if err != nil || fi.IsDir() {
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			return nil, fmt.Errorf("Buildpack %s has no bin/%s: it is not a classic buildpack.", spec, script)
		}
	}
	return &pack{spec: spec, dir: dir}, nil
}
