package buildpacks

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode"
)

// The server reads a few files of the pushed app itself, as root: the
// control files .buildpacks and .slugignore before the build, the
// Procfile after it. The pusher chose what is there (a link to
// /etc/shadow, to /proc/self/environ or to /dev/zero, a FIFO a build step
// made), so every such read goes through readAppFile, and no message
// about these files repeats what they hold beyond a short, cleaned piece
// of a line of a regular file inside the app (see quoteLine). No build
// step runs while the server reads or writes them, so nothing changes
// between a check and the use.

// Caps on the files the server reads: far above what a real app has, far
// below what would hurt the server.
const (
	maxControlFile = 64 << 10  // .buildpacks, .slugignore
	maxProcfile    = 256 << 10 // many types with long commands
)

// errAppFile is what readAppFile's refusals wrap: a file the app has but
// the server will not read. Its message says why, never what is inside.
var errAppFile = errors.New("not readable by the server")

// appFileError is a refusal of one app file, worded for the pusher.
type appFileError struct {
	name, why string
}

func (e *appFileError) Error() string { return e.name + " " + e.why }
func (e *appFileError) Unwrap() error { return errAppFile }

// readAppFile reads the file name (a path relative to the app) of the app
// in buildDir, at most max bytes of it. Links are followed only while
// they stay inside the app (resolved component by component through an
// os.Root, which refuses absolute links and ".." above the app's root);
// the file must be a regular one, checked before it is opened (so that no
// device is ever opened) and again on the open descriptor, which is
// opened non-blocking (so that a FIFO swapped in cannot hang the server).
// A missing file gives an error wrapping fs.ErrNotExist; every refusal
// wraps errAppFile and says which rule the file breaks.
func readAppFile(buildDir, name string, max int64) ([]byte, error) {
	root, err := os.OpenRoot(buildDir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fi, err := root.Stat(name)
	if err != nil {
		return nil, appFileRefusal(name, err)
	}
	if err := checkAppFile(name, fi, max); err != nil {
		return nil, err
	}
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, appFileRefusal(name, err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkAppFile(name, fi, max); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, &appFileError{name, "could not be read"}
	}
	if int64(len(data)) > max {
		return nil, &appFileError{name, "is larger than " + capString(max)}
	}
	return data, nil
}

// checkAppFile refuses what is not a regular file of at most max bytes.
func checkAppFile(name string, fi fs.FileInfo, max int64) error {
	if !fi.Mode().IsRegular() {
		return &appFileError{name, "is not a regular file"}
	}
	if fi.Size() > max {
		return &appFileError{name, "is larger than " + capString(max)}
	}
	return nil
}

// capString shows a size cap: in KiB when it is whole ones.
func capString(max int64) string {
	if max >= 1<<10 && max%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", max>>10)
	}
	return fmt.Sprintf("%d bytes", max)
}

// appFileRefusal words an error of resolving name inside the app: a
// missing file stays fs.ErrNotExist, a path leading out of the app (an
// absolute link, "..", a link to /proc) or through a loop is refused.
func appFileRefusal(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if errors.Is(err, syscall.ELOOP) {
		return &appFileError{name, "is a link that loops"}
	}
	if errors.Is(err, syscall.ENOTDIR) {
		return &appFileError{name, "is not a regular file"}
	}
	// os.Root's refusal of a path that escapes has no exported sentinel.
	if strings.Contains(err.Error(), "path escapes from parent") {
		return &appFileError{name, "is a link that leads out of the app"}
	}
	return &appFileError{name, "could not be read"}
}

// quoteLine returns at most 40 characters of line, from a regular file of
// the app, for a message to the pusher: printable ASCII kept, anything
// else (control characters, escapes, other scripts) shown as "?", and
// "..." when it was cut.
func quoteLine(line string) string {
	const max = 40
	var b strings.Builder
	n := 0
	for _, r := range line {
		if n == max {
			b.WriteString("...")
			break
		}
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return `"` + b.String() + `"`
}

// appPath resolves name inside buildDir, following links, and refuses a
// path that leads out of it. A missing path gives fs.ErrNotExist.
func appPath(buildDir, name string) (string, error) {
	root, err := filepath.EvalSymlinks(buildDir)
	if err != nil {
		return "", err
	}
	p, err := filepath.EvalSymlinks(filepath.Join(root, name))
	if err != nil {
		return "", err
	}
	if p != root && !strings.HasPrefix(p, root+string(filepath.Separator)) {
		return "", fmt.Errorf("%s leads out of the app", name)
	}
	return p, nil
}

// writeAppFile writes data to name in buildDir, creating the directory
// holding it (one level, such as .profile.d) if need be. Neither may lead
// out of the app; the file itself may not be a link.
func writeAppFile(buildDir, name string, data []byte) error {
	dirName := filepath.Dir(name)
	dir, err := appPath(buildDir, dirName)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.Mkdir(filepath.Join(buildDir, dirName), 0o755); err == nil {
			dir, err = appPath(buildDir, dirName)
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, filepath.Base(name)), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Close()
}
