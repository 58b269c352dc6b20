//go:build !linux

package dyno

import (
	"context"
	"errors"
	"os/exec"

	"hako/engine"
)

// isolatedCommand is never reached: builds are isolated only where dynos
// are, which takes Linux namespaces.
func (s *Supervisor) isolatedCommand(ctx context.Context, spec engine.SandboxSpec, mounts []bindMount) (*exec.Cmd, func(), error) {
	return nil, nil, errors.New("isolated builds need Linux")
}
