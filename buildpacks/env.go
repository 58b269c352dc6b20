package buildpacks

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// passthroughEnv lists the host variables a build inherits. Buildpacks
// need the host's PATH to find its toolchains, and the proxy, CA and
// registry settings to reach package mirrors the way the host does;
// anything else (credentials, the server's own settings) stays out, as on
// Heroku where compile starts from an almost empty environment.
var passthroughEnv = map[string]bool{
	"PATH":                true,
	"HTTP_PROXY":          true,
	"HTTPS_PROXY":         true,
	"NO_PROXY":            true,
	"ALL_PROXY":           true,
	"http_proxy":          true,
	"https_proxy":         true,
	"no_proxy":            true,
	"all_proxy":           true,
	"SSL_CERT_FILE":       true,
	"SSL_CERT_DIR":        true,
	"NODE_EXTRA_CA_CERTS": true,
	"REQUESTS_CA_BUNDLE":  true,
	"CURL_CA_BUNDLE":      true,
	"GIT_SSL_CAINFO":      true,
	"GOPROXY":             true,
	"GONOSUMDB":           true,
	"GONOPROXY":           true,
	"GOPRIVATE":           true,
	"GOSUMDB":             true,
	"GOFLAGS":             true,
	"npm_config_registry": true,
	"NPM_CONFIG_REGISTRY": true,
}

// defaultPath is used when the host has no PATH at all, so that sh and
// the usual tools are still found.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// buildEnv returns the environment of a build step: the allowed host
// variables of host (in os.Environ form) overridden by extra, sorted so
// that builds are reproducible.
func buildEnv(host []string, extra map[string]string) []string {
	m := map[string]string{}
	for _, kv := range host {
		k, v, ok := strings.Cut(kv, "=")
		if ok && passthroughEnv[k] {
			m[k] = v
		}
	}
	if m["PATH"] == "" {
		m["PATH"] = defaultPath
	}
	for k, v := range extra {
		m[k] = v
	}
	return envList(m)
}

// envList turns a map into sorted KEY=VALUE pairs.
func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// envMap turns KEY=VALUE pairs into a map; later pairs win.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// envName is what a shell accepts as a variable name. Config vars with
// other names cannot be exported, and a name must never become a path.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// writeEnvDir writes the app's config vars into dir, one file per var, as
// the classic buildpack API hands them to bin/compile (ENV_DIR): packs
// read what they need instead of getting every var exported.
func writeEnvDir(dir string, config map[string]string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for k, v := range config {
		if !envName.MatchString(k) {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// shareEnvDir makes the env dir readable by everyone, for build steps that
// run as another user than the server's. The build's temporary directory
// holding it stays the server's own, so no other user of the host can
// reach it.
func shareEnvDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Chmod(filepath.Join(dir, e.Name()), 0o644); err != nil {
			return err
		}
	}
	return os.Chmod(dir, 0o755)
}

// shellSkip lists the variables a shell sets by itself; they are not part
// of what a buildpack's export file means to pass on.
var shellSkip = map[string]bool{"PWD": true, "OLDPWD": true, "SHLVL": true, "_": true}

// parseExportedEnv reads the NUL-separated output of `env -0` run after a
// buildpack's export file, and returns the environment for the next pack:
// what the shell printed, minus the variables the shell adds itself unless
// they were given in before.
func parseExportedEnv(out []byte, before []string) []string {
	prev := envMap(before)
	m := map[string]string{}
	for _, kv := range strings.Split(string(out), "\x00") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if _, given := prev[k]; shellSkip[k] && !given {
			continue
		}
		m[k] = v
	}
	return envList(m)
}
