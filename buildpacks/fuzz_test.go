package buildpacks

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzWriteEnvDir checks that ENV_DIR holds exactly the value of every
// valid key, and that no key, however odd, writes outside the directory.
func FuzzWriteEnvDir(f *testing.F) {
	f.Add("DATABASE_URL", "postgres://u:p@h/db")
	f.Add("../escape", "x")
	f.Add("MULTI", "a\nb\x00c")
	f.Fuzz(func(t *testing.T, key, value string) {
		root := t.TempDir()
		dir := filepath.Join(root, "env")
		if err := writeEnvDir(dir, map[string]string{key: value}); err != nil {
			t.Fatalf("writeEnvDir(%q): %v", key, err)
		}
		entries, err := os.ReadDir(root)
		if err != nil || len(entries) != 1 || entries[0].Name() != "env" {
			t.Fatalf("writeEnvDir(%q) wrote outside ENV_DIR: %v %v", key, entries, err)
		}
		got, err := os.ReadFile(filepath.Join(dir, key))
		if !envName.MatchString(key) {
			if files, _ := os.ReadDir(dir); len(files) != 0 {
				t.Fatalf("invalid key %q was written", key)
			}
			return
		}
		if err != nil || string(got) != value {
			t.Fatalf("ENV_DIR/%s = %q, %v; want %q", key, got, err, value)
		}
	})
}

// FuzzConfigVarsProfile checks, through a real shell, that a buildpack's
// config_vars default comes back exactly, and that an app's own value
// always wins.
func FuzzConfigVarsProfile(f *testing.F) {
	if _, err := exec.LookPath("sh"); err != nil {
		f.Skip("no sh")
	}
	f.Add("LANG", "en_US.UTF-8", "mine")
	f.Add("X", "it's } ${HOME} `id` $(id) \"q\"\nline2", "")
	f.Fuzz(func(t *testing.T, key, def, user string) {
		if !envName.MatchString(key) || strings.ContainsRune(def, 0) || strings.ContainsRune(user, 0) ||
			!utf8.ValidString(def) || !utf8.ValidString(user) || strings.HasPrefix(key, "BASH") ||
			key == "PATH" || key == "IFS" || key == "PS4" || key == "ENV" || key == "SHELLOPTS" || key == "HOME" || key == "PWD" || key == "OLDPWD" || key == "PPID" || key == "LINENO" || key == "OPTIND" || key == "RANDOM" || key == "SECONDS" || key == "UID" || key == "EUID" || key == "OPTARG" || key == "PS1" || key == "PS2" {
			return // shell-special names, and values config vars refuse
		}
		dir := t.TempDir()
		if err := writeConfigVarsProfile(dir, map[string]string{key: def}); err != nil {
			t.Fatal(err)
		}
		script := `. "$1"; printf %s "$` + key + `"`
		cmd := exec.Command("sh", "-c", script, "sh", filepath.Join(dir, configVarsProfile))
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		if user != "" {
			cmd.Env = append(cmd.Env, key+"="+user)
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("profile for %s=%q fails in sh: %v", key, def, err)
		}
		want := def
		if user != "" {
			want = user
		}
		if string(out) != want {
			t.Fatalf("%s = %q, want %q (default %q, app's %q)", key, out, want, def, user)
		}
	})
}
