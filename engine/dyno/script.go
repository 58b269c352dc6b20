package dyno

import (
	"fmt"
	"net"
	"sort"
	"time"

	"hako/engine"
)

// profileScript sources what buildpacks leave for run time, as Heroku
// does before every dyno command: .profile.d/*.sh in name order (the shell
// sorts the glob), then the app's own .profile, both under $HOME.
const profileScript = `for f in "$HOME"/.profile.d/*.sh; do [ -r "$f" ] && . "$f"; done; unset f
[ -r "$HOME/.profile" ] && . "$HOME/.profile"
`

// WrapperScript returns the shell text every dyno runs with `sh -c`: the
// profile sourcing, then the Procfile command on a line of its own.
//
// The command is shell text by design (a Procfile entry is a shell
// command line, and Heroku runs it with a shell), so it is appended
// verbatim rather than quoted or passed through eval: it then runs
// exactly as typed, pipes, variables and `exec` included, without an
// extra variable holding it in the app's environment.
func WrapperScript(command string) string {
	return profileScript + command + "\n"
}

// dynoEnv builds the environment of a dyno: the spec's variables, then
// PORT (web dynos only), DYNO, HOME and PATH, which the platform owns and
// so override the spec's. HOME is where the dyno sees its slug: /app in a
// private root, spec.Dir otherwise. The app's bin directory comes first
// on PATH, as on Heroku, so that binaries vendored in the slug win.
func dynoEnv(spec engine.DynoSpec, port int, hostPath, home string) []string {
	env := make(map[string]string, len(spec.Env)+4)
	for k, v := range spec.Env {
		env[k] = v
	}
	if port > 0 {
		env["PORT"] = fmt.Sprint(port)
	}
	env["DYNO"] = spec.Name
	env["HOME"] = home
	path := home + "/bin"
	if hostPath != "" {
		path += ":" + hostPath
	}
	env["PATH"] = path
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// backoff is the delay before the restart that follows the n-th
// consecutive crash (n >= 1): none for the first, then base doubling, up
// to max.
func backoff(n int, base, max time.Duration) time.Duration {
	if n <= 1 {
		return 0
	}
	d := base
	for i := 2; i < n; i++ {
		d *= 2
		if d >= max || d <= 0 {
			return max
		}
	}
	return min(d, max)
}

// humanDuration renders a configured duration the way Heroku's messages
// read ("30 seconds"), falling back to Go's notation for fractions.
func humanDuration(d time.Duration) string {
	if d%time.Second != 0 {
		return d.String()
	}
	if d == time.Second {
		return "1 second"
	}
	return fmt.Sprintf("%d seconds", d/time.Second)
}

// freePort asks the kernel for a free TCP port on the loopback interface
// for a web dyno to bind.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
