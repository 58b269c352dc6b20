package buildpacks

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"hako/engine"
)

// slugIDRe is the only shape a slug ID may have: IDs come from the API and
// the store and end up in file names, so anything else is refused before
// it reaches the filesystem.
var slugIDRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

func validSlugID(id string) error {
	if !slugIDRe.MatchString(id) {
		return engine.Errorf(engine.EINVALID, "Slug ID %q is invalid: it must be 64 lowercase hexadecimal digits.", id)
	}
	return nil
}

func (b *Builder) slugPath(id string) string {
	return filepath.Join(b.slugDir, id+".tgz")
}

// Unpack extracts a stored slug into dest, which it creates and which must
// not exist. Slugs are treated as untrusted: entries with absolute names,
// names climbing out with "..", paths that go through a symlink leading
// outside dest, hard links and device files are refused, set-id bits are
// dropped, and directories are made readable by everyone so that an
// unprivileged dyno user can run the app. On failure dest is removed.
func (b *Builder) Unpack(slugID, dest string) error {
	return b.unpack(slugID, dest, nil)
}

// UnpackOwned is Unpack giving every entry to uid:gid as it creates it,
// and dest, last, to uid:gid with mode 0700: what a supervisor running
// dynos as the app's user does to the unpacked tree after the fact
// (engine.DirPreparer), without a second walk over tens of thousands of
// files.
func (b *Builder) UnpackOwned(slugID, dest string, uid, gid int) error {
	if uid < 0 || gid < 0 {
		return fmt.Errorf("unpack slug %s: invalid owner %d:%d", slugID, uid, gid)
	}
	return b.unpack(slugID, dest, &owner{uid: uid, gid: gid})
}

func (b *Builder) unpack(slugID, dest string, own *owner) (err error) {
	if err := validSlugID(slugID); err != nil {
		return err
	}
	f, err := os.Open(b.slugPath(slugID))
	if errors.Is(err, fs.ErrNotExist) {
		return engine.Errorf(engine.ENOTFOUND, "Slug %s not found.", slugID)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	lim := b.Limits.WithDefaults()
	if err := unpackOwned(f, dest, sizeLimit{bytes: lim.BuildBytes, entries: 4 * lim.SourceEntries}, own); err != nil {
		return fmt.Errorf("unpack slug %s: %w", slugID, err)
	}
	return nil
}

// ExtractSource extracts an app's source, a tar.gz a client uploaded
// (`hako builds:create`), into dest with the same care as a slug: it is
// untrusted input. dest is created and must not exist.
//
// It stops at the first entry past the limits (b.Limits: a small tar.gz
// may expand a thousandfold), before writing it, and removes what it
// wrote.
func (b *Builder) ExtractSource(r io.Reader, dest string) error {
	lim := b.Limits.WithDefaults()
	err := unpackInto(r, dest, sizeLimit{bytes: lim.SourceBytes, entries: lim.SourceEntries})
	var over *overLimit
	if errors.As(err, &over) {
		return engine.Errorf(engine.EINVALID, "The uploaded source is too large: %v. Leave out what the build does not need, or raise the server's --max-source.", err)
	}
	if err != nil {
		return engine.Errorf(engine.EINVALID, "The uploaded source is not a usable tar.gz: %v", err)
	}
	return nil
}

// sizeLimit bounds what an extraction may write: the bytes of its files
// and its entries.
type sizeLimit struct {
	bytes   int64
	entries int
}

// overLimit is the error of an extraction past its sizeLimit.
type overLimit struct {
	what  string
	limit string
}

func (e *overLimit) Error() string { return e.what + " (the limit is " + e.limit + ")" }

// counter tracks an extraction against its limit.
type counter struct {
	lim     sizeLimit
	bytes   int64
	entries int
}

// add counts an entry of size bytes, and says when it goes past the limit.
func (c *counter) add(size int64) error {
	c.entries++
	if c.lim.entries > 0 && c.entries > c.lim.entries {
		return &overLimit{what: fmt.Sprintf("it holds more than %d files", c.lim.entries), limit: fmt.Sprintf("%d files", c.lim.entries)}
	}
	if size < 0 {
		size = 0
	}
	c.bytes += size
	if c.lim.bytes > 0 && c.bytes > c.lim.bytes {
		return &overLimit{what: fmt.Sprintf("it expands to more than %d MiB", c.lim.bytes>>20), limit: fmt.Sprintf("%d MiB", c.lim.bytes>>20)}
	}
	return nil
}

// owner is who an extraction gives its entries to.
type owner struct{ uid, gid int }

// unpackInto creates dest and extracts the tar.gz r into it, removing
// dest again on failure.
func unpackInto(r io.Reader, dest string, lim sizeLimit) error {
	return unpackOwned(r, dest, lim, nil)
}

// unpackOwned is unpackInto giving every entry to own, when not nil, and
// dest last, closed to every other user (mode 0700).
func unpackOwned(r io.Reader, dest string, lim sizeLimit, own *owner) (err error) {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dest, 0o755); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			removeAll(dest)
		}
	}()
	if err := os.Chmod(dest, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := extract(r, root, lim, own); err != nil {
		return err
	}
	if own != nil {
		if err := os.Lchown(dest, own.uid, own.gid); err != nil {
			return err
		}
		return os.Chmod(dest, 0o700)
	}
	return nil
}

// entryName cleans a tar entry name and refuses the ones that would land
// outside the destination.
func entryName(raw string) (string, error) {
	if raw == "" || strings.HasPrefix(raw, "/") || strings.Contains(raw, "\x00") || strings.Contains(raw, `\`) {
		return "", fmt.Errorf("entry %q: absolute or malformed name", raw)
	}
	name := path.Clean(raw)
	if name == ".." || strings.HasPrefix(name, "../") {
		return "", fmt.Errorf("entry %q: name leaves the destination", raw)
	}
	for _, elem := range strings.Split(raw, "/") {
		if elem == ".." {
			return "", fmt.Errorf("entry %q: names with \"..\" are refused", raw)
		}
	}
	return name, nil
}

// replaceable removes a non-directory already at name, so that a later
// entry replaces an earlier one instead of writing through it.
func replaceable(root *os.Root, name string) error {
	fi, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("entry %q: a directory is already there", name)
	}
	return root.Remove(name)
}
