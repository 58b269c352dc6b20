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
