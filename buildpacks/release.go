package buildpacks

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// releaseInfo is what a buildpack's bin/release says about the app.
type releaseInfo struct {
	DefaultProcessTypes map[string]string
	ConfigVars          map[string]string
	Addons              []string
}

// parseRelease reads the YAML that bin/release prints. Buildpacks only
// ever emit a tiny subset of YAML, so a small parser is enough and keeps
// the builder free of dependencies: an optional "---" document start, the
// top-level keys default_process_types, config_vars and addons (others are
// ignored), each followed by indented "key: value" entries (or "- item"
// for addons), values optionally quoted; "{}" and "[]" mean empty.
func parseRelease(data string) (*releaseInfo, error) {
	info := &releaseInfo{
		DefaultProcessTypes: map[string]string{},
		ConfigVars:          map[string]string{},
	}
	section := ""
	for i, raw := range strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n") {
		n := i + 1
		line := strings.TrimRight(raw, " \t")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasPrefix(line, "---") {
			section = ""
			continue
		}
		if line == "..." {
			break
		}
		if line[0] != ' ' && line[0] != '\t' {
			key, rest, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("line %d: %q is not \"key:\"", n, line)
			}
			section = strings.TrimSpace(key)
			rest = strings.TrimSpace(rest)
			if rest != "" && rest != "{}" && rest != "[]" && !strings.HasPrefix(rest, "#") {
				return nil, fmt.Errorf("line %d: %s must be followed by indented entries", n, section)
			}
			continue
		}
		if strings.HasPrefix(trimmed, "- ") || trimmed == "-" {
			if section == "addons" {
				v, err := unquote(strings.TrimSpace(strings.TrimPrefix(trimmed, "-")))
				if err != nil {
					return nil, fmt.Errorf("line %d: %v", n, err)
				}
				if v != "" {
					info.Addons = append(info.Addons, v)
				}
			}
			continue
		}
		key, value, ok := strings.Cut(trimmed, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not \"key: value\"", n, trimmed)
		}
		k, err := unquote(strings.TrimSpace(key))
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		v, err := unquote(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		switch section {
		case "default_process_types":
			info.DefaultProcessTypes[k] = v
		case "config_vars":
			info.ConfigVars[k] = v
		case "addons":
			info.Addons = append(info.Addons, k)
		}
	}
	return info, nil
}

// unquote strips YAML quotes: double quotes with backslash escapes, or
// single quotes where two single quotes stand for one. Plain values are
// returned as they are.
func unquote(s string) (string, error) {
	switch {
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		v, err := strconv.Unquote(s)
		if err != nil {
			return "", fmt.Errorf("bad double-quoted value %s", s)
		}
		return v, nil
	case len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'':
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	case strings.HasPrefix(s, `"`) || strings.HasPrefix(s, `'`):
		return "", fmt.Errorf("unterminated quote in %s", s)
	}
	return s, nil
}

// configVarsProfile is where release config_vars become defaults of the
// dyno's environment; the name sorts first so that later scripts see them.
const configVarsProfile = ".profile.d/00_config_vars.sh"

// writeConfigVarsProfile writes the config_vars a buildpack's release asks
// for as a .profile.d script that sets each one only when the app's own
// config leaves it unset or empty, so that the user always overrides the
// buildpack. Values are single-quoted, which no shell expands.
func writeConfigVarsProfile(buildDir string, vars map[string]string) error {
	if len(vars) == 0 {
		return nil
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		if envName.MatchString(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Defaults from the buildpack's release; the app's config vars win.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "[ -n \"${%s:-}\" ] || %s=%s\nexport %s\n", k, k, shellQuote(vars[k]), k)
	}
	return writeAppFile(buildDir, configVarsProfile, []byte(b.String()))
}

// shellQuote quotes s for any POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
