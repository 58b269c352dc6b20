//go:build unix

package dyno

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hako/engine"
)

func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is required in CI")
		}
		t.Skip("python3 not found")
	}
}

func TestWebDynoServes(t *testing.T) {
	needPython(t)
	for _, mode := range modes(t) {
		t.Run(modeName(mode), func(t *testing.T) {
			sink := &memSink{}
			s := newSupervisor(t, sink, Options{Isolate: mode, StopGrace: 5 * time.Second})
			name := uniqueName("web")
			sp := spec(t, "web", name, `echo "env PORT=$PORT DYNO=$DYNO HOME=$HOME ORDER=$PROFILE_ORDER SCRIPT=${HAKO_DYNO_SCRIPT-unset}"; echo served > index.html; exec python3 -m http.server "$PORT" --bind 0.0.0.0`)
			d := start(t, s, sp)

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := d.WaitUp(ctx); err != nil {
				t.Fatalf("WaitUp: %v\n%s", err, sink.dump(name))
			}
			st := d.Status()
			if !d.Up() || st.State != engine.DynoUp || st.Port == 0 || st.PID == 0 || st.Release != 3 || st.Type != "web" {
				t.Fatalf("status after WaitUp = %+v", st)
			}
			// Isolated, the dyno has an address of its own (see
			// TestWebDynoOwnNetwork); plain, it is on the host's loopback.
			if host := hostOf(d.Addr()); d.Addr() != net.JoinHostPort(host, strconv.Itoa(st.Port)) || mode == ModeProcessGroup && host != "127.0.0.1" {
				t.Fatalf("Addr = %q, port %d", d.Addr(), st.Port)
			}
			resp, err := http.Get("http://" + d.Addr() + "/index.html")
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "served\n" {
				t.Fatalf("GET = %d %q", resp.StatusCode, body)
			}
			home := sp.Dir
			if mode == ModeNamespaces {
				home = appDir // a private root shows the slug there
			}
			want := fmt.Sprintf("env PORT=%d DYNO=%s HOME=%s ORDER=a b profile SCRIPT=unset", st.Port, name, home)
			if len(sink.find("app", name, want)) != 1 {
				t.Fatalf("no app line %q in:\n%s", want, sink.dump(name))
			}
			for _, line := range []string{"Starting process with command `" + sp.Command + "`", "State changed from starting to up"} {
				if len(sink.find("heroku", name, line)) != 1 {
					t.Errorf("no platform line %q in:\n%s", line, sink.dump(name))
				}
			}

			if err := d.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if st := d.Status(); st.State != engine.DynoDown || st.PID != 0 {
				t.Fatalf("status after Stop = %+v", st)
			}
			for _, line := range []string{"State changed from up to down", "Stopping all processes with SIGTERM", "Process exited with status 143"} {
				if len(sink.find("heroku", name, line)) != 1 {
					t.Errorf("no platform line %q in:\n%s", line, sink.dump(name))
				}
			}
			if len(sink.find("heroku", name, "R12")) != 0 {
				t.Errorf("R12 for a process that exits on SIGTERM:\n%s", sink.dump(name))
			}
		})
	}
}

func TestIsolation(t *testing.T) {
	if why := namespacesRefused(t); why != "" {
		t.Skip(why)
	}
	sink := &memSink{}
	s := newSupervisor(t, sink, Options{Isolate: ModeNamespaces})
	if got := s.Isolation(); !strings.Contains(got, "namespaces") || strings.Contains(got, "without") {
		t.Errorf("Isolation() = %q", got)
	}
	const name = "worker.1"
	start(t, s, spec(t, "worker", name, `echo "host=$(hostname)"
ls /proc > "$HOME/pids"
echo "pids=$(grep -E '^[0-9]+$' "$HOME/pids" | tr '\n' ' ')"
echo "init=$(tr '\0' ' ' < /proc/1/cmdline)"
echo done
exec sleep 1000`))
	waitFor(t, 10*time.Second, "the listing", func() bool { return len(sink.find("app", name, "done")) > 0 })

	if len(sink.find("app", name, "host="+name)) != 1 {
		t.Errorf("hostname is not %s:\n%s", name, sink.dump(name))
	}
	if h, _ := os.Hostname(); h == name {
		t.Errorf("the host's own hostname changed to %s", h)
	}
	pids := sink.find("app", name, "pids=")
	if len(pids) != 1 {
		t.Fatalf("no pid listing:\n%s", sink.dump(name))
	}
	list := strings.Fields(strings.TrimPrefix(pids[0].s, "pids="))
	if !slices.Contains(list, "1") || len(list) > 4 {
		t.Errorf("processes seen from inside = %v, want only the init (1), the shell and ls", list)
	}
	if len(sink.find("app", name, "init="+testExe(t)+" dyno-init")) != 1 {
		t.Errorf("PID 1 is not the dyno init:\n%s", sink.dump(name))
	}
	if len(sink.find("app", name, "dyno-init:")) != 0 {
		t.Errorf("the init complained:\n%s", sink.dump(name))
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", os.Getpid())); err != nil {
		t.Errorf("the host's /proc was replaced: %v", err)
	}
}

func TestCrashRestartsWithBackoff(t *testing.T) {
	for _, mode := range modes(t) {
		t.Run(modeName(mode), func(t *testing.T) {
			sink := &memSink{}
			const base = 40 * time.Millisecond
			s := newSupervisor(t, sink, Options{Isolate: mode, RestartBackoff: base, MaxBackoff: time.Second})
			name := uniqueName("worker")
			d := start(t, s, spec(t, "worker", name, "echo boom; exit 3"))

			const starts = 5
			waitFor(t, 20*time.Second, "restarts", func() bool {
				return len(sink.find("heroku", name, "Starting process")) >= starts
			})
			if err := d.Stop(); err != nil {
				t.Fatal(err)
			}
			if st := d.Status(); st.State != engine.DynoDown {
				t.Errorf("state after Stop = %s", st.State)
			}
			for _, line := range []string{"Process exited with status 3", "State changed from up to crashed", "Restarting", "State changed from crashed to starting"} {
				if n := len(sink.find("heroku", name, line)); n < starts-1 {
					t.Errorf("%q logged %d times, want at least %d:\n%s", line, n, starts-1, sink.dump(name))
				}
			}
			if n := len(sink.find("app", name, "boom")); n < starts-1 {
				t.Errorf("app output logged %d times", n)
			}
			// The n-th restart waits backoff(n): 0, base, 2*base, 4*base.
			st := sink.find("heroku", name, "Starting process")
			for i := 2; i < starts; i++ {
				gap := st[i].at.Sub(st[i-1].at)
				if want := backoff(i, base, time.Second); gap < want {
					t.Errorf("restart %d came %v after the previous start, want at least %v", i, gap, want)
				}
			}
			// No restart after Stop.
			n := len(sink.find("heroku", name, "Starting process"))
			time.Sleep(3 * base) // nothing to poll for: checking that nothing happens
			if m := len(sink.find("heroku", name, "Starting process")); m != n {
				t.Errorf("%d restarts after Stop", m-n)
			}
		})
	}
}

func TestWaitUpFailsFastOnCrash(t *testing.T) {
	sink := &memSink{}
	s := newSupervisor(t, sink, Options{RestartBackoff: time.Hour})
	name := uniqueName("web")
	d := start(t, s, spec(t, "web", name, "exit 0"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	began := time.Now()
	err := d.WaitUp(ctx)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "crashed") {
		t.Fatalf("WaitUp = %v, want a crash error", err)
	}
	if time.Since(began) > 10*time.Second {
		t.Errorf("WaitUp took %v", time.Since(began))
	}
	if len(sink.find("heroku", name, "Process exited with status 0")) == 0 {
		t.Errorf("exit not logged:\n%s", sink.dump(name))
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	d2 := start(t, s, spec(t, "web", uniqueName("web"), "exec sleep 1000"))
	if err := d2.WaitUp(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitUp on a dyno still booting = %v, want the context's error", err)
	}
}

func TestStopKillsWhatIgnoresTERM(t *testing.T) {
	for _, mode := range modes(t) {
		t.Run(modeName(mode), func(t *testing.T) {
			sink := &memSink{}
			const grace = 300 * time.Millisecond
			s := newSupervisor(t, sink, Options{Isolate: mode, StopGrace: grace})
			name := uniqueName("worker")
			d := start(t, s, spec(t, "worker", name, `trap '' TERM; echo ready; while :; do sleep 1; done`))
			waitFor(t, 10*time.Second, "the trap", func() bool { return len(sink.find("app", name, "ready")) > 0 })
			pid := d.Status().PID
			if pid == 0 {
				t.Fatal("no PID while running")
			}

			began := time.Now()
			var wg sync.WaitGroup
			for range 3 { // Stop is safe to call concurrently
				wg.Go(func() { _ = d.Stop() })
			}
			wg.Wait()
			if took := time.Since(began); took < grace {
				t.Errorf("Stop took %v, less than the grace period", took)
			}
			for _, line := range []string{
				"Stopping all processes with SIGTERM",
				"Error R12 (Exit timeout) -> At least one process failed to exit within 300ms of SIGTERM",
				"Stopping remaining processes with SIGKILL",
				"Process exited with status 137",
			} {
				if len(sink.find("heroku", name, line)) != 1 {
					t.Errorf("no platform line %q in:\n%s", line, sink.dump(name))
				}
			}
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("kill(%d, 0) = %v, want ESRCH", pid, err)
			}
			// A zombie has no environment: this finds live processes only.
			if left := processesWithEnv("DYNO=" + name); len(left) > 0 {
				t.Errorf("processes of %s left: %v", name, left)
			}
			// Killed orphans of a plain dyno stay zombies until the
			// system's init reaps them, on its own schedule.
			waitFor(t, 10*time.Second, "the process group to be reaped", func() bool {
				return errors.Is(syscall.Kill(-pid, 0), syscall.ESRCH)
			})
			if err := d.Stop(); err != nil {
				t.Errorf("second Stop: %v", err)
			}
		})
	}
}

func TestBootTimeout(t *testing.T) {
	for _, mode := range modes(t) {
		t.Run(modeName(mode), func(t *testing.T) {
			sink := &memSink{}
			s := newSupervisor(t, sink, Options{Isolate: mode, BootTimeout: 300 * time.Millisecond, RestartBackoff: time.Hour})
			name := uniqueName("web")
			d := start(t, s, spec(t, "web", name, "exec sleep 1000"))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := d.WaitUp(ctx); err == nil || !strings.Contains(err.Error(), "crashed") {
				t.Fatalf("WaitUp = %v, want a crash error", err)
			}
			// The first restart is immediate; the second waits an hour.
			waitFor(t, 10*time.Second, "the restart", func() bool {
				return len(sink.find("heroku", name, "Starting process")) == 2
			})
			for _, line := range []string{
				"Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 300ms of launch",
				"Stopping process with SIGKILL",
				"Process exited with status 137",
				"State changed from starting to crashed",
			} {
				if len(sink.find("heroku", name, line)) == 0 {
					t.Errorf("no platform line %q in:\n%s", line, sink.dump(name))
				}
			}
			if len(sink.find("heroku", name, "State changed from starting to up")) != 0 {
				t.Errorf("a dyno that never bound came up:\n%s", sink.dump(name))
			}
		})
	}
}

func TestStopAll(t *testing.T) {
	sink := &memSink{}
	s := newSupervisor(t, sink, Options{StopGrace: 5 * time.Second})
	var ds []engine.Dyno
	for range 3 {
		ds = append(ds, start(t, s, spec(t, "worker", uniqueName("worker"), "exec sleep 1000")))
	}
	s.StopAll()
	for _, d := range ds {
		if st := d.Status(); st.State != engine.DynoDown {
			t.Errorf("%s is %s after StopAll", st.Name, st.State)
		}
	}
	s.StopAll() // nothing left: returns at once
}

func TestStartErrors(t *testing.T) {
	s := newSupervisor(t, &memSink{}, Options{})
	ok := spec(t, "worker", uniqueName("worker"), "true")
	tests := []struct {
		name string
		edit func(*engine.DynoSpec)
	}{
		{"no command", func(sp *engine.DynoSpec) { sp.Command = "" }},
		{"no name", func(sp *engine.DynoSpec) { sp.Name = "" }},
		{"missing dir", func(sp *engine.DynoSpec) { sp.Dir += "/missing" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := ok
			tt.edit(&sp)
			if d, err := s.Start(sp); err == nil {
				d.Stop()
				t.Fatal("Start succeeded")
			}
		})
	}
}
