package cmd

import (
	"io"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"hako/engine"
	"hako/engine/dyno"
)

// classroomConfig runs the classroom flags of args over the defaults of
// `hako server`, as its Action does, without starting anything.
func classroomConfig(t *testing.T, mode dyno.Mode, args ...string) (serverConfig, error) {
	t.Helper()
	var cfg serverConfig
	var applyErr error
	flags := append([]cli.Flag{}, classroomFlags...)
	for _, f := range serverCommand(&Env{}).Flags {
		for _, n := range f.Names() {
			for _, p := range append(publicFlags, "domain") {
				if n == p {
					flags = append(flags, f)
				}
			}
		}
	}
	app := &cli.App{Name: "t", Flags: flags, Writer: io.Discard, ErrWriter: io.Discard, Action: func(c *cli.Context) error {
		cfg = serverConfig{SSHAddr: c.String("ssh-addr"), HTTPAddr: c.String("http-addr"), HTTPSAddr: c.String("https-addr"),
			APIAddr: c.String("api-addr"), RendezvousAddr: c.String("rendezvous-addr"), Domain: c.String("domain")}
		applyErr = applyClassroom(c, &cfg, mode)
		return nil
	}}
	if err := app.Run(append([]string{"t"}, args...)); err != nil {
		t.Fatal(err)
	}
	return cfg, applyErr
}

func TestClassroomFlags(t *testing.T) {
	unsafeRefusal := "Other machines could reach this server"
	cases := []struct {
		name    string
		mode    dyno.Mode
		args    []string
		wantErr string
		// want are the addresses after the flags, ssh http https api rendezvous.
		want string
	}{
		{"default stays on loopback", dyno.ModeAuto, nil, "", "127.0.0.1:2222 127.0.0.1:8080 127.0.0.1:8443 127.0.0.1:8081 127.0.0.1:8082"},
		{"public needs isolation", dyno.ModeAuto, []string{"--public"}, unsafeRefusal, ""},
		{"public, isolated", dyno.ModeNamespaces, []string{"--public"}, "", "0.0.0.0:2222 0.0.0.0:8080 0.0.0.0:8443 0.0.0.0:8081 0.0.0.0:8082"},
		{"public, unsafe", dyno.ModeAuto, []string{"--public", "--i-know-it-is-unsafe"}, "", "0.0.0.0:2222 0.0.0.0:8080 0.0.0.0:8443 0.0.0.0:8081 0.0.0.0:8082"},
		{"public keeps a given address", dyno.ModeNamespaces, []string{"--public", "--api-addr", "127.0.0.1:9000"}, "", "0.0.0.0:2222 0.0.0.0:8080 0.0.0.0:8443 127.0.0.1:9000 0.0.0.0:8082"},
		{"an exposed address needs isolation too", dyno.ModeAuto, []string{"--http-addr", "0.0.0.0:8080"}, unsafeRefusal, ""},
		{"so does every interface", dyno.ModeAuto, []string{"--ssh-addr", ":2222"}, unsafeRefusal, ""},
		{"localhost is loopback", dyno.ModeAuto, []string{"--http-addr", "localhost:8080"}, "", "127.0.0.1:2222 localhost:8080 127.0.0.1:8443 127.0.0.1:8081 127.0.0.1:8082"},
		{"dns needs a domain", dyno.ModeNamespaces, []string{"--dns-addr", "127.0.0.1:5353"}, "--dns-addr answers for --domain", ""},
		{"dns on every interface needs isolation", dyno.ModeAuto, []string{"--dns-addr", ":5353", "--domain", "class.test"}, unsafeRefusal, ""},
		{"dns on loopback", dyno.ModeAuto, []string{"--dns-addr", "127.0.0.1:5353", "--domain", "class.test"}, "", "127.0.0.1:2222 127.0.0.1:8080 127.0.0.1:8443 127.0.0.1:8081 127.0.0.1:8082"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := classroomConfig(t, c.mode, c.args...)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || engine.ErrorCode(err) != engine.EINVALID {
					t.Fatalf("err = %v, want one saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join([]string{cfg.SSHAddr, cfg.HTTPAddr, cfg.HTTPSAddr, cfg.APIAddr, cfg.RendezvousAddr}, " "); got != c.want {
				t.Errorf("addresses = %s, want %s", got, c.want)
			}
		})
	}
}
