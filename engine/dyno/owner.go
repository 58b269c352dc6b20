package dyno

import (
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strconv"

	"hako/engine/userfs"
)

// identity is who an isolated process runs as: the app's own uid and gid
// when its spec names them (engine.App.UID), the supervisor's User and
// Group where no app is involved. A uid without a gid gets the group of
// the same number, as apps' identities have. The host gets an account for
// an app's uid (hako-UID), since some programs an app or a buildpack runs
// look their user up (whoami, Node's os.userInfo); without one they fail,
// the dyno still runs.
func (s *Supervisor) identity(uid, gid int) (int, int) {
	if uid <= 0 {
		return s.opts.User, s.opts.Group
	}
	if gid <= 0 {
		gid = uid
	}
	if _, warned := s.noAccount.Load(uid); !warned {
		if err := userfs.EnsureAccount(uid, "hako-"+strconv.Itoa(uid)); err != nil {
			s.noAccount.Store(uid, true)
			log.Printf("dynos: warning: uid %d has no name on this host: %v", uid, err)
		}
	}
	return uid, gid
}

// DirOwner says whom PrepareDir gives a slug unpacked for uid:gid to,
// so that unpacking gives each file to them as it writes it
// (engine.DirOwner); ok is false without isolation, where PrepareDir
// changes nothing.
func (s *Supervisor) DirOwner(uid, gid int) (int, int, bool) {
	s.mu.Lock()
	isolated := s.isolated
	s.mu.Unlock()
	if !isolated {
		return 0, 0, false
	}
	uid, gid = s.identity(uid, gid)
	return uid, gid, true
}

// PrepareDir gives a release's unpacked slug to the app's user (uid:gid,
// see identity), so that /app is the dyno's as it is on Heroku: an app
// may write to its own tmp/ or log/. Each dyno writes through its private
// overlay, so the shared copy itself never changes. The top directory is
// closed to every other user: another app's processes cannot read the
// app's code on the host. A tree whose top is the user's and closed
// already is taken as prepared, so calling it again costs one stat.
// Without isolation dynos run as the server's user, who owns the files
// already.
func (s *Supervisor) PrepareDir(dir string, uid, gid int) error {
	s.mu.Lock()
	isolated := s.isolated
	s.mu.Unlock()
	if !isolated {
		return nil
	}
	uid, gid = s.identity(uid, gid)
	if fi, err := os.Lstat(dir); err == nil && fi.IsDir() && fi.Mode().Perm() == 0o700 {
		if owner, group, ok := fileOwner(fi); ok && owner == uid && group == gid {
			return nil
		}
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err == nil {
		// Last, so that a walk cut short is done again next time.
		err = os.Chmod(dir, 0o700)
	}
	if err != nil {
		return fmt.Errorf("give %s to uid %d: %w", dir, uid, err)
	}
	return nil
}
