//go:build unix

package dyno

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"hako/engine"
)

func TestWrapperScript(t *testing.T) {
	tests := []struct {
		name, command, want string
	}{
		{"plain", "echo hi", "a b profile|hi"},
		{"variables and pipes", `echo "$GREETING" | tr a-z A-Z`, "a b profile|HELLO WORLD"},
		{"quotes stay shell text", `printf '%s\n' "it's" 'x"y'`, "a b profile|it's\nx\"y"},
		{"exec replaces the shell", `exec echo "$PROFILE_ORDER"`, "a b profile|a b profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := WrapperScript(tt.command)
			if !strings.HasPrefix(script, profileScript) || !strings.HasSuffix(script, "\n"+tt.command+"\n") {
				t.Fatalf("script does not end with the command on its own line:\n%s", script)
			}
			// Run it for real, printing what the profile left in
			// $PROFILE_ORDER just before the command's own output.
			dir := slugDir(t)
			run := exec.Command("/bin/sh", "-c", strings.Replace(script, "\n"+tt.command, "\nprintf '%s|' \"$PROFILE_ORDER\"\n"+tt.command, 1))
			run.Env = []string{"HOME=" + dir, "GREETING=hello world", "PATH=/usr/bin:/bin"}
			out, err := run.CombinedOutput()
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out)
			}
			if got := strings.TrimSuffix(string(out), "\n"); got != tt.want {
				t.Errorf("output = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWrapperScriptWithoutProfile(t *testing.T) {
	run := exec.Command("/bin/sh", "-c", WrapperScript("echo ok"))
	run.Env = []string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
	out, err := run.CombinedOutput()
	if err != nil || string(out) != "ok\n" {
		t.Fatalf("got %q, %v; want \"ok\\n\"", out, err)
	}
}

func TestDynoEnv(t *testing.T) {
	sp := engine.DynoSpec{
		Name: "web.2", Dir: "/srv/app",
		Env: map[string]string{"A": "1", "PORT": "1", "DYNO": "x", "HOME": "/", "PATH": "/nope"},
	}
	tests := []struct {
		name     string
		port     int
		hostPath string
		want     []string
	}{
		{"web", 5000, "/usr/bin:/bin", []string{"A=1", "DYNO=web.2", "HOME=/srv/app", "PATH=/srv/app/bin:/usr/bin:/bin", "PORT=5000"}},
		{"worker keeps no PORT of its own", 0, "/bin", []string{"A=1", "DYNO=web.2", "HOME=/srv/app", "PATH=/srv/app/bin:/bin", "PORT=1"}},
		{"empty host PATH", 0, "", []string{"A=1", "DYNO=web.2", "HOME=/srv/app", "PATH=/srv/app/bin", "PORT=1"}},
	}
	isolated := dynoEnv(sp, 0, "/bin", appDir)
	if want := []string{"A=1", "DYNO=web.2", "HOME=/app", "PATH=/app/bin:/bin", "PORT=1"}; !slices.Equal(isolated, want) {
		t.Errorf("dynoEnv in a private root = %q, want %q", isolated, want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dynoEnv(sp, tt.port, tt.hostPath, sp.Dir); !slices.Equal(got, tt.want) {
				t.Errorf("dynoEnv = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	base, max := time.Second, 5*time.Second
	want := []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if got := backoff(i+1, base, max); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := backoff(200, time.Second, 20*time.Minute); got != 20*time.Minute {
		t.Errorf("backoff(200) = %v, want the cap", got)
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second:       "30 seconds",
		time.Second:            "1 second",
		300 * time.Millisecond: "300ms",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestCopyLines(t *testing.T) {
	long := strings.Repeat("x", maxLine+10)
	in := "one\r\ntwo\n\nthree" + "\n" + long
	var got []string
	done := make(chan struct{})
	copyLines(strings.NewReader(in), func(s string) { got = append(got, s) }, done)
	<-done
	want := []string{"one", "two", "", "three", long[:maxLine], long[maxLine:]}
	if !slices.Equal(got, want) {
		t.Errorf("lines = %d %q..., want %d", len(got), got[:min(len(got), 4)], len(want))
	}
}
