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
	"golang.org/x/sys/unix"
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

// extract writes the entries of the tar.gz r under root.
//
// Directories are resolved through root, which refuses any path leading
// outside it, even through a symlink an earlier entry created; each is
// then held open (see dirCache) and every file, symlink and directory is
// made by one call naming a single component in the open directory, with
// O_EXCL and O_NOFOLLOW, so that nothing already there (a symlink above
// all) is followed. The name checks before it give clearer errors for the
// plain cases.
//
// Decompression runs ahead on other goroutines (see gunzip) and small files
// are written by workers. Entries are applied as if in order: an entry
// whose name an earlier file or symlink already took waits for every
// pending write, then replaces it; symlinks and directories are made on
// the reading goroutine before any later entry is queued.
func extract(r io.Reader, root *os.Root, lim sizeLimit, own *owner) (err error) {
	gz, err := gunzip(r)
	if err != nil {
		return err
	}
	defer gz.Close()
	x := newExtraction(root, own)
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
		switch hdr.Typeflag {
		case tar.TypeDir, tar.TypeReg, tar.TypeRegA, tar.TypeSymlink:
			if _, taken := x.names[name]; taken {
				if err := x.replace(name); err != nil {
					return err
				}
			}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := x.dirs.mkdir(name, mode|0o755); err != nil {
				return err
			}
		case tar.TypeReg, tar.TypeRegA:
			x.names[name] = struct{}{}
			dir, err := x.dirs.get(path.Dir(name))
			if err != nil {
				return err
			}
			if hdr.Size > smallFile {
				err := writeFile(dir, name, mode, own, nil, tr, buf)
				dir.release()
				if err != nil {
					return err
				}
				continue
			}
			data := x.pool.Get().(*[]byte)
			n, err := io.ReadFull(tr, (*data)[:hdr.Size])
			if err != nil {
				dir.release()
				x.pool.Put(data)
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			x.pending.Add(1)
			x.jobs <- fileJob{dir: dir, name: name, mode: mode, data: data, n: n}
		case tar.TypeSymlink:
			x.names[name] = struct{}{}
			dir, err := x.dirs.get(path.Dir(name))
			if err != nil {
				return err
			}
			err = unix.Symlinkat(hdr.Linkname, dir.fd, path.Base(name))
			if err == nil && own != nil {
				err = unix.Fchownat(dir.fd, path.Base(name), own.uid, own.gid, unix.AT_SYMLINK_NOFOLLOW)
			}
			dir.release()
			if err != nil {
				return entryError(name, err)
			}
		case tar.TypeXGlobalHeader:
			// PAX metadata only.
		default:
			return fmt.Errorf("entry %q: unsupported type %q (only directories, regular files and symlinks may be in a slug)", hdr.Name, hdr.Typeflag)
		}
	}
}

// entryError words the failure to create name, saying so plainly when a
// directory is in the way (an archive listing a file where it made a
// directory before).
func entryError(name string, err error) error {
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("entry %q: a directory is already there", name)
	}
	return fmt.Errorf("entry %q: %w", name, err)
}

// fileJob is a small file for a worker to write.
type fileJob struct {
	dir  *dirFD // held for the job, released by the worker
	name string
	mode fs.FileMode
	data *[]byte
	n    int
}

// extraction is the state an extract shares with its workers.
type extraction struct {
	root    *os.Root
	own     *owner   // who gets the entries, if not nil
	dirs    dirCache // the reading goroutine's
	names   map[string]struct{}
	jobs    chan fileJob
	pending sync.WaitGroup // queued jobs not yet written
	workers sync.WaitGroup
	pool    sync.Pool
	errMu   sync.Mutex
	err     error
}

func newExtraction(root *os.Root, own *owner) *extraction {
	x := &extraction{root: root, own: own, names: make(map[string]struct{}), jobs: make(chan fileJob, 64)}
	x.dirs = dirCache{root: root, own: own}
	x.pool.New = func() any { b := make([]byte, smallFile); return &b }
	for range extractWorkers {
		x.workers.Add(1)
		go x.work()
	}
	return x
}

func (x *extraction) work() {
	defer x.workers.Done()
	for j := range x.jobs {
		if x.failed() == nil {
			if err := writeFile(j.dir, j.name, j.mode, x.own, (*j.data)[:j.n], nil, nil); err != nil {
				x.fail(err)
			}
		}
		j.dir.release()
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

// replace removes the file or symlink an earlier entry made at name,
// once every queued write is done, so that the entry naming it again
// replaces it instead of writing through it. Directories held open are
// let go: one may have been reached through a symlink that is now gone.
func (x *extraction) replace(name string) error {
	x.pending.Wait()
	if err := x.failed(); err != nil {
		return err
	}
	x.dirs.reset()
	return replaceable(x.root, name)
}

// finish stops the workers once they have written what is queued.
func (x *extraction) finish() error {
	close(x.jobs)
	x.workers.Wait()
	x.dirs.reset()
	return x.failed()
}

// pgzipReader reads the gzip stream r, inflated ahead of its reader on
// one goroutine.
func pgzipReader(r io.Reader) (io.ReadCloser, error) {
	return pgzip.NewReaderN(r, slugBlock, 4)
}

// dirFD is a directory of the extraction held open, shared by the
// reading goroutine's cache and the jobs queued into it; the last to
// release it closes it.
type dirFD struct {
	fd   int
	f    *os.File // when opened through the root, which owns fd
	refs atomic.Int32
}

func (d *dirFD) release() {
	if d.refs.Add(-1) != 0 {
		return
	}
	if d.f != nil {
		d.f.Close()
	} else {
		unix.Close(d.fd)
	}
}

// dirCache keeps the directories the extraction recently wrote into
// open, so that creating an entry resolves one name in an open directory
// instead of walking its path from the top. A directory is opened in its
// parent, held open, without following a symlink; only a directory
// reached through a symlink an earlier entry made is resolved through the
// extraction's root, which follows it only while it stays inside. Either
// way each lies inside the root.
type dirCache struct {
	root *os.Root
	own  *owner // who gets the directories it makes, if not nil
	open map[string]*dirFD
}

// maxDirFDs bounds the directories kept open; past it all are let go.
// Archives list a directory's entries together, so a few suffice.
const maxDirFDs = 128

// get returns dir held open, creating it (and its parents) if needed;
// the caller releases it.
func (c *dirCache) get(dir string) (*dirFD, error) {
	if d, ok := c.open[dir]; ok {
		d.refs.Add(1)
		return d, nil
	}
	d, err := c.openDir(dir)
	if err != nil {
		return nil, err
	}
	if len(c.open) >= maxDirFDs {
		c.reset()
	}
	if c.open == nil {
		c.open = make(map[string]*dirFD)
	}
	d.refs.Store(2) // the cache's and the caller's
	c.open[dir] = d
	return d, nil
}

// openDir opens dir, creating it if it does not exist.
func (c *dirCache) openDir(dir string) (*dirFD, error) {
	if dir == "." {
		return c.openInRoot(dir)
	}
	parent, err := c.get(path.Dir(dir))
	if err != nil {
		return nil, err
	}
	defer parent.release()
	base := path.Base(dir)
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(parent.fd, base, flags, 0)
	if errors.Is(err, unix.ENOENT) {
		if err = unix.Mkdirat(parent.fd, base, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
			fd, err = unix.Openat(parent.fd, base, flags, 0)
		}
		if err == nil && c.own != nil {
			if err = unix.Fchown(fd, c.own.uid, c.own.gid); err != nil {
				unix.Close(fd)
			}
		}
	}
	switch {
	case err == nil:
		return &dirFD{fd: fd}, nil
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
		return c.openInRoot(dir) // a symlink, perhaps
	default:
		return nil, fmt.Errorf("directory %q: %w", dir, err)
	}
}

// openInRoot opens dir through the root, which follows symlinks only
// while they stay inside it.
func (c *dirCache) openInRoot(dir string) (*dirFD, error) {
	f, err := c.root.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	return &dirFD{fd: int(f.Fd()), f: f}, nil
}

// mkdir makes the directory name with mode, or gives it mode if it
// exists.
func (c *dirCache) mkdir(name string, mode fs.FileMode) error {
	parent, err := c.get(path.Dir(name))
	if err != nil {
		return err
	}
	err = unix.Mkdirat(parent.fd, path.Base(name), uint32(mode))
	if err == nil && c.own != nil {
		err = unix.Fchownat(parent.fd, path.Base(name), c.own.uid, c.own.gid, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil {
			parent.release()
			return fmt.Errorf("entry %q: %w", name, err)
		}
	}
	parent.release()
	if err == nil && mode&^umask() == mode {
		return nil
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("entry %q: %w", name, err)
	}
	d, err := c.get(name)
	if err != nil {
		return err
	}
	defer d.release()
	if err := unix.Fchmod(d.fd, uint32(mode)); err != nil {
		return fmt.Errorf("entry %q: %w", name, err)
	}
	return nil
}

// reset lets go of every directory kept open.
func (c *dirCache) reset() {
	for _, d := range c.open {
		d.release()
	}
	clear(c.open)
}

// writeFile creates name's base name exclusively in dir (so that nothing
// already there, a symlink least of all, is followed), writes data, or
// copies r through buf, into it, and gives it mode, and to own if not
// nil.
func writeFile(dir *dirFD, name string, mode fs.FileMode, own *owner, data []byte, r io.Reader, buf []byte) error {
	// Created with its mode when the umask leaves that mode whole, which
	// saves a chmod per file (a node_modules has tens of thousands).
	perm, chmod := fs.FileMode(0o600), true
	if mode&^umask() == mode {
		perm, chmod = mode, false
	}
	fd, err := unix.Openat(dir.fd, path.Base(name), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(perm))
	if err != nil {
		return entryError(name, err)
	}
	if r == nil {
		err = writeAll(fd, data)
	} else {
		for err == nil {
			n, rerr := r.Read(buf)
			if n > 0 {
				err = writeAll(fd, buf[:n])
			}
			if rerr == io.EOF {
				break
			}
			if err == nil {
				err = rerr
			}
		}
	}
	if err == nil && own != nil {
		err = unix.Fchown(fd, own.uid, own.gid)
	}
	if err == nil && chmod {
		err = unix.Fchmod(fd, uint32(mode))
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("entry %q: %w", name, err)
	}
	return nil
}

// writeAll writes b to fd whole.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
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
