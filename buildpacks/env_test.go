package buildpacks

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestBuildEnv(t *testing.T) {
	tests := []struct {
		name  string
		host  []string
		extra map[string]string
		want  []string
	}{
		{
			name:  "only allowed host variables pass",
			host:  []string{"PATH=/usr/bin:/bin", "HTTPS_PROXY=http://proxy:3128", "FOO=bar", "AWS_SECRET_ACCESS_KEY=x", "HOME=/home/server", "https_proxy=http://p"},
			extra: map[string]string{"HOME": "/tmp/home", "STACK": "heroku-24"},
			want:  []string{"HOME=/tmp/home", "HTTPS_PROXY=http://proxy:3128", "PATH=/usr/bin:/bin", "STACK=heroku-24", "https_proxy=http://p"},
		},
		{
			name: "registry, CA and Go settings pass",
			host: []string{"PATH=/bin", "GOPROXY=off", "GOFLAGS=-mod=vendor", "npm_config_registry=http://r", "SSL_CERT_FILE=/ca.pem", "NODE_EXTRA_CA_CERTS=/ca.pem", "GOPATH=/go", "NODE_OPTIONS=--x"},
			want: []string{"GOFLAGS=-mod=vendor", "GOPROXY=off", "NODE_EXTRA_CA_CERTS=/ca.pem", "PATH=/bin", "SSL_CERT_FILE=/ca.pem", "npm_config_registry=http://r"},
		},
		{
			name: "a missing PATH gets a default",
			host: []string{"FOO=bar"},
			want: []string{"PATH=" + defaultPath},
		},
		{
			name:  "extra overrides the host",
			host:  []string{"PATH=/bin", "GOFLAGS=-x"},
			extra: map[string]string{"GOFLAGS": "-y"},
			want:  []string{"GOFLAGS=-y", "PATH=/bin"},
		},
		{
			name: "malformed entries are skipped",
			host: []string{"PATH", "=x", "PATH=/bin"},
			want: []string{"PATH=/bin"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := buildEnv(tt.host, tt.extra); !slices.Equal(got, tt.want) {
				t.Errorf("buildEnv = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseExportedEnv(t *testing.T) {
	before := []string{"PATH=/bin", "HOME=/h", "GONE=1"}
	out := []byte("PATH=/x:/bin\x00HOME=/h\x00PWD=/build\x00SHLVL=1\x00_=/usr/bin/env\x00NEW=a\nb\x00")
	want := []string{"HOME=/h", "NEW=a\nb", "PATH=/x:/bin"}
	if got := parseExportedEnv(out, before); !slices.Equal(got, want) {
		t.Errorf("parseExportedEnv = %q, want %q", got, want)
	}
}

func TestWriteEnvDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "env")
	err := writeEnvDir(dir, map[string]string{"DATABASE_URL": "postgres://x", "../evil": "x", "A B": "y", "EMPTY": ""})
	if err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{"DATABASE_URL", "EMPTY"}) {
		t.Errorf("env dir holds %v", got)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "DATABASE_URL")); string(data) != "postgres://x" {
		t.Errorf("DATABASE_URL = %q", data)
	}
}
