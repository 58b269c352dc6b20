package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// The superuser logs in with a password (SCRAM), over the Unix socket as
// over TCP: no connection is trusted for coming from some local user, so
// that whoever shares a uid with the server, or reaches its socket, is
// not the superuser of every app's database for it. The password lives in
// a file of the provider's directory that only hako's own user can read,
// and reaches psql in its environment.
const (
	passwordFile = "superuser-password"
	authMethod   = "scram-sha-256"
	// legacyUID is the user (nobody) clusters ran as before add-ons had a
	// uid of their own; their files are handed to the new one.
	legacyUID = 65534
	// addonAccount names the add-on servers' user on the host.
	addonAccount = "hako-addons"
)

// superPassword returns the superuser's password, made (at random) and
// kept on first use. The file is written whole or not at all.
func (p *Provider) superPassword() (string, error) {
	path := filepath.Join(p.lay.dir, passwordFile)
	if b, err := os.ReadFile(path); err == nil {
		if pw := strings.TrimSpace(string(b)); pw != "" {
			return pw, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("postgres: reading the superuser's password: %w", err)
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("postgres: making the superuser's password: %w", err)
	}
	pw := hex.EncodeToString(b[:])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("postgres: keeping the superuser's password: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("postgres: keeping the superuser's password: %w", err)
	}
	return pw, nil
}

// pwfile writes the password where initdb, running as the cluster's
// user, can read it (the socket directory, that user's alone) and returns
// the file and a function that removes it.
func (p *Provider) pwfile(pw string) (string, func(), error) {
	f, err := os.CreateTemp(p.lay.sock, "pwfile-*")
	if err != nil {
		return "", nil, fmt.Errorf("postgres: writing initdb's password file: %w", err)
	}
	remove := func() { os.Remove(f.Name()) }
	_, err = f.WriteString(pw + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && p.lay.asUser {
		err = os.Chown(f.Name(), p.lay.uid, p.lay.gid)
	}
	if err != nil {
		remove()
		return "", nil, fmt.Errorf("postgres: writing initdb's password file: %w", err)
	}
	return f.Name(), remove, nil
}

// secure moves a cluster made when local connections were trusted to
// password authentication: it gives the superuser its password (while
// trust still lets hako in), rewrites pg_hba.conf without trust, and has
// the running server reload it. Each step may be repeated, so a start cut
// short anywhere completes the move next time. A cluster without trust
// is left alone.
func (p *Provider) secure(ctx context.Context) error {
	hba := filepath.Join(p.lay.data, "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		return fmt.Errorf("postgres: reading pg_hba.conf: %w", err)
	}
	rewritten, changed := withoutTrust(old)
	if !changed {
		return nil
	}
	pw, err := p.superPassword()
	if err != nil {
		return err
	}
	if err := p.psql(ctx, fmt.Sprintf("SET password_encryption = '%s';\nALTER ROLE postgres PASSWORD '%s';", authMethod, pw)); err != nil {
		return fmt.Errorf("postgres: giving the superuser a password: %w", err)
	}
	if err := replaceFile(hba, rewritten); err != nil {
		return fmt.Errorf("postgres: rewriting pg_hba.conf: %w", err)
	}
	if err := p.psql(ctx, "SELECT pg_reload_conf();"); err != nil {
		return fmt.Errorf("postgres: reloading pg_hba.conf: %w", err)
	}
	p.opts.Logf("postgres: local connections now need a password (pg_hba.conf: trust replaced by %s)", authMethod)
	return nil
}

// withoutTrust returns pg_hba.conf's text with every trust method
// replaced by authMethod, and whether there was any. Comments and the
// other lines are kept as they are.
func withoutTrust(text []byte) ([]byte, bool) {
	lines := bytes.Split(text, []byte("\n"))
	changed := false
	for i, line := range lines {
		rule, comment, commented := bytes.Cut(line, []byte("#"))
		fields := bytes.Fields(rule)
		// type, database, user, [address [mask]], method, [options]: the
		// method is the first field after the user that is "trust".
		if len(fields) < 4 {
			continue
		}
		for j := 3; j < len(fields); j++ {
			if string(fields[j]) == "trust" {
				fields[j] = []byte(authMethod)
				changed = true
				out := bytes.Join(fields, []byte("\t"))
				if commented {
					out = append(append(out, " #"...), comment...)
				}
				lines[i] = out
				break
			}
		}
	}
	return bytes.Join(lines, []byte("\n")), changed
}

// replaceFile writes data in place of path, keeping its owner and mode,
// through a new file renamed over it so that a crash leaves the old or
// the new text, never half of one.
func replaceFile(path string, data []byte) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".hako-tmp"
	if err := os.WriteFile(tmp, data, fi.Mode().Perm()); err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		if err := os.Chown(tmp, int(st.Uid), int(st.Gid)); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// dynosMark ends the pg_hba.conf lines hako writes for the dynos' subnet.
const dynosMark = "# hako: dynos"

// allowDynos writes into pg_hba.conf, before the server starts, the lines
// that let the dynos' subnet in with a password (the superuser never),
// replacing those of an earlier subnet.
func (p *Provider) allowDynos() error {
	hba := filepath.Join(p.lay.data, "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		return fmt.Errorf("postgres: reading pg_hba.conf: %w", err)
	}
	text := hbaForDynos(old, p.opts.Subnet)
	if bytes.Equal(text, old) {
		return nil
	}
	if err := replaceFile(hba, text); err != nil {
		return fmt.Errorf("postgres: rewriting pg_hba.conf: %w", err)
	}
	return nil
}

// hbaForDynos returns pg_hba.conf's text without the lines an earlier
// allowDynos wrote, and with those for subnet ("" for none) at the end,
// after the loopback lines, which they cannot shadow.
func hbaForDynos(text []byte, subnet string) []byte {
	var out [][]byte
	for _, line := range bytes.Split(bytes.TrimRight(text, "\n"), []byte("\n")) {
		if !bytes.HasSuffix(bytes.TrimSpace(line), []byte(dynosMark)) {
			out = append(out, line)
		}
	}
	if subnet != "" {
		out = append(out,
			[]byte("host\tall\tpostgres\t"+subnet+"\treject\t"+dynosMark),
			[]byte("host\tall\tall\t"+subnet+"\t"+authMethod+"\t"+dynosMark))
	}
	return append(bytes.Join(out, []byte("\n")), '\n')
}
