package cmd

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/frame"
)

func buildsCommand(env *Env) *cli.Command {
	return &cli.Command{
		Name:  "builds:create",
		Usage: "build and release a directory's source without git push (--watch: again on every change)",
		Flags: []cli.Flag{
			appFlag,
			&cli.StringFlag{Name: "dir", Value: ".", Usage: "the source directory (in a git work tree, the files git does not ignore)"},
			&cli.StringFlag{Name: "version", Usage: "the version to record (default: the git commit, if any)"},
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "stay and build again whenever a file changes"},
		},
		Action: func(c *cli.Context) error {
			if env.Remote {
				return engine.Errorf(engine.EINVALID, "builds:create uploads a local directory: run it with the hako CLI, not over SSH.")
			}
			name, cl, err := appClient(env, c)
			if err != nil {
				return err
			}
			dir, err := filepath.Abs(c.String("dir"))
			if err != nil {
				return err
			}
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return engine.Errorf(engine.EINVALID, "%s is not a directory.", c.String("dir"))
			}
			build := func() (int, error) { return uploadBuild(env, cl, name, dir, c.String("version")) }
			if !c.Bool("watch") {
				code, err := build()
				if err == nil && code != 0 {
					return cli.Exit("", code)
				}
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return watch(ctx, env, dir, build)
		},
	}
}

// uploadBuild sends dir as a tar.gz and prints the build output as it
// streams back; it returns 0 when the app was released.
func uploadBuild(env *Env, cl *Client, app, dir, version string) (int, error) {
	files, err := sourceFiles(dir)
	if err != nil {
		return -1, err
	}
	if version == "" {
		version = gitOutput(dir, "rev-parse", "HEAD")
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTarGz(pw, dir, files)) }()
	q := url.Values{}
	if version != "" {
		q.Set("version", version)
	}
	req, err := http.NewRequest("POST", strings.TrimRight(cl.URL, "/")+appPath(app, "/builds?"+q.Encode()), pr)
	if err != nil {
		return -1, err
	}
	req.Header.Set("Authorization", "Bearer "+cl.Token)
	req.Header.Set("Content-Type", "application/gzip")
	fmt.Fprintf(env.Stdout, "-----> Uploading %d files from %s\n", len(files), dir)
	resp, err := cl.streaming().Do(req)
	if err != nil {
		return -1, engine.Errorf(engine.EINTERNAL, "Cannot reach the hako server at %s: is `hako server` running? (%v)", cl.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return -1, readAPIError(resp)
	}
	for {
		kind, p, err := frame.Read(resp.Body)
		if err != nil {
			return -1, engine.Errorf(engine.EINTERNAL, "The build's output ended early: %v", err)
		}
		switch kind {
		case frame.Output:
			_, _ = env.Stdout.Write(p)
		case frame.Exit:
			if len(p) == 1 {
				return int(p[0]), nil
			}
			return 1, nil
		}
	}
}

// sourceFiles lists what to upload, relative to dir: in a git work tree
// the tracked and untracked files git does not ignore (as a push would
// carry, plus what is not committed yet); elsewhere every file but .git.
func sourceFiles(dir string) ([]string, error) {
	if out := gitOutput(dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard"); out != "" {
		var files []string
		for _, f := range strings.Split(out, "\x00") {
			if _, err := os.Lstat(filepath.Join(dir, f)); f != "" && err == nil {
				files = append(files, f)
			}
		}
		return files, nil
	}
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, rel)
		}
		return nil
	})
	return files, err
}

// gitOutput runs git in dir and returns its trimmed output, or "" when
// git fails (not a work tree, no commit yet, no git).
func gitOutput(dir string, args ...string) string {
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimRight(string(out), "\n\x00")
}

// writeTarGz writes files (relative to dir) as a tar.gz: regular files
// with their mode, and symlinks as links.
func writeTarGz(w io.Writer, dir string, files []string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	for _, rel := range files {
		path := filepath.Join(dir, rel)
		st, err := os.Lstat(path)
		if err != nil {
			return err
		}
		link := ""
		if st.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		} else if !st.Mode().IsRegular() {
			continue
		}
		hdr, err := tar.FileInfoHeader(st, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		hdr.Uname, hdr.Gname, hdr.Uid, hdr.Gid = "", "", 0, 0
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if st.Mode().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}
