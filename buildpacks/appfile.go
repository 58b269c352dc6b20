package buildpacks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// The server reads and writes a few files of the app as root after its
// build steps have run, and those may have left links to the host's files
// in the app (or a FIFO that never yields). These helpers refuse whatever
// leads out of the build directory, or is not a regular file. No step is
// running then, so nothing changes between the check and the use.

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

// readAppFile reads the regular file name of the app in buildDir.
func readAppFile(buildDir, name string) ([]byte, error) {
	p, err := appPath(buildDir, name)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	return os.ReadFile(p)
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
