package dyno

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// initConfigFD is the descriptor on which an isolated dyno's or build
// step's init reads its initConfig: the first of the command's extra
// files.
const initConfigFD = 3

// maxInitConfig bounds what the init reads: far above any environment
// the kernel would let the command start with.
const maxInitConfig = 16 << 20

// initConfig is everything the supervisor tells the init of an isolated
// dyno or build step. It reaches the init on a descriptor, never in its
// environment: the init runs as root, dynamically linked, and the app's
// environment (config vars, `run -e`, what a buildpack exported) could
// otherwise steer the dynamic loader (LD_PRELOAD) or the Go runtime
// before the init's first line runs. Env is applied to the command's
// exec alone, once privileges are dropped, so the app still gets every
// variable it set, LD_PRELOAD included.
type initConfig struct {
	Script string     `json:"script,omitempty"` // a dyno's wrapper script, run with sh -c
	Argv   []string   `json:"argv,omitempty"`   // a build step's command, instead of Script
	Env    []string   `json:"env"`              // the command's environment
	Root   rootConfig `json:"root"`
	// TTY says that the standard streams are a terminal, which the
	// command must get as controlling one.
	TTY bool `json:"tty,omitempty"`
	// The descriptors, among the command's extra files, of the readiness
	// report, the go-ahead, the exit report and the lifeline (see
	// InitMain); 0 for none.
	ReadyFD    int `json:"ready_fd,omitempty"`
	GoFD       int `json:"go_fd,omitempty"`
	ExitFD     int `json:"exit_fd,omitempty"`
	LifelineFD int `json:"lifeline_fd,omitempty"`
	// Net sets up the network namespace of the process, when it has one
	// (see setupNetwork).
	Net *netConfig `json:"net,omitempty"`
}

// initConfigFile returns a memory file holding cfg, positioned at its
// start, to hand to the init as its descriptor initConfigFD. Unlike a
// pipe it never blocks the supervisor, whatever the size of the
// environment, and whether or not the init ever reads it.
func initConfigFile(cfg initConfig) (*os.File, error) {
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode the init's configuration: %w", err)
	}
	fd, err := unix.MemfdCreate("hako-init", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create the init's configuration: %w", err)
	}
	f := os.NewFile(uintptr(fd), "hako-init")
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("write the init's configuration: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("write the init's configuration: %w", err)
	}
	return f, nil
}

// readInitConfig reads the init's configuration from fd and closes it,
// so that the command never inherits it.
func readInitConfig(fd int) (initConfig, error) {
	var cfg initConfig
	f := os.NewFile(uintptr(fd), "hako-init")
	if f == nil {
		return cfg, fmt.Errorf("no configuration on descriptor %d", fd)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxInitConfig+1))
	if err != nil {
		return cfg, fmt.Errorf("read the configuration: %w", err)
	}
	if len(data) > maxInitConfig {
		return cfg, fmt.Errorf("configuration larger than %d bytes", maxInitConfig)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("bad configuration: %w", err)
	}
	if cfg.Script == "" && len(cfg.Argv) == 0 || len(cfg.Argv) > 0 && cfg.Argv[0] == "" {
		return cfg, fmt.Errorf("no command to run")
	}
	return cfg, nil
}

// initEnviron is the init's own environment: nothing of the app's, and
// nothing of the server's but GORACE, which only a server built with the
// race detector reads (the operator's setting, so that a test binary as
// init does not linger at exit). The init reads no variable itself.
func initEnviron() []string {
	env := []string{}
	if v, ok := os.LookupEnv("GORACE"); ok {
		env = append(env, "GORACE="+v)
	}
	return env
}
