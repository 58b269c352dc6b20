package containerregistry

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"hako/engine/export"
)

// refAnnotation names an image in an OCI layout's index.
const refAnnotation = "org.opencontainers.image.ref.name"

// LocalTag is the name `docker load` and `podman load` give the image:
// localhost/APP:vN.
func LocalTag(rel *export.Release) (name.Tag, error) {
	return name.NewTag(fmt.Sprintf("localhost/%s:v%d", rel.App, rel.Version))
}

// Write writes img into dir as an OCI image layout (index.json,
// blobs/), replacing an earlier export of the same release, and beside
// it APP-vN.tar, the image as docker save writes it. It returns the tar's
// path.
func Write(dir string, rel *export.Release, img v1.Image) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return "", fmt.Errorf("write the OCI layout in %s: %w", dir, err)
		}
	}
	tag, err := LocalTag(rel)
	if err != nil {
		return "", err
	}
	ref := fmt.Sprintf("%s:v%d", rel.App, rel.Version)
	if err := p.ReplaceImage(img, match.Annotation(refAnnotation, ref),
		layout.WithAnnotations(map[string]string{refAnnotation: ref})); err != nil {
		return "", fmt.Errorf("write the OCI layout in %s: %w", dir, err)
	}
	file := filepath.Join(dir, rel.Name()+".tar")
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		return "", fmt.Errorf("write %s: %w", file, err)
	}
	return file, nil
}

// Push pushes img to repo (REGISTRY/REPO) tagged vN, with the
// credentials of docker's configuration when it has some.
func Push(repo string, rel *export.Release, img v1.Image) (string, error) {
	tag, err := name.NewTag(fmt.Sprintf("%s:v%d", repo, rel.Version))
	if err != nil {
		return "", fmt.Errorf("--push %s: %w", repo, err)
	}
	if err := remote.Write(tag, img, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return "", fmt.Errorf("push to %s: %w", tag, err)
	}
	return tag.String(), nil
}

// Imported is what import takes from an exported image.
type Imported struct {
	Release export.Release
	// Slug is the slug archive, extracted to a file in the caller's
	// directory, whose sha256 is Release.SlugSHA256.
	Slug string
}

// Read reads an image that export wrote — an OCI layout directory (its
// only image, or the one named APP:vN by ref) or a docker-save tar — and
// extracts its slug archive into tmp, checking it against the label.
func Read(src, ref, tmp string) (*Imported, error) {
	img, err := open(src, ref)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read the image's config: %w", err)
	}
	labels := cf.Config.Labels
	want := labels[export.LabelSlugSHA256]
	if want == "" || labels[export.LabelApp] == "" {
		return nil, errors.New("this image was not exported by hako: it has no io.hako.slug.sha256 label")
	}
	im := &Imported{Release: export.Release{App: labels[export.LabelApp], Commit: labels[export.LabelCommit], SlugSHA256: want}}
	if v, err := export.ParseVersion(labels[export.LabelRelease]); err == nil {
		im.Release.Version = v
	}
	if err := json.Unmarshal([]byte(labels[export.LabelProcessTypes]), &im.Release.ProcessTypes); err != nil {
		return nil, fmt.Errorf("the image's process types label is not JSON: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("read the image's layers: %w", err)
	}
	for i := len(layers) - 1; i >= 0; i-- {
		file, err := extract(layers[i], export.SlugPath, tmp)
		if err != nil {
			return nil, err
		}
		if file == "" {
			continue
		}
		sum, err := fileSHA256(file)
		if err != nil {
			return nil, err
		}
		if sum != want {
			return nil, fmt.Errorf("the image's slug archive has sha256 %s, not the %s its label says", sum, want)
		}
		im.Slug = file
		return im, nil
	}
	return nil, fmt.Errorf("this image holds no /%s", export.SlugPath)
}

// open opens the image at src.
func open(src, ref string) (v1.Image, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		img, err := tarball.ImageFromPath(src, nil)
		if err != nil {
			return nil, fmt.Errorf("read %s as an image tar: %w", src, err)
		}
		return img, nil
	}
	p, err := layout.FromPath(src)
	if err != nil {
		return nil, fmt.Errorf("read %s as an OCI layout: %w", src, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("read %s as an OCI layout: %w", src, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read %s as an OCI layout: %w", src, err)
	}
	var pick []v1.Descriptor
	for _, d := range m.Manifests {
		if ref == "" || d.Annotations[refAnnotation] == ref {
			pick = append(pick, d)
		}
	}
	switch {
	case len(pick) == 0 && ref != "":
		return nil, fmt.Errorf("%s holds no image named %s", src, ref)
	case len(pick) == 0:
		return nil, fmt.Errorf("%s holds no image", src)
	case len(pick) > 1:
		return nil, fmt.Errorf("%s holds %d images: name one with --image APP:vN", src, len(pick))
	}
	return idx.Image(pick[0].Digest)
}

// extract copies the file named want out of layer into dir, "" when the
// layer has none.
func extract(layer v1.Layer, want, dir string) (string, error) {
	rc, err := layer.Uncompressed()
	if err != nil {
		return "", fmt.Errorf("read a layer: %w", err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("read a layer: %w", err)
		}
		if hdr.Name != want && hdr.Name != "/"+want && hdr.Name != "./"+want {
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return "", fmt.Errorf("the image's /%s is not a file", want)
		}
		f, err := os.CreateTemp(dir, "slug-*.tgz")
		if err != nil {
			return "", err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Close()
			return "", fmt.Errorf("read the slug archive: %w", err)
		}
		return f.Name(), f.Close()
	}
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
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
