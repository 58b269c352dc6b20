package cmd

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// settle is how long the tree must stay quiet before a rebuild, so that
// an editor's save (several writes and renames) builds once.
const settle = 300 * time.Millisecond

// skipDir names directories whose changes never trigger a build: git's
// own, and dependencies a build installs itself.
func skipDir(name string) bool {
	return name == ".git" || name == "node_modules"
}

// watch builds once, then again after every settled change under dir,
// until ctx ends. A failed build is reported and watching goes on: the
// last good release keeps serving meanwhile.
func watch(ctx context.Context, env *Env, dir string, build func() (int, error)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	defer w.Close()
	if err := addTree(w, dir); err != nil {
		return err
	}
	report := func() {
		code, err := build()
		switch {
		case err != nil:
			fmt.Fprintf(env.Stderr, " ▸    %s\n", err)
		case code != 0:
			fmt.Fprintln(env.Stdout, " !     Build failed: the last release keeps serving. Fix the error and save again.")
		}
		fmt.Fprintf(env.Stdout, "-----> Watching %s for changes (Ctrl-C to stop)\n", dir)
	}
	report()
	var timer <-chan time.Time
	changed := ""
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			rel, _ := filepath.Rel(dir, ev.Name)
			if ignored(rel) {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
					_ = addTree(w, ev.Name)
				}
			}
			changed = rel
			timer = time.After(settle)
		case err, ok := <-w.Errors:
			if ok {
				fmt.Fprintf(env.Stderr, " ▸    watching: %v\n", err)
			}
		case <-timer:
			timer = nil
			fmt.Fprintf(env.Stdout, "-----> %s changed: building again\n", changed)
			report()
		}
	}
}

// ignored says whether a change at rel (relative to the watched dir) is
// inside a skipped directory.
func ignored(rel string) bool {
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if skipDir(part) {
			return true
		}
	}
	return false
}

// addTree watches dir and every directory below it but the skipped ones:
// fsnotify watches one directory at a time.
func addTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished meanwhile
		}
		if !d.IsDir() {
			return nil
		}
		if path != dir && skipDir(d.Name()) {
			return filepath.SkipDir
		}
		if err := w.Add(path); err != nil {
			return fmt.Errorf("watch %s: %w", path, err)
		}
		return nil
	})
}
