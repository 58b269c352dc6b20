package buildpacks

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSlugVsTar packs and unpacks a node_modules-like tree of about
// 100 MB (many small files and a few large ones) with hako's slug code
// and with `tar czf`/`tar xzf`, interleaved round by round on the same
// tree and the same archive, and reports the medians and the ratios
// (tar's time over hako's: above 1 is faster than tar). It is a
// benchmark, not a test: run it with bench/slug.sh, or
//
//	go test ./buildpacks -run '^$' -bench SlugVsTar -benchtime 1x
//
// HAKO_BENCH_ROUNDS sets the rounds (default 5), HAKO_BENCH_MB the size.
func BenchmarkSlugVsTar(b *testing.B) {
	if _, err := exec.LookPath("tar"); err != nil {
		b.Skip("tar is not installed")
	}
	rounds := envInt("HAKO_BENCH_ROUNDS", 5)
	mb := envInt("HAKO_BENCH_MB", 100)
	dir := b.TempDir()
	if d := os.Getenv("HAKO_BENCH_DIR"); d != "" {
		dir = d // kept, to look at afterwards
	}
	tree := filepath.Join(dir, "tree")
	files, total := makeNodeModulesTree(b, tree, int64(mb)<<20)
	slugDir := filepath.Join(dir, "slugs")
	if err := os.Mkdir(slugDir, 0o755); err != nil {
		b.Fatal(err)
	}
	b.Logf("tree: %d files, %d MiB", files, total>>20)
	var packTar, packHako, unTar, unHako []time.Duration
	// The CPU each spent (user and system, this process's and its
	// children's), which a machine busy with other work changes less
	// than the time.
	var cpuUnTar, cpuUnHako []time.Duration
	var lastCPU time.Duration
	cpu := func() time.Duration {
		var self, kids syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
		_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
		d := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
		return d(self.Utime) + d(self.Stime) + d(kids.Utime) + d(kids.Stime)
	}
	timed := func(f func() error) time.Duration {
		syscall.Sync() // no writeback of the last round's files in this one's time
		c0, t0 := cpu(), time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		lastCPU = cpu() - c0
		return time.Since(t0)
	}
	for i := range b.N * rounds {
		tarOut := filepath.Join(dir, "tar.tgz")
		var id string
		var size int64
		pt := func() error { return exec.Command("tar", "czf", tarOut, "-C", tree, ".").Run() }
		ph := func() (err error) { id, size, err = writeSlug(tree, slugDir, 0); return err }
		if i%2 == 0 {
			packTar = append(packTar, timed(pt))
			packHako = append(packHako, timed(ph))
		} else {
			packHako = append(packHako, timed(ph))
			packTar = append(packTar, timed(pt))
		}
		if i == 0 {
			fi, _ := os.Stat(tarOut)
			b.Logf("archive: tar czf %d KiB, slug %d KiB", fi.Size()>>10, size>>10)
		}
		slug := filepath.Join(slugDir, id+".tgz")
		dt, dh := filepath.Join(dir, "x-tar"), filepath.Join(dir, "x-hako")
		ut := func() error {
			if err := os.Mkdir(dt, 0o755); err != nil {
				return err
			}
			return exec.Command("tar", "xzf", slug, "-C", dt).Run()
		}
		uh := func() error {
			f, err := os.Open(slug)
			if err != nil {
				return err
			}
			defer f.Close()
			return unpackInto(f, dh, sizeLimit{bytes: 1 << 40, entries: 1 << 20})
		}
		if i%2 == 0 {
			unTar = append(unTar, timed(ut))
			cpuUnTar = append(cpuUnTar, lastCPU)
			unHako = append(unHako, timed(uh))
			cpuUnHako = append(cpuUnHako, lastCPU)
		} else {
			unHako = append(unHako, timed(uh))
			cpuUnHako = append(cpuUnHako, lastCPU)
			unTar = append(unTar, timed(ut))
			cpuUnTar = append(cpuUnTar, lastCPU)
		}
		b.Logf("round %d: pack tar %v hako %v, unpack tar %v hako %v", i, packTar[i], packHako[i], unTar[i], unHako[i])
		for _, p := range []string{dt, dh, slug, tarOut} {
			os.RemoveAll(p)
		}
	}
	mt, mh, ut, uh := median(packTar), median(packHako), median(unTar), median(unHako)
	fmt.Printf("pack:   tar czf %v, hako %v: %.2fx\n", mt.Round(time.Millisecond), mh.Round(time.Millisecond), mt.Seconds()/mh.Seconds())
	fmt.Printf("unpack: tar xzf %v, hako %v: %.2fx\n", ut.Round(time.Millisecond), uh.Round(time.Millisecond), ut.Seconds()/uh.Seconds())
	ct, ch := median(cpuUnTar), median(cpuUnHako)
	fmt.Printf("unpack CPU (user+system): tar xzf %v, hako %v: %.2fx\n", ct.Round(time.Millisecond), ch.Round(time.Millisecond), ct.Seconds()/ch.Seconds())
	b.ReportMetric(mt.Seconds()/mh.Seconds(), "pack-x-tar")
	b.ReportMetric(ut.Seconds()/uh.Seconds(), "unpack-x-tar")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// makeNodeModulesTree writes about size bytes under dir shaped like a
// node_modules: half in packages of small source files (text that
// compresses as JavaScript does), half in a few large files, one text
// bundle and one binary. The contents are the same on every run.
func makeNodeModulesTree(b *testing.B, dir string, size int64) (files int, total int64) {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"function", "return", "const", "var", "this", "require", "module", "exports", "if", "else",
		"undefined", "null", "prototype", "length", "value", "options", "callback", "error", "=>", "{", "}", "(", ")", ";", "\n"}
	text := func(n int) []byte {
		out := make([]byte, 0, n+16)
		for len(out) < n {
			w := words[r.IntN(len(words))]
			if r.IntN(4) == 0 {
				w = "x" + strconv.Itoa(r.IntN(5000))
			}
			out = append(out, w...)
			out = append(out, ' ')
		}
		return out[:n]
	}
	write := func(p string, data []byte) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		files++
		total += int64(len(data))
	}
	large := size / 2
	write(filepath.Join(dir, "big-bundle", "dist", "bundle.js"), text(int(large/2)))
	bin := make([]byte, large/2)
	for i := range bin {
		if i%4 == 0 {
			bin[i] = byte(r.IntN(256))
		}
	}
	write(filepath.Join(dir, "native", "build", "Release", "addon.node"), bin)
	for pkg := 0; total < size; pkg++ {
		base := filepath.Join(dir, fmt.Sprintf("pkg-%04d", pkg))
		write(filepath.Join(base, "package.json"), text(300))
		for f := range 8 {
			sub := "lib"
			if f%3 == 2 {
				sub = filepath.Join("lib", "internal")
			}
			write(filepath.Join(base, sub, fmt.Sprintf("m%d.js", f)), text(500+r.IntN(5000)))
		}
	}
	return files, total
}
