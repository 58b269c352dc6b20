package buildpacks

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/pgzip"
)

// Extraction writes small files on a few goroutines while the archive is
// read on: creating a file costs the filesystem far more than the bytes
// do, and a node_modules holds tens of thousands of them.
const (
	extractWorkers = 4
	// smallFile is the size up to which a file is read whole and handed
	// to a worker; larger ones are copied on the reading goroutine.
	smallFile = 256 << 10
)

// extract writes the entries of the tar.gz r under root. Every operation
// goes through root, or through a root opened on a directory under it,
// each of which refuses to resolve any path outside itself, even through
// a symlink an earlier entry created; the name checks before it give
// clearer errors for the plain cases.
//
// Decompression runs ahead in its own goroutine (pgzip) and small files
// are written by workers. Entries are applied as if in order: an entry
// whose name an earlier file or symlink already took waits for every
// pending write, then replaces it; symlinks and directories are made on
// the reading goroutine before any later entry is queued.
func extract(r io.Reader, root *os.Root, lim sizeLimit) (err error) {
	gz, err := pgzip.NewReaderN(r, slugBlock, 4)
	if err != nil {
		return err
	}
	defer gz.Close()
	x := newExtraction(root)
	defer func() {
		if werr := x.finish(); err == nil {
			err = werr
		}
	}()
	tr := tar.NewReader(gz)
	count := counter{lim: lim}
	buf := make([]byte, smallFile)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := x.failed(); err != nil {
			return err
		}
		size := int64(0)
		if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
			size = hdr.Size
		}
		if err := count.add(size); err != nil {
			return err
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue // dest itself, created already
		}
		mode := fs.FileMode(hdr.Mode) & fs.ModePerm // no setuid, setgid or sticky bits
		if _, taken := x.names[name]; taken {
			if err := x.barrier(); err != nil {
				return err
			}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return err
			}
			if err := root.Chmod(name, mode|0o755); err != nil {
				return err
			}
		case tar.TypeReg, tar.TypeRegA:
			x.names[name] = struct{}{}
			if hdr.Size > smallFile {
				if err := extractFile(&x.dirs, name, mode, tr, buf); err != nil {
					return err
				}
				continue
			}
			data := x.pool.Get().(*[]byte)
			n, err := io.ReadFull(tr, (*data)[:hdr.Size])
			if err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			x.pending.Add(1)
			x.jobs <- fileJob{name: name, mode: mode, data: data, n: n}
		case tar.TypeSymlink:
			x.names[name] = struct{}{}
			err := x.dirs.create(name, func(dir *os.Root, base string) error {
				return dir.Symlink(hdr.Linkname, base)
			})
			if err != nil {
				return err
			}
		case tar.TypeXGlobalHeader:
			// PAX metadata only.
		default:
			return fmt.Errorf("entry %q: unsupported type %q (only directories, regular files and symlinks may be in a slug)", hdr.Name, hdr.Typeflag)
		}
	}
}

// fileJob is a small file for a worker to write.
type fileJob struct {
	name string
	mode fs.FileMode
	data *[]byte
	n    int
}

// extraction is the state an extract shares with its workers.
type extraction struct {
	dirs    dirRoots // the reading goroutine's
	names   map[string]struct{}
	jobs    chan fileJob
	pending sync.WaitGroup // queued jobs not yet written
	workers sync.WaitGroup
	pool    sync.Pool
	gen     atomic.Uint64 // bumped by every removal; see dirRoots
	errMu   sync.Mutex
	err     error
}

func newExtraction(root *os.Root) *extraction {
	x := &extraction{names: make(map[string]struct{}), jobs: make(chan fileJob, 64)}
	x.dirs = dirRoots{root: root, gen: &x.gen}
	x.pool.New = func() any { b := make([]byte, smallFile); return &b }
	for range extractWorkers {
		x.workers.Add(1)
		go x.work(dirRoots{root: root, gen: &x.gen})
	}
	return x
}

func (x *extraction) work(dirs dirRoots) {
	defer x.workers.Done()
	defer dirs.reset()
	for j := range x.jobs {
		if x.failed() == nil {
			if err := extractFile(&dirs, j.name, j.mode, newBytesReader((*j.data)[:j.n]), nil); err != nil {
				x.fail(err)
			}
		}
		x.pool.Put(j.data)
		x.pending.Done()
	}
}

func (x *extraction) fail(err error) {
	x.errMu.Lock()
	defer x.errMu.Unlock()
	if x.err == nil {
		x.err = err
	}
}

func (x *extraction) failed() error {
	x.errMu.Lock()
	defer x.errMu.Unlock()
	return x.err
}

// barrier waits until every queued file is written.
func (x *extraction) barrier() error {
	x.pending.Wait()
	return x.failed()
}

// finish stops the workers once they have written what is queued.
func (x *extraction) finish() error {
	close(x.jobs)
	x.workers.Wait()
	x.dirs.reset()
	return x.failed()
}

// dirRoots keeps a root open on each directory a goroutine of an
// extraction recently wrote into, so that creating an entry resolves one
// name in an open directory instead of walking its path from the top.
// Each is opened through the extraction's root, so it lies inside it.
// A removal anywhere bumps gen, after which every dirRoots drops what it
// kept, since what a kept name leads to may have changed.
type dirRoots struct {
	root *os.Root
	gen  *atomic.Uint64
	seen uint64
	open map[string]*os.Root
}

// maxDirRoots bounds the directories kept open; past it all are closed.
// Archives list a directory's entries together, so a few suffice.
const maxDirRoots = 64

func (d *dirRoots) get(dir string) (*os.Root, error) {
	if g := d.gen.Load(); g != d.seen {
		d.reset()
		d.seen = g
	}
	if dir == "." {
		return d.root, nil
	}
	if r, ok := d.open[dir]; ok {
		return r, nil
	}
	r, err := d.root.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err = d.root.MkdirAll(dir, 0o755); err == nil {
			r, err = d.root.OpenRoot(dir)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(d.open) >= maxDirRoots {
		d.reset()
	}
	if d.open == nil {
		d.open = make(map[string]*os.Root)
	}
	d.open[dir] = r
	return r, nil
}

// reset closes every kept root.
func (d *dirRoots) reset() {
	for _, r := range d.open {
		r.Close()
	}
	clear(d.open)
}

// create runs mk on name's base name in its directory's root, creating
// the directory if needed. When something is already at name, a
// non-directory is removed first (a later entry replaces an earlier one
// instead of writing through it) and mk runs again.
func (d *dirRoots) create(name string, mk func(dir *os.Root, base string) error) error {
	dir, err := d.get(path.Dir(name))
	if err != nil {
		return err
	}
	base := path.Base(name)
	err = mk(dir, base)
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	d.gen.Add(1)
	if err := replaceable(d.root, name); err != nil {
		return err
	}
	if dir, err = d.get(path.Dir(name)); err != nil {
		return err
	}
	return mk(dir, base)
}

// extractFile creates name exclusively (so a symlink at its place is never
// followed) and copies r into it with the given mode, through buf if r is
// not a *bytesReader.
func extractFile(dirs *dirRoots, name string, mode fs.FileMode, r io.Reader, buf []byte) error {
	// Created with its mode when the umask leaves that mode whole, which
	// saves a chmod per file (a node_modules has tens of thousands).
	perm, chmod := fs.FileMode(0o600), true
	if mode&^umask() == mode {
		perm, chmod = mode, false
	}
	var f *os.File
	err := dirs.create(name, func(dir *os.Root, base string) (err error) {
		f, err = dir.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		return err
	})
	if err != nil {
		return err
	}
	if br, ok := r.(*bytesReader); ok {
		_, err = f.Write(br.b)
	} else {
		_, err = io.CopyBuffer(writerOnly{f}, r, buf)
	}
	if err != nil {
		f.Close()
		return err
	}
	if chmod {
		if err := f.Chmod(mode); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// umask returns the process's file mode creation mask, read once from
// /proc (setting it to read it would race with every other goroutine
// creating files); when it cannot be read, every bit, so that files are
// always chmod-ed.
var umask = sync.OnceValue(func() fs.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fs.ModePerm
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return fs.FileMode(m) & fs.ModePerm
			}
		}
	}
	return fs.ModePerm
})

// bytesReader is a small file's contents, written in one call.
type bytesReader struct{ b []byte }

func newBytesReader(b []byte) *bytesReader { return &bytesReader{b} }

func (r *bytesReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// writerOnly hides *os.File's ReadFrom, whose fallback for a reader that
// is not a file allocates a buffer per call, so that io.CopyBuffer uses
// the one it is given.
type writerOnly struct{ io.Writer }
