package userfs

import (
	"errors"
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
	"sync"
	"time"
)

// accounts remembers the uids known to have an account, so that each is
// looked up once per process.
var accounts sync.Map

// EnsureAccount makes sure the host knows uid, with a group of the same
// number, under name: programs look their user up by uid and some refuse
// to run without an entry (initdb; whoami, Node's os.userInfo, Python's
// getpass in an app). An existing entry for uid or gid is kept whatever
// its name. It creates them with groupadd and useradd (system account, no
// home, no login shell, no password), which needs root; several servers
// creating the same account at once is fine.
func EnsureAccount(uid int, name string) error {
	if _, ok := accounts.Load(uid); ok {
		return nil
	}
	id := strconv.Itoa(uid)
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if attempt > 0 {
			time.Sleep(100 * time.Millisecond) // another process holds the files' lock
		}
		if _, gerr := user.LookupGroupId(id); gerr != nil {
			if err = run("groupadd", "--system", "--gid", id, name); err != nil {
				continue
			}
		}
		if _, uerr := user.LookupId(id); uerr != nil {
			if err = run("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
				"--shell", "/usr/sbin/nologin", "--uid", id, "--gid", id, "--comment", "hako", name); err != nil {
				continue
			}
		}
		accounts.Store(uid, true)
		return nil
	}
	return fmt.Errorf("create account %s (uid %d): %w", name, uid, err)
}

// run runs one of the account tools and returns its output as the error.
func run(tool string, args ...string) error {
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("%s: %s", tool, out)
		}
		return fmt.Errorf("%s: %w", tool, err)
	}
	return nil
}
