// Package containerregistry writes a hako release as an OCI image with
// github.com/google/go-containerregistry, the library that builds,
// stores and pushes images without a Docker daemon, and reads such an
// image back for import.
//
// The image's layers are a base (the stack), the slug at /app, and a
// small layer with the entrypoint and the slug archive as it was. Every
// timestamp is the release's and every layer is written in a fixed
// order, so the same release exports to the same digest.
package containerregistry

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"hako/engine/export"
)

// AppUID is the owner of /app and the user the image runs as: an
// ordinary user, as a dyno is, who can write /app as on Heroku.
const AppUID = 1000

// Options say where an image's parts come from.
type Options struct {
	// Slug is the path of the release's slug archive (a tar.gz of the
	// app's directory).
	Slug string
	// Base is the path of a base image saved as a tar (docker save,
	// podman save); "" assembles one from the host (writeHostBase).
	Base string
	// Programs are host programs the assembled base holds besides
	// BasePrograms.
	Programs []string
	// Dirs are host directories the assembled base holds whole, within
	// StackDirs.
	Dirs []string
	// TempDir holds the layers while they are built; the caller removes
	// it.
	TempDir string
}

// Image builds the OCI image of rel.
func Image(rel *export.Release, opts Options) (v1.Image, error) {
	mtime := rel.CreatedAt.UTC().Truncate(time.Second)
	base, err := baseImage(opts, mtime)
	if err != nil {
		return nil, err
	}
	appTar := filepath.Join(opts.TempDir, "app.tar")
	if err := writeTarFile(appTar, func(w io.Writer) error { return writeAppLayer(w, opts.Slug) }); err != nil {
		return nil, fmt.Errorf("slug layer: %w", err)
	}
	hakoTar := filepath.Join(opts.TempDir, "hako.tar")
	if err := writeTarFile(hakoTar, func(w io.Writer) error { return writeHakoLayer(w, opts.Slug, mtime) }); err != nil {
		return nil, fmt.Errorf("entrypoint layer: %w", err)
	}
	var adds []mutate.Addendum
	for _, l := range []struct{ file, by string }{
		{appTar, "hako: the slug " + rel.SlugSHA256 + " at /app"},
		{hakoTar, "hako: the entrypoint and the slug archive"},
	} {
		layer, err := tarball.LayerFromFile(l.file, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
		adds = append(adds, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
			History: v1.History{Created: v1.Time{Time: mtime}, CreatedBy: l.by}})
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, fmt.Errorf("append layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cf = cf.DeepCopy()
	types_, err := json.Marshal(rel.ProcessTypes)
	if err != nil {
		return nil, err
	}
	cf.Created = v1.Time{Time: mtime}
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	if cf.Config.Labels == nil {
		cf.Config.Labels = map[string]string{}
	}
	for k, v := range rel.Labels(string(types_)) {
		cf.Config.Labels[k] = v
	}
	cf.Config.Env = mergeEnv(cf.Config.Env, []string{
		"PATH=/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/app",
		fmt.Sprintf("PORT=%d", export.DefaultPort),
	})
	cf.Config.Entrypoint = []string{"/" + export.StartPath}
	cf.Config.Cmd = []string{rel.DefaultCommand()}
	cf.Config.WorkingDir = "/app"
	cf.Config.User = fmt.Sprintf("%d:%d", AppUID, AppUID)
	cf.Config.ExposedPorts = map[string]struct{}{fmt.Sprintf("%d/tcp", export.DefaultPort): {}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	return mutate.ConfigMediaType(img, types.OCIConfigJSON), nil
}

// baseImage is the --base image, or the one assembled from the host.
func baseImage(opts Options, mtime time.Time) (v1.Image, error) {
	if opts.Base != "" {
		if len(opts.Programs)+len(opts.Dirs) > 0 {
			return nil, fmt.Errorf("--with and --with-dir add to the default base, not to --base")
		}
		img, err := tarball.ImageFromPath(opts.Base, nil)
		if err != nil {
			return nil, fmt.Errorf("read the base image %s: %w", opts.Base, err)
		}
		return img, nil
	}
	baseTar := filepath.Join(opts.TempDir, "base.tar")
	if err := writeTarFile(baseTar, func(w io.Writer) error { return writeHostBase(w, opts.Programs, opts.Dirs, mtime) }); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromFile(baseTar, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	return mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: v1.Time{Time: mtime}, CreatedBy: "hako: a base from the host's stack"}})
}

// mergeEnv sets vars over env, each NAME=value replacing env's NAME.
func mergeEnv(env, vars []string) []string {
	out := make([]string, 0, len(env)+len(vars))
	set := map[string]bool{}
	for _, v := range vars {
		set[strings.SplitN(v, "=", 2)[0]] = true
	}
	for _, v := range env {
		if !set[strings.SplitN(v, "=", 2)[0]] {
			out = append(out, v)
		}
	}
	return append(out, vars...)
}

// writeTarFile writes a tar made by fill to file.
func writeTarFile(file string, fill func(io.Writer) error) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeAppLayer writes the slug's entries under app/, owned by AppUID.
// A name that would leave /app, or an entry that is neither a file, a
// directory nor a link, is refused: a slug from an import is anyone's.
func writeAppLayer(w io.Writer, slug string) error {
	f, err := os.Open(slug)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("the slug is not a tar.gz: %w", err)
	}
	tr := tar.NewReader(gz)
	tw := tar.NewWriter(w)
	top := &tar.Header{Typeflag: tar.TypeDir, Name: "app/", Mode: 0o755, Uid: AppUID, Gid: AppUID, ModTime: time.Unix(0, 0)}
	if err := tw.WriteHeader(top); err != nil {
		return err
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read the slug: %w", err)
		}
		name, ok := inApp(hdr.Name)
		if !ok {
			return fmt.Errorf("the slug's entry %q lies outside the app's directory", hdr.Name)
		}
		if name == "app/" {
			continue
		}
		out := &tar.Header{Name: name, Mode: hdr.Mode &^ 0o7000, Size: hdr.Size, ModTime: hdr.ModTime,
			Uid: AppUID, Gid: AppUID, Format: tar.FormatPAX}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeDir:
			out.Typeflag = hdr.Typeflag
		case tar.TypeSymlink:
			out.Typeflag, out.Linkname = tar.TypeSymlink, hdr.Linkname
		case tar.TypeLink:
			target, ok := inApp(hdr.Linkname)
			if !ok {
				return fmt.Errorf("the slug's hard link %q leads outside the app's directory", hdr.Name)
			}
			out.Typeflag, out.Linkname, out.Size = tar.TypeLink, strings.TrimSuffix(target, "/"), 0
		default:
			continue // the slug writer keeps no other kinds
		}
		if err := tw.WriteHeader(out); err != nil {
			return err
		}
		if out.Typeflag == tar.TypeReg {
			if _, err := io.CopyN(tw, tr, hdr.Size); err != nil {
				return fmt.Errorf("read the slug: %w", err)
			}
		}
	}
	return tw.Close()
}

// inApp maps a slug entry's name to its name under app/, false for one
// that would leave it.
func inApp(name string) (string, bool) {
	dir := strings.HasSuffix(name, "/")
	if strings.HasPrefix(name, "/") || slices.Contains(strings.Split(name, "/"), "..") {
		return "", false
	}
	clean := path.Clean("/" + name)
	if clean == "/" {
		return "app/", true
	}
	if dir {
		clean += "/"
	}
	return "app" + clean, true
}

// writeHakoLayer writes /hako/start and the slug archive at
// /hako/slug.tgz, root's and read-only.
func writeHakoLayer(w io.Writer, slug string, mtime time.Time) error {
	fi, err := os.Stat(slug)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeDir, Name: path.Dir(export.StartPath) + "/", Mode: 0o755},
		{Typeflag: tar.TypeReg, Name: export.StartPath, Mode: 0o755, Size: int64(len(export.StartScript))},
		{Typeflag: tar.TypeReg, Name: export.SlugPath, Mode: 0o444, Size: fi.Size()},
	} {
		h.ModTime, h.Format = mtime, tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		switch h.Name {
		case export.StartPath:
			if _, err := io.WriteString(tw, export.StartScript); err != nil {
				return err
			}
		case export.SlugPath:
			if err := copyFile(tw, slug, h.Size); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}
