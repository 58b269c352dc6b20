package postgres

import (
	"os"
	"testing"

	"hako/engine"
)

// TestBackupNumbers: a backup's number is given once: a capture that
// fails or is canceled (its file removed) does not give it again, nor
// does a deleted backup's, nor a new Provider over the same directory (a
// server restart); scheduled backups (aNNN) share the sequence; and a
// second capture of a database while one runs is refused, and takes no
// number. Restores and copies (Number) take theirs from the same
// sequence.
func TestBackupNumbers(t *testing.T) {
	dir := t.TempDir()
	p := &Provider{}
	step := func(scheduled bool, want string, outcome func(c *capture)) {
		t.Helper()
		c, err := p.begin(dir, "db", nil, scheduled)
		if err != nil {
			t.Fatalf("begin: %v", err)
		}
		if c.backup.ID != want || !c.backup.Running {
			t.Errorf("begin = %s (running %v), want %s running", c.backup.ID, c.backup.Running, want)
		}
		if _, err := p.begin(dir, "db", nil, false); engine.ErrorCode(err) != engine.ECONFLICT ||
			engine.ErrorMessage(err) != "A backup of db is already being taken ("+want+"): wait for it to finish, or stop it with pg:backups:cancel." {
			t.Errorf("a second capture while %s runs: %v", want, err)
		}
		outcome(c)
		p.untrack(c)
	}
	failed := func(c *capture) { c.file.Close(); os.Remove(c.backup.Path) }
	kept := func(c *capture) { c.file.Close() }
	step(false, "b001", failed)
	step(false, "b002", failed)
	step(false, "b003", kept)
	step(true, "a004", kept)
	// a004 deleted.
	if err := os.Remove(dir + "/a004.dump"); err != nil {
		t.Fatal(err)
	}
	// A restore or a copy takes the next number of the same sequence
	// (Number), which no capture gives again.
	if n, err := takeNumber(dir, nil); err != nil || n != 5 {
		t.Fatalf("a restore's number = %d, %v; want 5", n, err)
	}
	restarted := &Provider{}
	c, err := restarted.begin(dir, "db", []engine.PGBackup{{ID: "b003", Num: 3}}, false)
	if err != nil || c.backup.ID != "b006" {
		t.Fatalf("after a restart: %+v, %v; want b006", c, err)
	}
	failed(c)
	restarted.untrack(c)
	// Another database's captures are not held up by this one's.
	other := t.TempDir()
	c, err = restarted.begin(dir, "db", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.untrack(c)
	defer failed(c)
	c2, err := restarted.begin(other, "db2", nil, false)
	if err != nil || c2.backup.ID != "b001" {
		t.Fatalf("another database during a capture: %+v, %v", c2, err)
	}
	failed(c2)
	restarted.untrack(c2)
}
