package containerregistry

import (
	"archive/tar"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// BasePrograms are the host programs the default base holds, with the
// libraries they load: a shell for the entrypoint and .profile.d scripts,
// and the few tools those scripts and a `podman run IMAGE bash` reach
// for. Everything else an app needs comes in its slug (Go, Node, Python
// buildpacks vendor their runtime) or from --base, a full stack image.
var BasePrograms = []string{"sh", "bash", "env", "cat", "ls", "mkdir", "rm", "cp", "mv", "ln",
	"sleep", "id", "grep", "sed", "head", "tail", "tr", "uname", "dirname", "basename"}

// baseFiles are host files the default base copies where they exist: the
// users and name-service configuration, and the CA bundle TLS clients
// need. /etc/hosts and /etc/resolv.conf are the runtime's to provide.
var baseFiles = []string{"/etc/passwd", "/etc/group", "/etc/nsswitch.conf",
	"/etc/ssl/certs/ca-certificates.crt", "/etc/os-release"}

// rootDirs are the top directories of the stack, which on a merged /usr
// are symlinks (/bin -> usr/bin) that the shebang #!/bin/sh and the
// loader's path need even though programs are found under /usr.
var rootDirs = []string{"/bin", "/sbin", "/lib", "/lib64"}

// stackPath is where programs are looked for: the system directories a
// dyno's root shows, never the server's own PATH (a toolchain in root's
// home has no place in an image).
const stackPath = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"

// hostBase collects the default base's entries from the host: each
// path's symlinks and parent directories as they are on the host, so
// that a merged /usr (/bin -> usr/bin) looks the same inside.
type hostBase struct {
	entries map[string]*tar.Header
	sources map[string]string // regular file's name -> host path
	libDirs []string
	mtime   time.Time
}

// writeHostBase writes the default base layer as an uncompressed tar to
// w: BasePrograms and extra programs with their ELF libraries, baseFiles,
// and an empty /tmp. Every entry is owned by root and dated mtime, so the
// layer depends only on the host's files' contents and modes.
func writeHostBase(w io.Writer, extra, dirs []string, mtime time.Time) error {
	b := &hostBase{entries: map[string]*tar.Header{}, sources: map[string]string{}, mtime: mtime}
	for _, d := range dirs {
		if err := b.addTree(d); err != nil {
			return fmt.Errorf("base: %w", err)
		}
	}
	b.libDirs = libraryDirs()
	for _, prog := range slices.Concat(BasePrograms, extra) {
		p, err := lookStack(prog)
		if err != nil {
			if slices.Contains(extra, prog) {
				return fmt.Errorf("base: %s is not among the host's stack programs (%s)", prog, stackPath)
			}
			continue
		}
		if err := b.addELF(p); err != nil {
			return fmt.Errorf("base: %s: %w", prog, err)
		}
	}
	if _, ok := b.entries["bin/sh"]; !ok {
		if _, ok := b.entries["usr/bin/sh"]; !ok {
			return errors.New("base: the host has no /bin/sh, which the entrypoint needs")
		}
	}
	for _, f := range append(slices.Clone(rootDirs), baseFiles...) {
		if _, err := os.Stat(f); err == nil {
			if err := b.add(f, 0); err != nil {
				return fmt.Errorf("base: %w", err)
			}
		}
	}
	b.entries["tmp"] = &tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777}
	return b.write(w)
}

// StackDirs are the host directories a dyno's root shows (see
// engine/dyno's systemDirs): the only ones --with-dir may copy from, so
// that a base never carries a home directory or the server's data.
var StackDirs = []string{"/bin", "/sbin", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"}

// addTree adds a host directory whole: a program's data files (Python's
// standard library, say). It must lie, symlinks resolved, within
// StackDirs. Symlinks inside are kept as links; sockets and devices are
// left out.
func (b *hostBase) addTree(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("--with-dir %s: give an absolute path", dir)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("--with-dir %s: %w", dir, err)
	}
	if !slices.ContainsFunc(StackDirs, func(s string) bool { return real == s || strings.HasPrefix(real, s+"/") }) || real == "/etc" {
		return fmt.Errorf("--with-dir %s: only directories under %s may go into an image", dir, strings.Join(StackDirs, ", "))
	}
	return filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			if err := b.add(filepath.Dir(p), 0); err != nil {
				return err
			}
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			rel := strings.TrimPrefix(p, "/")
			b.entries[rel] = &tar.Header{Typeflag: tar.TypeSymlink, Name: rel, Linkname: target, Mode: 0o777, ModTime: b.mtime}
			return nil
		case d.IsDir(), d.Type().IsRegular():
			return b.add(p, 0)
		}
		return nil
	})
}

// lookStack finds a program in the stack's directories.
func lookStack(prog string) (string, error) {
	for _, dir := range filepath.SplitList(stackPath) {
		p := filepath.Join(dir, prog)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// addELF adds a program and, when it is a dynamic ELF file, its
// interpreter and the libraries it needs, transitively.
func (b *hostBase) addELF(p string) error {
	if err := b.add(p, 0); err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return err
	}
	f, err := elf.Open(real)
	if err != nil {
		return nil // a script: its interpreter is in the list or not needed
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			data, err := io.ReadAll(prog.Open())
			if err != nil {
				return err
			}
			interp := strings.TrimRight(string(data), "\x00")
			if _, done := b.entries[strings.TrimPrefix(interp, "/")]; !done {
				if err := b.add(interp, 0); err != nil {
					return err
				}
			}
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return err
	}
	for _, lib := range libs {
		lp := b.findLib(lib)
		if lp == "" {
			return fmt.Errorf("cannot find its library %s", lib)
		}
		if _, done := b.entries[strings.TrimPrefix(lp, "/")]; done {
			continue
		}
		if err := b.addELF(lp); err != nil {
			return err
		}
	}
	return nil
}

// findLib finds a library by its soname in the loader's directories.
func (b *hostBase) findLib(name string) string {
	for _, dir := range b.libDirs {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// libraryDirs are the dynamic loader's directories: those of
// /etc/ld.so.conf and the files it includes, then the defaults.
func libraryDirs() []string {
	var dirs []string
	var read func(string, int)
	read = func(file string, depth int) {
		data, err := os.ReadFile(file)
		if err != nil || depth > 4 {
			return
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			line = strings.TrimSpace(line)
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = strings.TrimSpace(line[:i])
			}
			if rest, ok := strings.CutPrefix(line, "include "); ok {
				matches, _ := filepath.Glob(strings.TrimSpace(rest))
				slices.Sort(matches)
				for _, m := range matches {
					read(m, depth+1)
				}
			} else if strings.HasPrefix(line, "/") {
				dirs = append(dirs, line)
			}
		}
	}
	read("/etc/ld.so.conf", 0)
	return slices.Compact(append(dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib"))
}

// add adds host path p: each parent directory, each symlink on the way
// (and what it leads to), and p itself.
func (b *hostBase) add(p string, depth int) error {
	if depth > 40 {
		return fmt.Errorf("%s: too many symlinks", p)
	}
	parts := strings.Split(strings.Trim(path.Clean(p), "/"), "/")
	cur := ""
	for i, part := range parts {
		cur = path.Join(cur, part)
		fi, err := os.Lstat("/" + cur)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: cur, Mode: int64(fi.Mode().Perm()), ModTime: b.mtime} // never setuid
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink("/" + cur)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, target, 0o777
			b.entries[cur] = hdr
			if !path.IsAbs(target) {
				target = path.Join("/", path.Dir(cur), target)
			}
			return b.add(path.Join(append([]string{target}, parts[i+1:]...)...), depth+1)
		case fi.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, cur+"/"
			b.entries[cur] = hdr
		case fi.Mode().IsRegular() && i == len(parts)-1:
			hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
			b.entries[cur] = hdr
			b.sources[cur] = "/" + cur
		default:
			return fmt.Errorf("/%s is neither a file, a directory nor a symlink", cur)
		}
	}
	return nil
}

// write writes the entries in path order, parents first.
func (b *hostBase) write(w io.Writer) error {
	names := make([]string, 0, len(b.entries))
	for n := range b.entries {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, c string) int {
		return strings.Compare(strings.ReplaceAll(a, "/", "\x00"), strings.ReplaceAll(c, "/", "\x00"))
	})
	tw := tar.NewWriter(w)
	for _, n := range names {
		hdr := *b.entries[n]
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(&hdr); err != nil {
			return err
		}
		if src, ok := b.sources[n]; ok {
			if err := copyFile(tw, src, hdr.Size); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// copyFile copies exactly size bytes of src, the size its header says.
func copyFile(w io.Writer, src string, size int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(w, f, size); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}
