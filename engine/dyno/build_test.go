package dyno

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"hako/engine"
)

func TestBuildMounts(t *testing.T) {
	tests := []struct {
		name               string
		writable, readOnly []string
		want               []bindMount
		wantErr            string
	}{
		{"none", nil, nil, []bindMount{}, ""},
		{
			"sorted, parents first, cleaned",
			[]string{"/srv/work/build/", "/tmp/x/cache"}, []string{"/srv/work/packs", "/srv//work"},
			[]bindMount{{"/srv/work", false}, {"/srv/work/build", true}, {"/srv/work/packs", false}, {"/tmp/x/cache", true}}, "",
		},
		{"writable wins", []string{"/a"}, []string{"/a", "/a/"}, []bindMount{{"/a", true}}, ""},
		{"under a system dir", nil, []string{"/usr/src/app"}, []bindMount{{"/usr/src/app", false}}, ""},
		{"relative", []string{"build"}, nil, nil, "not an absolute path"},
		{"root", nil, []string{"/"}, nil, "cannot be bound"},
		{"all of /tmp", []string{"/tmp/"}, nil, nil, "cannot be bound"},
		{"proc", nil, []string{"/proc/1"}, nil, "cannot be bound"},
		{"dev", []string{"/dev"}, nil, nil, "cannot be bound"},
		{"sys", nil, []string{"/sys/fs/cgroup"}, nil, "cannot be bound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := buildMounts(tt.writable, tt.readOnly)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("buildMounts = %v, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("buildMounts = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestCommandChecksSpec(t *testing.T) {
	s := New(Options{Isolate: ModeNamespaces, ScratchDir: t.TempDir()})
	for _, sp := range []engine.SandboxSpec{
		{Name: "empty"},
		{Name: "relative", Argv: []string{"true"}, Writable: []string{"rel"}},
		{Name: "dir unseen", Argv: []string{"true"}, Writable: []string{"/srv/a"}, Dir: "/srv/b"},
	} {
		if _, _, err := s.Command(context.Background(), sp); err == nil {
			t.Errorf("Command(%+v) gave no error", sp)
		}
	}
}
