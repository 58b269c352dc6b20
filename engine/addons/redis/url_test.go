package redis

import (
	"os/exec"
	"strings"
	"testing"
)

// TestURLWorksWithRedisCLI checks the URL an app gets with the client
// most likely to be strict about it: redis-cli -u, which from version 7
// sends the URL's user name, so an empty one fails to authenticate.
func TestURLWorksWithRedisCLI(t *testing.T) {
	needRedis(t)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli is installed with redis-server but missing")
	}
	p := newProvider(t, reachableDir(t))
	url, _ := provision(t, p, "redis-url")
	for _, c := range []struct{ args, want []string }{
		{[]string{"set", "k", "v 1"}, []string{"OK"}},
		{[]string{"get", "k"}, []string{"v 1"}},
	} {
		out, err := exec.Command(cli, append([]string{"-u", url, "--no-auth-warning"}, c.args...)...).CombinedOutput()
		got := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if err != nil || strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("redis-cli -u URL %s = %q, %v; want %q", strings.Join(c.args, " "), out, err, c.want)
		}
	}
}
