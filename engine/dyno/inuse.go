package dyno

import "hako/engine"

var _ engine.DirUser = (*Supervisor)(nil)

// DirsInUse implements engine.DirUser: the slug directories of every dyno
// not yet fully stopped. The engine removes unpacked slugs nothing uses,
// and a dyno being stopped (SIGTERM, grace) has already left its table.
func (s *Supervisor) DirsInUse() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	dirs := make([]string, 0, len(s.dynos))
	for d := range s.dynos {
		dirs = append(dirs, d.spec.Dir)
	}
	return dirs
}
