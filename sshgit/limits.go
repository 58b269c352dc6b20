package sshgit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"hako/engine"
)

// errTooLarge marks a pushed tree over the source limits; its message is
// for the user.
var errTooLarge = errors.New("the pushed source is too large")

// checkTree refuses a commit whose tree would check out past lim, before
// anything is written: a push of a few megabytes of compressed objects
// can name gigabytes of files. It reads the sizes git records for the
// tree's blobs and stops at the first one past a limit.
func checkTree(env []string, commit string, lim engine.BuildLimits) error {
	lim = lim.WithDefaults()
	cmd := exec.Command("git", "ls-tree", "-r", "-l", "-z", "--full-tree", commit)
	cmd.Env = env
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("git ls-tree: %w", err)
	}
	var total int64
	entries := 0
	over := ""
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sc.Split(splitNUL)
	for sc.Scan() {
		// "<mode> <type> <object> <size>\t<path>"; size is "-" but for blobs.
		meta, _, _ := strings.Cut(sc.Text(), "\t")
		f := strings.Fields(meta)
		entries++
		if len(f) == 4 && f[1] == "blob" {
			n, _ := strconv.ParseInt(f[3], 10, 64)
			total += n
		}
		if entries > lim.SourceEntries {
			over = fmt.Sprintf("it holds more than %d files (the limit is %d files)", lim.SourceEntries, lim.SourceEntries)
		} else if total > lim.SourceBytes {
			over = fmt.Sprintf("it expands to more than %d MiB (the limit is %d MiB)", lim.SourceBytes>>20, lim.SourceBytes>>20)
		}
		if over != "" {
			_ = cmd.Process.Kill()
			break
		}
	}
	werr := cmd.Wait()
	if over != "" {
		return fmt.Errorf("%w: %s", errTooLarge, over)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("git ls-tree: %w", err)
	}
	if werr != nil {
		return fmt.Errorf("git ls-tree: %v: %s", werr, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// splitNUL splits git's -z output at NUL bytes.
func splitNUL(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// refCost is what a ref a push creates is counted to take on disk: a
// loose ref is a file of its own, one block.
const refCost = 4096

// checkRepo refuses a push that would leave the app's repository in repo
// over lim.RepoBytes, whatever its refs are (tags and branches that do
// not deploy are kept too): what the repository takes now, the objects
// the push brought (git keeps them in a quarantine inside the repository
// until pre-receive accepts them) and a block for each ref it creates. A
// push that only deletes refs always passes. Refused, git drops the
// quarantine and moves no ref: nothing changes.
func checkRepo(repo string, refs []refArg, lim engine.BuildLimits) error {
	lim = lim.WithDefaults()
	created, adds := 0, false
	for _, r := range refs {
		if r.New != zeroSHA {
			adds = true
		}
		if r.Old == zeroSHA {
			created++
		}
	}
	if !adds {
		return nil
	}
	if size := engine.DiskUse(repo) + int64(created)*refCost; size > lim.RepoBytes {
		return errRepoFull{size: size, limit: lim.RepoBytes}
	}
	return nil
}

// errRepoFull is a push past the repository's limit; its text is for the
// pusher.
type errRepoFull struct{ size, limit int64 }

func (e errRepoFull) Error() string {
	return fmt.Sprintf("with it the repository would take %s, past its limit of %d MiB", mib(e.size), e.limit>>20)
}

// mib shows a size in MiB with one decimal.
func mib(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}

// receiveLimitEnv caps the pack git-receive-pack accepts at the source
// byte limit (receive.maxInputSize): objects are compressed, so a
// source within the limit always fits, and a giant file is refused while
// it arrives, before it is stored.
//
// It also keeps every pushed pack as it came (receive.unpackLimit 1):
// git would otherwise explode a push of few objects into loose ones,
// compressing each again, which for a push carrying a large binary
// costs more than receiving it.
func receiveLimitEnv(lim engine.BuildLimits) []string {
	lim = lim.WithDefaults()
	return []string{"GIT_CONFIG_COUNT=2", "GIT_CONFIG_KEY_0=receive.maxInputSize", "GIT_CONFIG_VALUE_0=" + strconv.FormatInt(lim.SourceBytes, 10),
		"GIT_CONFIG_KEY_1=receive.unpackLimit", "GIT_CONFIG_VALUE_1=1"}
}
