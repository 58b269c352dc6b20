package buildpacks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"hako/engine"
)

// readAppFile reads regular files of the app, through links that stay in
// it, and refuses everything else without a word of what it holds.
func TestReadAppFile(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("TOP-SECRET-VALUE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, app string) // makes app/"file"
		max   int64
		want  string // content, or "" for an error
		// wantErr is the refusal's whole message; notExist wants
		// fs.ErrNotExist instead.
		wantErr  string
		notExist bool
	}{
		{name: "RegularFile", want: "go\n", setup: func(t *testing.T, app string) { write(t, app, "file", "go\n") }},
		{name: "LinkInsideApp", want: "nodejs\n", setup: func(t *testing.T, app string) {
			write(t, app, "conf/packs", "nodejs\n")
			link(t, "conf/packs", filepath.Join(app, "file"))
		}},
		{name: "LinkInsideAppThroughDotDot", want: "x\n", setup: func(t *testing.T, app string) {
			write(t, app, "real", "x\n")
			write(t, app, "sub/keep", "")
			link(t, "sub/../real", filepath.Join(app, "file"))
		}},
		{name: "AbsoluteLinkOut", wantErr: "file is a link that leads out of the app", setup: func(t *testing.T, app string) {
			link(t, outside, filepath.Join(app, "file"))
		}},
		{name: "RelativeLinkOut", wantErr: "file is a link that leads out of the app", setup: func(t *testing.T, app string) {
			rel, err := filepath.Rel(app, outside)
			if err != nil {
				t.Fatal(err)
			}
			link(t, rel, filepath.Join(app, "file"))
		}},
		{name: "AbsoluteLinkToAppItself", wantErr: "file is a link that leads out of the app", setup: func(t *testing.T, app string) {
			// Absolute links are refused even when they land in the app:
			// where they land depends on where the app was checked out.
			write(t, app, "real", "x\n")
			link(t, filepath.Join(app, "real"), filepath.Join(app, "file"))
		}},
		{name: "LinkToProcEnviron", wantErr: "file is a link that leads out of the app", setup: func(t *testing.T, app string) {
			link(t, "/proc/self/environ", filepath.Join(app, "file"))
		}},
		{name: "LinkToDevZero", wantErr: "file is a link that leads out of the app", setup: func(t *testing.T, app string) {
			link(t, "/dev/zero", filepath.Join(app, "file"))
		}},
		{name: "LinkLoop", wantErr: "file is a link that loops", setup: func(t *testing.T, app string) {
			link(t, "file", filepath.Join(app, "file"))
		}},
		{name: "FIFO", wantErr: "file is not a regular file", setup: func(t *testing.T, app string) {
			if err := syscall.Mkfifo(filepath.Join(app, "file"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "LinkToFIFOInApp", wantErr: "file is not a regular file", setup: func(t *testing.T, app string) {
			if err := syscall.Mkfifo(filepath.Join(app, "fifo"), 0o644); err != nil {
				t.Fatal(err)
			}
			link(t, "fifo", filepath.Join(app, "file"))
		}},
		{name: "Device", wantErr: "file is not a regular file", setup: func(t *testing.T, app string) {
			// A device node inside the app (only root can make one): the
			// null device's numbers, 1:3.
			if err := syscall.Mknod(filepath.Join(app, "file"), syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("cannot make a device node (root is needed): %v", err)
				}
				t.Skipf("cannot make a device node here (root is needed): %v", err)
			}
		}},
		{name: "Directory", wantErr: "file is not a regular file", setup: func(t *testing.T, app string) {
			if err := os.Mkdir(filepath.Join(app, "file"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "Oversized", max: 16, wantErr: "file is larger than 16 bytes", setup: func(t *testing.T, app string) {
			write(t, app, "file", strings.Repeat("x", 17))
		}},
		{name: "AtTheCap", max: 16, want: strings.Repeat("x", 16), setup: func(t *testing.T, app string) {
			write(t, app, "file", strings.Repeat("x", 16))
		}},
		{name: "Missing", notExist: true, setup: func(t *testing.T, app string) {}},
		{name: "DanglingLinkInApp", notExist: true, setup: func(t *testing.T, app string) {
			link(t, "nowhere", filepath.Join(app, "file"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := t.TempDir()
			tt.setup(t, app)
			max := tt.max
			if max == 0 {
				max = maxControlFile
			}
			done := make(chan struct{})
			var data []byte
			var err error
			go func() {
				defer close(done)
				data, err = readAppFile(app, "file", max)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("readAppFile hangs")
			}
			switch {
			case tt.notExist:
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("err = %v, want fs.ErrNotExist", err)
				}
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, errAppFile) {
					t.Fatalf("err = %v, want %q wrapping errAppFile (data %q)", err, tt.wantErr, data)
				}
				if strings.Contains(err.Error(), "SECRET") {
					t.Fatalf("the refusal shows the file: %v", err)
				}
			default:
				if err != nil || string(data) != tt.want {
					t.Fatalf("got %q, %v; want %q", data, err, tt.want)
				}
			}
		})
	}
}

func TestQuoteLine(t *testing.T) {
	for in, want := range map[string]string{
		"go":                     `"go"`,
		"\x1b[31mred\x00":        `"?[31mred?"`,
		"héllo":                  `"h?llo"`,
		strings.Repeat("a", 41):  `"` + strings.Repeat("a", 40) + `..."`,
		strings.Repeat("a", 40):  `"` + strings.Repeat("a", 40) + `"`,
		`say "hi"`:               `"say "hi""`,
		"tab\there":              `"tab?here"`,
		"https://example.test/x": `"https://example.test/x"`,
	} {
		if got := quoteLine(in); got != want {
			t.Errorf("quoteLine(%q) = %s, want %s", in, got, want)
		}
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, at string) {
	t.Helper()
	if err := os.Symlink(target, at); err != nil {
		t.Fatal(err)
	}
}

// A build refuses control files it will not read, before any step runs,
// saying which and why, and shows nothing of what they lead to.
func TestBuildRefusesControlFiles(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("TOP-SECRET-VALUE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HAKO_TEST_SERVER_SECRET", "ENV-SECRET-VALUE")
	for _, file := range []string{".buildpacks", ".slugignore"} {
		for _, tt := range []struct {
			name, why string
			make      func(t *testing.T, at string)
		}{
			{"Secret", "it is a link that leads out of the app", func(t *testing.T, at string) { link(t, secret, at) }},
			{"Environ", "it is a link that leads out of the app", func(t *testing.T, at string) { link(t, "/proc/self/environ", at) }},
			{"DevZero", "it is a link that leads out of the app", func(t *testing.T, at string) { link(t, "/dev/zero", at) }},
			{"FIFO", "it is not a regular file", func(t *testing.T, at string) {
				if err := syscall.Mkfifo(at, 0o644); err != nil {
					t.Fatal(err)
				}
			}},
			{"Huge", "it is larger than 64 KiB", func(t *testing.T, at string) {
				if err := os.WriteFile(at, []byte(strings.Repeat("TOP-SECRET-VALUE\n", 4000)), 0o644); err != nil {
					t.Fatal(err)
				}
			}},
		} {
			t.Run(file+"/"+tt.name, func(t *testing.T) {
				b, slugDir, _ := newTestBuilder(t)
				src := t.TempDir()
				write(t, src, "Procfile", "web: ./run\n")
				tt.make(t, filepath.Join(src, file))
				var out lockedBuffer
				_, err := b.Build(context.Background(), engine.BuildRequest{App: "sneaky", SourceDir: src, Out: &out})
				want := fmt.Sprintf(" !     The app's %s file could not be read: %s.\n", file, tt.why)
				if engine.ErrorCode(err) != engine.EBUILD || !strings.Contains(out.String(), want) {
					t.Fatalf("err = %v, want the output to hold %q; output:\n%s", err, want, out.String())
				}
				for _, leak := range []string{"SECRET-VALUE", "HAKO_TEST_SERVER_SECRET"} {
					if strings.Contains(out.String()+err.Error(), leak) {
						t.Errorf("the refusal shows %s:\n%s", leak, out.String())
					}
				}
				if len(listDir(t, slugDir)) > 0 {
					t.Error("a slug was stored")
				}
			})
		}
	}
}

// An invalid line of .buildpacks is named by its number, shown short and
// cleaned, with what a line may hold.
func TestBuildpacksFileBadLine(t *testing.T) {
	b, _, _ := newTestBuilder(t)
	src := t.TempDir()
	write(t, src, "Procfile", "web: ./run\n")
	write(t, src, ".buildpacks", "# packs\n\ngo\n/etc/\x1b[2J"+strings.Repeat("x", 100)+"\n")
	var out lockedBuffer
	_, err := b.Build(context.Background(), engine.BuildRequest{App: "sneaky", SourceDir: src, Out: &out})
	want := ` !     Line 4 of .buildpacks ("/etc/?[2J` + strings.Repeat("x", 31) + `...") is not a buildpack an app may name: ` +
		"each line holds a built-in pack (go, nodejs, procfile), the name of a pack installed on the server, " +
		"or a remote git URL (https://..., git@..., at most 512 characters, with an optional #ref).\n"
	if engine.ErrorCode(err) != engine.EBUILD || !strings.Contains(out.String(), want) {
		t.Fatalf("err = %v, want the output to hold\n%s\noutput:\n%s", err, want, out.String())
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Error("the escape sequence reached the pusher")
	}
}
