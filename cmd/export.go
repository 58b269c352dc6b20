package cmd

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/api"
	"hako/engine/export"
	"hako/engine/export/containerregistry"
)

// exportCommands are hako export and hako import: an app's release
// leaves hako as an OCI image (and later manifests for other engines),
// and an exported image becomes a release on another hako.
func exportCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "export",
			Usage: "write a release as an OCI image (layout and docker-loadable tar), built without Docker",
			Flags: []cli.Flag{appFlag,
				&cli.StringFlag{Name: "release", Usage: "the release to export, vN (default: the current one)"},
				&cli.StringFlag{Name: "format", Value: "oci", Usage: "oci, compose, kubernetes or nomad"},
				&cli.StringFlag{Name: "out", Usage: "the directory to write into", Required: true},
				&cli.StringFlag{Name: "base", Usage: "a base image saved as a tar (docker save heroku/heroku:24); default: a small base from the host's stack"},
				&cli.StringSliceFlag{Name: "with", Usage: "a host program (and its libraries) to add to the default base; repeatable"},
				&cli.StringSliceFlag{Name: "with-dir", Usage: "a host directory of the stack (/usr, /opt, ...) to add whole to the default base, such as a runtime's library; repeatable"},
				&cli.StringFlag{Name: "push", Usage: "also push the image to REGISTRY/REPO, tagged vN"},
				&cli.StringFlag{Name: "image", Usage: "the image the manifests run (default: REGISTRY/REPO:vN of --push, else localhost/APP:vN, what oci's tar loads as)"},
				&cli.IntFlag{Name: "memory", Value: 512, Usage: "each process's memory in MiB, for the manifests"},
			},
			Action: func(c *cli.Context) error {
				if env.Remote {
					// Over SSH the command runs in the server: --out,
					// --base and --with would name the server's files.
					return engine.Errorf(engine.EINVALID, "export writes files on your machine: run it with the hako CLI, not over SSH.")
				}
				format := c.String("format")
				switch format {
				case "oci", "compose", "kubernetes", "nomad":
				default:
					return engine.Errorf(engine.EINVALID, "Unknown --format %q: give oci, compose, kubernetes or nomad.", format)
				}
				if m := c.Int("memory"); m < 16 {
					return engine.Errorf(engine.EINVALID, "--memory must be at least 16 (MiB).")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				if format == "oci" {
					return exportOCI(env, cl, name, c)
				}
				return exportManifests(env, cl, name, format, c)
			},
		},
		{
			Name:      "import",
			Usage:     "release an image made by hako export (its OCI layout directory or tar) on this server's app; the slug keeps its sha256",
			ArgsUsage: "DIR|IMAGE.tar",
			Flags:     []cli.Flag{appFlag, &cli.StringFlag{Name: "image", Usage: "which image of a layout holding several: APP:vN"}},
			Action: func(c *cli.Context) error {
				if env.Remote {
					return engine.Errorf(engine.EINVALID, "import reads an image on your machine: run it with the hako CLI, not over SSH.")
				}
				if c.NArg() != 1 {
					return engine.Errorf(engine.EINVALID, "Usage: hako import -a APP DIR|IMAGE.tar")
				}
				name, cl, err := appClient(env, c)
				if err != nil {
					return err
				}
				return importImage(env, cl, name, c.Args().First(), c.String("image"))
			},
		},
	}
}

// fetchRelease reads the release --release names (default: the current
// one) and its slug's description.
func fetchRelease(cl *Client, app string, c *cli.Context) (*api.ReleaseView, *api.SlugView, error) {
	v := "current"
	if s := c.String("release"); s != "" {
		n, err := export.ParseVersion(s)
		if err != nil {
			return nil, nil, engine.Errorf(engine.EINVALID, "--release: %v", err)
		}
		v = fmt.Sprint(n)
	}
	var rel api.ReleaseView
	if err := cl.Do("GET", appPath(app, "/releases/"+v), nil, &rel); err != nil {
		return nil, nil, err
	}
	if rel.Slug == nil || rel.Slug.ID == "" {
		return nil, nil, engine.Errorf(engine.EINVALID, "Release v%d of %s has no slug: export a release that deployed code.", rel.Version, app)
	}
	var slug api.SlugView
	if err := cl.Do("GET", appPath(app, "/slugs/"+rel.Slug.ID), nil, &slug); err != nil {
		return nil, nil, err
	}
	return &rel, &slug, nil
}

// exportOCI fetches the release and its slug and writes the image.
func exportOCI(env *Env, cl *Client, app string, c *cli.Context) error {
	start := time.Now()
	rel, slug, err := fetchRelease(cl, app, c)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "hako-export-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	slugFile := filepath.Join(tmp, "slug.tgz")
	if err := fetchBlob(cl, slug.Blob.URL, slugFile); err != nil {
		return err
	}
	sum, err := fileSHA256(slugFile)
	if err != nil {
		return err
	}
	if slug.Checksum != nil && *slug.Checksum != "SHA256:"+sum {
		return engine.Errorf(engine.EINTERNAL, "The slug arrived with sha256 %s, not the %s the server recorded: export again.", sum, *slug.Checksum)
	}
	r := &export.Release{App: app, Version: rel.Version, Commit: rel.Commit, SlugSHA256: sum,
		ProcessTypes: slug.ProcessTypes, CreatedAt: rel.CreatedAt}
	if r.Commit == "" && slug.Commit != nil {
		r.Commit = *slug.Commit
	}
	img, err := containerregistry.Image(r, containerregistry.Options{Slug: slugFile, Base: c.String("base"),
		Programs: c.StringSlice("with"), Dirs: c.StringSlice("with-dir"), TempDir: tmp})
	if err != nil {
		return engine.Errorf(engine.EINVALID, "Cannot build the image: %v", err)
	}
	out := c.String("out")
	file, err := containerregistry.Write(out, r, img)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Exported %s v%d as an OCI image in %s (%.1f s)\n", app, r.Version, out, time.Since(start).Seconds())
	fmt.Fprintf(env.Stdout, "Digest: %s\n", digest)
	fmt.Fprintf(env.Stdout, "Image tar: %s (%d bytes; slug %d bytes)\n", file, fi.Size(), fileSize(slugFile))
	if repo := c.String("push"); repo != "" {
		ref, err := containerregistry.Push(repo, r, img)
		if err != nil {
			return engine.Errorf(engine.EINVALID, "%v", err)
		}
		fmt.Fprintf(env.Stdout, "Pushed: %s\n", ref)
	}
	return nil
}

// importImage releases an exported image's slug on app: Heroku's slug
// import (POST /apps/APP/slugs, PUT of the archive) and a release of it.
func importImage(env *Env, cl *Client, app, src, ref string) error {
	tmp, err := os.MkdirTemp("", "hako-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	im, err := containerregistry.Read(src, ref, tmp)
	if err != nil {
		return engine.Errorf(engine.EINVALID, "Cannot import %s: %v", src, err)
	}
	body := map[string]any{"process_types": im.Release.ProcessTypes, "commit": im.Release.Commit,
		"checksum": "SHA256:" + im.Release.SlugSHA256}
	var slug api.SlugView
	if err := cl.Do("POST", appPath(app, "/slugs"), body, &slug); err != nil {
		return err
	}
	if err := putBlob(cl, slug.Blob.URL, im.Slug); err != nil {
		return err
	}
	desc := fmt.Sprintf("Import of %s v%d", im.Release.App, im.Release.Version)
	var rel api.ReleaseView
	if err := cl.Do("POST", appPath(app, "/releases"), map[string]any{"slug": slug.ID, "description": desc}, &rel); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Imported %s v%d into %s as v%d (slug sha256 %s)\n", im.Release.App, im.Release.Version, app, rel.Version, im.Release.SlugSHA256)
	return nil
}

// fetchBlob GETs a blob URL into file.
func fetchBlob(cl *Client, url, file string) error {
	resp, err := cl.streaming().Get(url)
	if err != nil {
		return engine.Errorf(engine.EINTERNAL, "Cannot fetch the slug: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readAPIError(resp)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("fetch the slug: %w", err)
	}
	return f.Close()
}

// putBlob PUTs file to a blob URL.
func putBlob(cl *Client, url, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	req, err := http.NewRequest("PUT", url, f)
	if err != nil {
		return err
	}
	req.ContentLength = fi.Size()
	resp, err := cl.streaming().Do(req)
	if err != nil {
		return engine.Errorf(engine.EINTERNAL, "Cannot upload the slug: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return readAPIError(resp)
	}
	return nil
}

func fileSize(file string) int64 {
	fi, err := os.Stat(file)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// fileSHA256 is the hex sha256 of a file.
func fileSHA256(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", file, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
