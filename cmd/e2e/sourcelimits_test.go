package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"hako/engine/frame"
)

// TestSourceLimits checks the bounds of a deploy: a decompression bomb
// posted to the builds API is refused while it arrives, a push naming a
// file past the limit is refused before its checkout, a slug past the
// limit is refused in Heroku's words, and none of them leaves anything.
func TestSourceLimits(t *testing.T) {
	need(t, "python3")
	s := startServer(t, "--max-source", "64", "--max-slug", "1")
	s.hako(t, "apps:create", "bomb")
	if out := s.hako(t, "apps:info", "-a", "bomb"); !hasLineMatch(out, `Limits: +source 64 MiB and 200000 files, build 4096 MiB and 15m0s, slug 1 MB compressed, repository 2048 MiB`) {
		t.Errorf("apps:info does not show the limits:\n%s", out)
	}

	// 1 GiB of zeros, about 1 MB compressed, made as it is sent.
	var sent atomic.Int64
	pr, pw := io.Pipe()
	go func() {
		gz, _ := gzip.NewWriterLevel(pw, gzip.BestSpeed)
		tw := tar.NewWriter(gz)
		err := tw.WriteHeader(&tar.Header{Name: "Procfile", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4})
		if err == nil {
			_, err = tw.Write([]byte("web:"))
		}
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 30})
		}
		chunk := make([]byte, 1<<20)
		for i := 0; i < 1024 && err == nil; i++ {
			_, err = tw.Write(chunk)
			sent.Add(int64(len(chunk)))
		}
		if err == nil {
			err = tw.Close()
		}
		if err == nil {
			err = gz.Close()
		}
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	var info struct {
		APIURL string `json:"api_url"`
		Token  string `json:"token"`
	}
	b, _ := os.ReadFile(filepath.Join(s.home, "server.json"))
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", info.APIURL+"/apps/bomb/builds", pr)
	req.Header.Set("Authorization", "Bearer "+info.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	exit := byte(255)
	for {
		kind, p, err := frame.Read(resp.Body)
		if err != nil {
			break
		}
		switch kind {
		case frame.Output:
			out.Write(p)
		case frame.Exit:
			exit = p[0]
		}
	}
	resp.Body.Close()
	want := " !     The uploaded source is too large: it expands to more than 64 MiB (the limit is 64 MiB). Leave out what the build does not need, or raise the server's --max-source."
	if exit != 1 || !hasLine(out.String(), want) {
		t.Errorf("the bomb's build: exit %d, output:\n%s\nwant the line %q", exit, out.String(), want)
	}
	if n := sent.Load(); n >= 1<<30 {
		t.Errorf("the server read the whole bomb (%d MiB expanded) before refusing it", n>>20)
	}

	// A push of a file past the limit.
	dir := repo(t, "procfile-app")
	big, err := os.Create(filepath.Join(dir, "big"))
	if err == nil {
		err = big.Truncate(100 << 20)
		big.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "big")
	git(t, dir, "commit", "-qm", "a big file")
	pushOut, err := s.push(dir, s.key, "bomb", "main")
	if want := "remote:  !     Push rejected: the pushed source is too large: it expands to more than 64 MiB (the limit is 64 MiB). Leave out what the build does not need, or raise the server's --max-source."; err == nil || !hasLineMatch(pushOut, regexp.QuoteMeta(want)+`\s*`) {
		t.Errorf("push of a 100 MiB file: %v\n%s\nwant the line %q", err, pushOut, want)
	}
	if out, err := exec.Command("git", "--git-dir", filepath.Join(s.home, "repos", "bomb.git"), "rev-parse", "--verify", "-q", "refs/heads/main").CombinedOutput(); err == nil {
		t.Errorf("the refused push moved main to %s", out)
	}

	// A slug past --max-slug (1 MB): 2 MB that do not compress.
	dir = repo(t, "procfile-app")
	noise := make([]byte, 2<<20)
	_, _ = rand.Read(noise)
	if err := os.WriteFile(filepath.Join(dir, "noise"), noise, 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "noise")
	git(t, dir, "commit", "-qm", "noise")
	pushOut, err = s.push(dir, s.key, "bomb", "main")
	if err == nil || !hasLineMatch(pushOut, `remote:  !     Compiled slug size: 2\.\dM is too large \(max is 1M\)\.\s*`) {
		t.Errorf("push of a 2 MB slug: %v\n%s", err, pushOut)
	}

	if slugs, _ := os.ReadDir(filepath.Join(s.home, "slugs")); len(slugs) != 0 {
		t.Errorf("slugs stored: %v", slugs)
	}
	if out := s.hako(t, "releases", "-a", "bomb"); strings.Contains(out, "Deploy") {
		t.Errorf("a release was made:\n%s", out)
	}
}
