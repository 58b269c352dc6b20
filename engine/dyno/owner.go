package dyno

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// PrepareDir gives a release's unpacked slug to the user isolated dynos
// run as, so that /app is theirs as it is on Heroku: an app may write to
// its own tmp/ or log/. Each dyno writes through its private overlay, so
// the shared copy itself never changes. Without isolation dynos run as
// the server's user, who owns the files already.
func (s *Supervisor) PrepareDir(dir string) error {
	s.mu.Lock()
	isolated := s.isolated
	s.mu.Unlock()
	if !isolated {
		return nil
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, s.opts.User, s.opts.Group)
	})
	if err != nil {
		return fmt.Errorf("give %s to the dyno user: %w", dir, err)
	}
	return nil
}
