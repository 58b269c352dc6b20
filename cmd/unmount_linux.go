package cmd

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// unmountUnder detaches every mount of this mount namespace at or under
// dir, deepest first. A server that stopped cleanly left none; this is
// for one that could not, before its home is removed (a mount under it
// would keep its files, or make the removal fail).
func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	dir = filepath.Clean(dir)
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMount(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	for _, p := range points {
		_ = unix.Unmount(p, unix.MNT_DETACH)
	}
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			n := 0
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				n = n*8 + int(c-'0')
			}
			if ok {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// sweepEphemeral removes the homes of ephemeral servers that were killed
// before they could remove them (SIGKILL, a power cut): a home whose
// store no process holds locked (a server holds it for its whole life),
// or that never got a store and is older than ten minutes. It returns
// the homes removed.
func sweepEphemeral(tmp string) []string {
	homes, _ := filepath.Glob(filepath.Join(tmp, "hako-ephemeral-*"))
	var removed []string
	for _, home := range homes {
		f, err := os.OpenFile(filepath.Join(home, "hako.db"), os.O_RDWR, 0)
		if err != nil {
			fi, serr := os.Stat(home)
			if !os.IsNotExist(err) || serr != nil || time.Since(fi.ModTime()) < 10*time.Minute {
				continue
			}
		} else {
			held := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil
			f.Close()
			if held {
				continue
			}
		}
		if removeHome(home) == nil {
			removed = append(removed, home)
		}
	}
	return removed
}
