// Package userfs answers what the unprivileged user that dynos and add-on
// servers run as can reach on the host: hako's data may sit under a
// directory closed to it (root's home, for the default HAKO_HOME), and
// each caller then takes its own way around.
package userfs

import (
	"fmt"
	"os"
	"path/filepath"
)

// Searchable returns nil when uid/gid may search every directory from /
// down to dir (symlinks resolved), or an error naming the first one that
// stops it. Supplementary groups and ACLs are not consulted: at worst a
// caller takes its way around needlessly. uid 0 may search anything.
func Searchable(dir string, uid, gid int) error {
	path, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	for d := path; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		owner, group, ok := ids(fi)
		if !ok || uid == 0 {
			return nil
		}
		var bit os.FileMode = 0o001
		switch {
		case owner == uid:
			bit = 0o100
		case group == gid:
			bit = 0o010
		}
		if fi.Mode().Perm()&bit == 0 {
			return fmt.Errorf("directory %s is not searchable by uid %d", d, uid)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}
