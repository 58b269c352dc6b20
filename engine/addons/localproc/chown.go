package localproc

import (
	"io/fs"
	"os"
	"path/filepath"
)

// ChownTree gives dir and everything under it to uid:gid, never following
// a symbolic link: an add-on's data directory may hold files of a server
// that ran as another user (nobody, before add-ons had a uid of their
// own), and every add-on type hands them over the same way.
func ChownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}
