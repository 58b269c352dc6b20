package buildpacks

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/klauspost/compress/flate"
)

// slugLevel is the gzip level of slugs: klauspost's fastest, which packs
// several times faster than gzip's default for an archive a few percent
// larger. Slugs stay gzip (any gunzip reads them, as Heroku's do), made
// of members compressed in parallel (see memberWriter).
const slugLevel = flate.BestSpeed

// slugBlock is the size of the blocks pgzip inflates ahead when reading
// a gzip stream whose members do not say their length.
const slugBlock = 1 << 20

// slugIgnore is a parsed .slugignore: the gitignore-like subset Heroku
// documents. A pattern without "/" (such as "*.psd") matches a base name
// at any depth; one with "/" matches the whole path from the app's root;
// a trailing "/" restricts it to directories.
type slugIgnore struct {
	patterns []ignorePattern
}

type ignorePattern struct {
	glob    string
	dirOnly bool
	anchor  bool // match the whole relative path, not the base name
}

// parseSlugIgnore reads the patterns of a .slugignore file.
func parseSlugIgnore(data string) *slugIgnore {
	ig := &slugIgnore{}
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := ignorePattern{}
		if strings.HasSuffix(line, "/") {
			p.dirOnly = true
			line = strings.TrimRight(line, "/")
		}
		if strings.Contains(line, "/") {
			p.anchor = true
			line = strings.TrimLeft(line, "/")
		}
		if line == "" || line == "." || line == ".." {
			continue
		}
		p.glob = line
		ig.patterns = append(ig.patterns, p)
	}
	return ig
}

// match reports whether rel (slash-separated, relative to the app's root)
// is ignored.
func (ig *slugIgnore) match(rel string, isDir bool) bool {
	for _, p := range ig.patterns {
		if p.dirOnly && !isDir {
			continue
		}
		name := path.Base(rel)
		if p.anchor {
			name = rel
		}
		if ok, _ := path.Match(p.glob, name); ok {
			return true
		}
	}
	return false
}

// applySlugIgnore deletes what the app's .slugignore names from dir. As on
// Heroku it runs before the buildpacks, so that ignored files never reach
// the compile step nor the slug.
func applySlugIgnore(dir string) error {
	data, err := readAppFile(dir, ".slugignore", maxControlFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	ig := parseSlugIgnore(string(data))
	if len(ig.patterns) == 0 {
		return nil
	}
	var doomed []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == ".git" {
			return filepath.SkipDir
		}
		if ig.match(rel, d.IsDir()) {
			doomed = append(doomed, p)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range doomed {
		if err := removeAll(p); err != nil {
			return err
		}
	}
	return nil
}

// writeSlug archives dir as a gzipped tar in slugDir (members compressed
// in parallel that say their length, see memberWriter), named by the
// sha256 of the archive so that identical builds share one file. The
// archive is hashed while it is written to a temporary file, synced, then
// renamed, so a crash never leaves a partial slug under a valid name.
//
// A slug over max bytes is not kept: writeSlug returns a *slugTooLarge.
func writeSlug(dir, slugDir string, max int64) (id string, size int64, err error) {
	tmp, err := os.CreateTemp(slugDir, ".slug-*.tmp")
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	gz, err := newMemberWriter(io.MultiWriter(tmp, h), slugLevel, runtime.GOMAXPROCS(0))
	if err != nil {
		return "", 0, err
	}
	closed := false
	defer func() {
		if !closed {
			gz.Close() // its goroutines end; what it wrote is removed
		}
	}()
	// The tar writer's many small writes (a 512-byte header per entry)
	// reach the compressor in large ones.
	bw := bufio.NewWriterSize(gz, 256<<10)
	tw := tar.NewWriter(bw)
	if err = addTree(tw, dir); err != nil {
		return "", 0, err
	}
	if err = tw.Close(); err != nil {
		return "", 0, err
	}
	if err = bw.Flush(); err != nil {
		return "", 0, err
	}
	closed = true
	if err = gz.Close(); err != nil {
		return "", 0, err
	}
	if err = tmp.Sync(); err != nil {
		return "", 0, err
	}
	fi, err := tmp.Stat()
	if err != nil {
		return "", 0, err
	}
	if err = tmp.Close(); err != nil {
		return "", 0, err
	}
	if max > 0 && fi.Size() > max {
		return "", 0, &slugTooLarge{size: fi.Size()}
	}
	id = hex.EncodeToString(h.Sum(nil))
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return "", 0, err
	}
	if err = os.Rename(tmp.Name(), filepath.Join(slugDir, id+".tgz")); err != nil {
		return "", 0, err
	}
	if d, derr := os.Open(slugDir); derr == nil {
		d.Sync()
		d.Close()
	}
	return id, fi.Size(), nil
}

// slugTooLarge is a compiled slug over the limit, which was not kept.
type slugTooLarge struct{ size int64 }

func (e *slugTooLarge) Error() string {
	return "compiled slug size: " + formatSize(e.size) + " is too large"
}

// treeSize adds up the sizes of the regular files under dir, as the
// slug will hold them (.git left out).
func treeSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == ".git" && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measure the build directory: %w", err)
	}
	return total, nil
}

// addTree writes every directory, regular file and symlink under dir to
// tw, in lexical order, leaving out .git. Owners are dropped (the dyno
// user owns nothing in the slug) and modes are kept.
func addTree(tw *tar.Writer, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		if d.Name() == ".git" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		switch {
		case info.Mode().IsRegular(), info.IsDir():
		case info.Mode()&fs.ModeSymlink != 0:
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			return nil // sockets, fifos and devices have no place in a slug
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.ModTime = hdr.ModTime.Truncate(time.Second)
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		hdr.Format = tar.FormatUnknown
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := io.Copy(tw, f)
		if err == nil && n != hdr.Size {
			err = fmt.Errorf("%s changed size while being archived", hdr.Name)
		}
		return err
	})
}

// formatSize shows a slug size as Heroku does: megabytes with one decimal,
// or whole kilobytes below one megabyte, where 0.0M would say nothing.
func formatSize(n int64) string {
	const mib = 1 << 20
	if n >= mib {
		return fmt.Sprintf("%.1fM", float64(n)/mib)
	}
	return fmt.Sprintf("%dK", (n+1023)/1024)
}

// removeAll removes p like os.RemoveAll, first making read-only
// directories writable when that is what stops it (module caches and some
// package managers leave such trees).
func removeAll(p string) error {
	if err := os.RemoveAll(p); err == nil {
		return nil
	}
	filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(q, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}
