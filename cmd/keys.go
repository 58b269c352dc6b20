package cmd

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"hako/engine"
)

func keysCommands(env *Env) []*cli.Command {
	return []*cli.Command{
		{
			Name:  "keys",
			Usage: "list the SSH keys that may push and run commands",
			Action: func(c *cli.Context) error {
				cl, err := env.Client()
				if err != nil {
					return err
				}
				var keys []engine.Key
				if err := cl.Do("GET", "/account/keys", nil, &keys); err != nil {
					return err
				}
				fmt.Fprintln(env.Stdout, "=== SSH keys")
				if len(keys) == 0 {
					fmt.Fprintln(env.Stdout, "No keys: add one with `hako keys:add ~/.ssh/id_ed25519.pub`.")
				}
				for _, k := range keys {
					fmt.Fprintf(env.Stdout, "%s %s %s %s\n", k.Fingerprint, keyType(k.PublicKey), k.Comment, k.Email)
				}
				return nil
			},
		},
		{
			Name:      "keys:add",
			Usage:     "register an SSH public key (a path; over SSH, the key on standard input)",
			ArgsUsage: "[PATH]",
			Action: func(c *cli.Context) error {
				text, from, err := readKey(env, c.Args().First())
				if err != nil {
					return err
				}
				cl, err := env.Client()
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "Uploading %s SSH key... ", from)
				var k engine.Key
				if err := cl.Do("POST", "/account/keys", map[string]string{"public_key": text}, &k); err != nil {
					fmt.Fprintln(env.Stdout, "failed")
					return err
				}
				fmt.Fprintln(env.Stdout, "done")
				fmt.Fprintf(env.Stdout, "%s\n", k.Fingerprint)
				return nil
			},
		},
		{
			Name:      "keys:remove",
			Usage:     "remove an SSH key by fingerprint, comment or id",
			ArgsUsage: "KEY",
			Action: func(c *cli.Context) error {
				key := c.Args().First()
				if key == "" {
					return engine.Errorf(engine.EINVALID, "Usage: hako keys:remove KEY (a fingerprint, comment or id from `hako keys`)")
				}
				cl, err := env.Client()
				if err != nil {
					return err
				}
				if err := progress(env.Stdout, fmt.Sprintf("Removing %s SSH key", key), func() error { return cl.Do("DELETE", "/account/keys/"+url.PathEscape(key), nil, nil) }); err != nil {
					return err
				}
				return nil
			},
		},
	}
}

// readKey returns the public key text and where it came from. Over SSH a
// path would name a file on the server, so only standard input is read.
func readKey(env *Env, path string) (string, string, error) {
	if env.Remote || path == "-" {
		if path != "" && path != "-" {
			return "", "", engine.Errorf(engine.EINVALID, "Over SSH, send the key on standard input: ssh ... keys:add < key.pub")
		}
		b, err := io.ReadAll(io.LimitReader(env.Stdin, 64*1024))
		if err != nil {
			return "", "", fmt.Errorf("read key from standard input: %w", err)
		}
		return string(b), "standard input", nil
	}
	if path == "" {
		home, _ := os.UserHomeDir()
		for _, n := range []string{"id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"} {
			p := filepath.Join(home, ".ssh", n)
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			return "", "", engine.Errorf(engine.EINVALID, "No key given and none found in ~/.ssh: make one with `ssh-keygen -t ed25519`, then run `hako keys:add ~/.ssh/id_ed25519.pub`.")
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", engine.Errorf(engine.EINVALID, "Cannot read %s: %v", path, err)
	}
	return string(b), path, nil
}

func keyType(pub string) string {
	t, _, _ := strings.Cut(pub, " ")
	return t
}
