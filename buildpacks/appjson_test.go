package buildpacks

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"hako/engine"
)

// ReadAppJSON reads app.json only as a regular file inside the app.
func TestReadAppJSON(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "app.json")
	if err := os.WriteFile(outside, []byte(`{"env": {"LEAK": "TOP-SECRET"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, app string)
		wantErr string // "" for success
		none    bool
	}{
		{name: "Missing", none: true, setup: func(*testing.T, string) {}},
		{name: "Regular", setup: func(t *testing.T, app string) {
			write(t, app, "app.json", `{"formation": {"worker": {"quantity": 1}}}`)
		}},
		{name: "LinkOut", wantErr: "app.json could not be read: it is a link that leads out of the app.", setup: func(t *testing.T, app string) {
			link(t, outside, filepath.Join(app, "app.json"))
		}},
		{name: "Proc", wantErr: "app.json could not be read: it is a link that leads out of the app.", setup: func(t *testing.T, app string) {
			link(t, "/proc/self/environ", filepath.Join(app, "app.json"))
		}},
		{name: "FIFO", wantErr: "app.json could not be read: it is not a regular file.", setup: func(t *testing.T, app string) {
			if err := syscall.Mkfifo(filepath.Join(app, "app.json"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "Directory", wantErr: "app.json could not be read: it is not a regular file.", setup: func(t *testing.T, app string) {
			if err := os.Mkdir(filepath.Join(app, "app.json"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "TooLarge", wantErr: "app.json could not be read: it is larger than 256 KiB.", setup: func(t *testing.T, app string) {
			write(t, app, "app.json", `{"x": "`+strings.Repeat("a", engine.MaxAppJSON)+`"}`)
		}},
		{name: "Invalid", wantErr: "app.json: formation.worker.quantity must be a number", setup: func(t *testing.T, app string) {
			write(t, app, "app.json", `{"formation": {"worker": {"quantity": "one"}}}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := t.TempDir()
			tc.setup(t, app)
			a, err := ReadAppJSON(app)
			switch {
			case tc.wantErr != "":
				if err == nil || engine.ErrorMessage(err) != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "TOP-SECRET") {
					t.Fatalf("the refusal shows what the file holds: %v", err)
				}
			case tc.none:
				if a != nil || err != nil {
					t.Fatalf("got %v, %v; want nothing", a, err)
				}
			default:
				if err != nil || a.Formation["worker"].Quantity != 1 {
					t.Fatalf("got %+v, %v", a, err)
				}
			}
		})
	}
}

// FuzzAppJSON checks that any app.json either reads into a value whose
// kept form is valid JSON that reads the same again, or fails with an
// EINVALID error that names app.json, never a panic.
func FuzzAppJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"env": {"A": "b", "S": {"generator": "secret"}, "R": {"required": true}}}`,
		`{"formation": {"web": {"quantity": 1e400}}}`, `{"healthchecks": {"web": [{"attempts": -1}]}}`,
		`{"cron": [{"command": "x", "schedule": "@daily"}]}`, "{\n\"a\": [1,,]}", `{"addons": [{"plan": ""}]}`,
		`{"scripts": {"dokku": null}}`, "\xff", `{"a":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		app := t.TempDir()
		if err := os.WriteFile(filepath.Join(app, "app.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		a, err := ReadAppJSON(app)
		if err != nil {
			if engine.ErrorCode(err) != engine.EINVALID || !strings.HasPrefix(engine.ErrorMessage(err), "app.json") {
				t.Fatalf("error %v is not an EINVALID about app.json", err)
			}
			return
		}
		if !json.Valid(a.Raw) {
			t.Fatalf("kept form %q is not valid JSON", a.Raw)
		}
		b, err := engine.ParseAppJSON(a.Raw)
		if err != nil || !bytes.Equal(b.Raw, a.Raw) {
			t.Fatalf("kept form does not read again: %v", err)
		}
	})
}
