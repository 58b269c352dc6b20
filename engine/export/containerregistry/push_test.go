package containerregistry

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPush pushes an image to a registry on loopback (go-containerregistry's
// own, in memory) and pulls it back by its tag: same digest.
func TestPush(t *testing.T) {
	reg := httptest.NewServer(registry.New())
	t.Cleanup(reg.Close)
	slug, sum := writeSlug(t, demoFiles)
	rel := testRelease(sum)
	img, err := Image(rel, Options{Slug: slug, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	repo := strings.TrimPrefix(reg.URL, "http://") + "/team/demo"
	ref, err := Push(repo, rel, img)
	if err != nil {
		t.Fatal(err)
	}
	if want := repo + ":v3"; ref != want {
		t.Errorf("pushed %s, want %s", ref, want)
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	back, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := back.Digest()
	want, _ := img.Digest()
	if got != want {
		t.Errorf("pulled digest %s, pushed %s", got, want)
	}
	if _, err := Push("not a repo!", rel, img); err == nil {
		t.Error("a push to a malformed repository succeeded")
	}
}
