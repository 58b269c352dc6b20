package engine

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Slug archives come in two shapes. hako's builder writes the app's files
// at the archive's root ("Procfile", "bin/web"). Heroku's documentation
// for slugs made from scratch ("Deploying slugs using the Platform API")
// puts them under a top-level app directory (`tar czf slug.tgz ./app`),
// as do archives `heroku slugs:download` fetches; unpacked as they are,
// such a slug's files would land in /app/app and its commands would not
// find them. ImportSlug therefore stores a Heroku-shaped archive in
// hako's shape, the app/ prefix removed.
//
// The rule is unambiguous:
//   - an archive whose first gzip header carries hako's 'H','k' extra
//     subfield (the one buildpacks' slug writer gives every member) is
//     hako's, whatever it holds, and stored byte for byte: an exported
//     slug imported again keeps its sha256;
//   - otherwise an archive with at least one entry under app/ whose every
//     entry, besides "." and "./", is app, ./app or lies under app/ or
//     ./app/ (app itself, if listed, a directory) is Heroku's, and
//     rewritten. Names unpacking refuses in any archive (absolute, with
//     "..", malformed) count for neither shape: in an archive otherwise
//     Heroku's they are refused at import, as are devices and symlinks
//     leaving the app. A hard link (GNU tar's entry for a file's second
//     name, as in pnpm's node_modules) to an earlier regular file of the
//     app becomes a regular file with that file's contents and mode; a
//     hard link to anything else is refused;
//   - any other archive is stored as it came.

// hakoSubfield is the gzip extra subfield ID of hako's slug members
// (buildpacks/members.go, which the engine does not import).
var hakoSubfield = [2]byte{'H', 'k'}

// isHakoSlug reports whether the archive in f starts with a gzip header
// whose extra field (RFC 1952, FEXTRA) holds an 'H','k' subfield.
func isHakoSlug(f io.ReaderAt) bool {
	var hdr [12]byte
	if n, _ := f.ReadAt(hdr[:], 0); n < len(hdr) {
		return false
	}
	if hdr[0] != 0x1f || hdr[1] != 0x8b || hdr[2] != 8 || hdr[3]&0x04 == 0 {
		return false
	}
	extra := make([]byte, binary.LittleEndian.Uint16(hdr[10:]))
	if n, _ := f.ReadAt(extra, int64(len(hdr))); n < len(extra) {
		return false
	}
	for len(extra) >= 4 {
		if extra[0] == hakoSubfield[0] && extra[1] == hakoSubfield[1] {
			return true
		}
		n := 4 + int(binary.LittleEndian.Uint16(extra[2:]))
		if n > len(extra) {
			return false
		}
		extra = extra[n:]
	}
	return false
}

// shapeProbe watches an archive's entries go by and tells whether they
// all lie under app/, Heroku's shape.
type shapeProbe struct {
	sawApp, other bool
	// linked holds the names, in hako's shape, that hard links point
	// to: the rewrite keeps those files' contents aside to copy them.
	linked map[string]bool
}

// see takes the next entry into account.
func (p *shapeProbe) see(hdr *tar.Header) {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return // PAX metadata, no file
	}
	if hdr.Typeflag == tar.TypeLink {
		if name, err := herokuEntryName(hdr.Linkname); err == nil && name != "" {
			if p.linked == nil {
				p.linked = make(map[string]bool)
			}
			p.linked[name] = true
		}
	}
	switch rest, ok := cutApp(hdr.Name); {
	case hdr.Name == "." || hdr.Name == "./":
	case badName(hdr.Name) != nil:
		// Unpacking refuses it in any archive; in one otherwise Heroku's
		// the rewrite refuses it at once.
	case !ok:
		p.other = true
	case rest == "" && hdr.Typeflag != tar.TypeDir:
		p.other = true // a file named app is not an app directory
	default:
		p.sawApp = true
	}
}

// heroku reports whether every entry seen lies under app/.
func (p *shapeProbe) heroku() bool { return p.sawApp && !p.other }

// cutApp returns name without its app, app/, ./app or ./app/ prefix ("" for
// the app directory itself) and whether it had one.
func cutApp(name string) (rest string, ok bool) {
	name = strings.TrimPrefix(name, "./")
	if name == "app" || name == "app/" {
		return "", true
	}
	return strings.CutPrefix(name, "app/")
}

// badName refuses, in the words unpacking uses, an entry name that is
// absolute, malformed or climbs with "..".
func badName(raw string) error {
	if raw == "" || strings.HasPrefix(raw, "/") || strings.Contains(raw, "\x00") || strings.Contains(raw, `\`) {
		return fmt.Errorf("entry %q: absolute or malformed name", raw)
	}
	for _, elem := range strings.Split(raw, "/") {
		if elem == ".." {
			return fmt.Errorf("entry %q: names with \"..\" are refused", raw)
		}
	}
	return nil
}

// herokuEntryName is an entry's name in hako's shape, its app/ prefix
// removed ("" for the app directory itself), refusing as unpacking does
// names that are absolute, malformed or climb with "..".
func herokuEntryName(raw string) (string, error) {
	if err := badName(raw); err != nil {
		return "", err
	}
	rest, ok := cutApp(raw)
	if !ok {
		return "", fmt.Errorf("entry %q: not under app/", raw)
	}
	if rest = path.Clean(rest); rest == "." {
		return "", nil
	}
	return rest, nil
}

// checkLinkTarget refuses a symlink, at name in the app, whose target
// leaves the app: a relative one climbing above it, or an absolute one
// outside /app, where Heroku and hako both run the slug.
func checkLinkTarget(raw, name, target string) error {
	switch {
	case target == "" || strings.Contains(target, "\x00"):
		return fmt.Errorf("entry %q: malformed link target %q", raw, target)
	case strings.HasPrefix(target, "/"):
		if t := path.Clean(target); t != "/app" && !strings.HasPrefix(t, "/app/") {
			return fmt.Errorf("entry %q: link target %q leaves /app", raw, target)
		}
	default:
		if t := path.Join(path.Dir(name), target); t == ".." || strings.HasPrefix(t, "../") {
			return fmt.Errorf("entry %q: link target %q leaves the app", raw, target)
		}
	}
	return nil
}

// errSlugTooLarge is a rewritten slug larger than the slug limit.
var errSlugTooLarge = errors.New("slug too large")

// writeError is a failure to store the rewritten slug: the server's, not
// the archive's.
type writeError struct{ err error }

func (e *writeError) Error() string { return "write slug: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// limitedWriter fails once more than n bytes were written to it.
type limitedWriter struct {
	w io.Writer
	n int64
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if int64(len(b)) > l.n {
		return 0, errSlugTooLarge
	}
	n, err := l.w.Write(b)
	l.n -= int64(n)
	if err != nil {
		return n, &writeError{err}
	}
	return n, nil
}

// rewriteHerokuSlug writes the Heroku-shaped archive read from r to w in
// hako's shape: each entry's name without its app/ prefix, its kind,
// permissions, target and contents kept, owners dropped as the builder drops
// them. It refuses what unpacking would (names that are absolute or
// climb, kinds other than directories, regular files and symlinks) and
// symlinks that leave the app, and holds what it writes to maxBytes
// expanded, maxEntries entries and maxOut compressed. A hard link to an
// earlier regular file becomes a copy of it, counted again against the
// limits: the files named in linked (the probe's) are kept aside, in a
// file under spillDir, as they go by. Returns EINVALID.
func rewriteHerokuSlug(r io.Reader, w io.Writer, linked map[string]bool, spillDir string, maxBytes int64, maxEntries int, maxOut int64) error {
	gr, err := gzip.NewReader(r)
	if err != nil {
		return Errorf(EINVALID, "The slug is not a tar.gz: %v", err)
	}
	// The builder's level (buildpacks' slugLevel): a slug is written
	// once per import and read at each unpack, where speed matters more
	// than a few percent of size.
	gw, err := gzip.NewWriterLevel(&limitedWriter{w: w, n: maxOut}, gzip.BestSpeed)
	if err != nil {
		return fmt.Errorf("rewrite slug: %w", err)
	}
	tr, tw := tar.NewReader(gr), tar.NewWriter(gw)
	unusable := func(err error) error {
		var we *writeError
		switch {
		case errors.Is(err, errSlugTooLarge):
			return Errorf(EINVALID, "The slug is larger than this server allows (%d MB compressed).", maxOut>>20)
		case errors.As(err, &we):
			return fmt.Errorf("rewrite slug: %w", err)
		}
		return Errorf(EINVALID, "The slug is not a usable tar.gz: %v", err)
	}
	links := &linkCopies{seen: make(map[string]keptFile)}
	if len(linked) > 0 {
		if links.spill, err = os.CreateTemp(spillDir, ".links-*.tmp"); err != nil {
			return fmt.Errorf("rewrite slug: %w", err)
		}
		defer func() {
			links.spill.Close()
			os.Remove(links.spill.Name())
		}()
	}
	var total int64
	entries := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return unusable(err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader || hdr.Name == "." || hdr.Name == "./" {
			continue
		}
		name, err := herokuEntryName(hdr.Name)
		if err != nil {
			return unusable(err)
		}
		out := &tar.Header{Typeflag: hdr.Typeflag, Name: name, Mode: hdr.Mode & 0o7777, ModTime: hdr.ModTime.Truncate(time.Second)}
		var body io.Reader = tr
		switch hdr.Typeflag {
		case tar.TypeDir:
			if name == "" {
				continue // the app directory: the slug's root
			}
			out.Name += "/"
		case tar.TypeReg, tar.TypeRegA:
			out.Typeflag, out.Size = tar.TypeReg, hdr.Size
		case tar.TypeSymlink:
			if err := checkLinkTarget(hdr.Name, name, hdr.Linkname); err != nil {
				return unusable(err)
			}
			out.Linkname = hdr.Linkname
		case tar.TypeLink:
			kept, err := links.target(hdr)
			if err != nil {
				return unusable(err)
			}
			out.Typeflag, out.Size, out.Mode = tar.TypeReg, kept.size, kept.mode
			body = io.NewSectionReader(links.spill, kept.off, kept.size)
		default:
			return unusable(fmt.Errorf("entry %q: unsupported type %q (only directories, regular files, symlinks and hard links to earlier files may be in a slug)", hdr.Name, hdr.Typeflag))
		}
		if name == "" {
			return unusable(fmt.Errorf("entry %q: the app directory must be a directory", hdr.Name))
		}
		if entries++; entries > maxEntries {
			return Errorf(EINVALID, "The slug holds more than %d files.", maxEntries)
		}
		if total += out.Size; total > maxBytes {
			return Errorf(EINVALID, "The slug expands to more than %d MiB.", maxBytes>>20)
		}
		if err := tw.WriteHeader(out); err != nil {
			return unusable(err)
		}
		if err := links.copy(tw, body, name, out, linked[name]); err != nil {
			return unusable(err)
		}
	}
	if err := tw.Close(); err != nil {
		return unusable(err)
	}
	if err := gw.Close(); err != nil {
		return unusable(err)
	}
	return nil
}

// keptFile is where a regular file that hard links name lies in the
// spill file, or, with regular unset, an earlier entry of another kind.
type keptFile struct {
	regular   bool
	off, size int64
	mode      int64
}

// linkCopies follows the entries a rewrite has written, by name, so a
// hard link can be written as a copy of the file it names.
type linkCopies struct {
	seen  map[string]keptFile
	spill *os.File
	end   int64
}

// target is the earlier regular file the hard link hdr names, or why it
// may not be copied.
func (l *linkCopies) target(hdr *tar.Header) (keptFile, error) {
	name, err := herokuEntryName(hdr.Linkname)
	if err != nil || name == "" {
		return keptFile{}, fmt.Errorf("entry %q: hard link target %q is not a file of the app", hdr.Name, hdr.Linkname)
	}
	kept, ok := l.seen[name]
	switch {
	case !ok:
		return keptFile{}, fmt.Errorf("entry %q: hard link target %q is not an earlier file of the slug", hdr.Name, hdr.Linkname)
	case !kept.regular:
		return keptFile{}, fmt.Errorf("entry %q: hard link target %q is not a regular file", hdr.Name, hdr.Linkname)
	}
	return kept, nil
}

// copy writes an entry's contents from body to tw and notes what the
// entry is, keeping a regular file's contents in the spill file when a
// hard link names it (keep).
func (l *linkCopies) copy(tw io.Writer, body io.Reader, name string, out *tar.Header, keep bool) error {
	if out.Typeflag != tar.TypeReg || !keep || l.spill == nil {
		if out.Typeflag == tar.TypeReg {
			delete(l.seen, name) // no link names it: nothing kept
		} else {
			l.seen[name] = keptFile{}
		}
		_, err := io.Copy(tw, body)
		return err
	}
	n, err := io.Copy(io.MultiWriter(tw, io.NewOffsetWriter(l.spill, l.end)), body)
	if err != nil {
		return err
	}
	l.seen[name] = keptFile{regular: true, off: l.end, size: n, mode: out.Mode}
	l.end += n
	return nil
}

// rewriteImport stores the Heroku-shaped upload in src, from its start,
// in hako's shape in a file of its own beside it, copying the files
// named in linked for the hard links that name them, and records that
// file's size and checksum in got. The caller syncs, renames or removes
// the file. Returns EINVALID.
func (e *Engine) rewriteImport(src *os.File, linked map[string]bool, got *ImportedSlug, lim BuildLimits) (_ *os.File, err error) {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("import slug: %w", err)
	}
	out, err := os.CreateTemp(filepath.Dir(src.Name()), ".import-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("import slug: %w", err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(out, h)}
	if err := rewriteHerokuSlug(src, cw, linked, filepath.Dir(src.Name()), lim.BuildBytes, 4*lim.SourceEntries, lim.SlugBytes); err != nil {
		return nil, err
	}
	got.StoredSize, got.StoredChecksum = cw.n, "SHA256:"+hex.EncodeToString(h.Sum(nil))
	return out, nil
}

// countingWriter counts what is written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
