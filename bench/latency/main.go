// Command latency measures an HTTP server's latency under an open-loop
// load: requests arrive at a fixed total rate (Poisson or evenly spaced
// arrivals, the same seeded schedule for every target) and are sent on
// C keep-alive connections, each request on the first connection free.
// A request's latency runs from its arrival, the time the schedule meant
// it to be sent, to the end of its response, so time spent waiting for a
// free connection counts: a closed-loop tool that measures from the
// actual send (wrk) hides that queueing, the coordinated omission.
//
// It prints one line of key=value fields, latencies in milliseconds:
//
//	name=hako rate=2000 conns=32 sent=10000 ok=10000 errors=0 unsent=0 achieved=1999.8 p50=0.212 p99=0.731 p99.9=1.402 max=2.915 lag.p99=0.041 service.p99=0.702
//
// lag is the time from a request's arrival to its send: the generator's
// own delay plus any wait for a free connection; service is the time from
// the send to the end of the response. Requests the schedule could
// not send before the run's hard end (the server too slow for the rate)
// count as infinitely slow, so a saturated server shows p99=inf rather
// than a flattering figure. The exit status is 1 if any request failed.
//
//	go run ./bench/latency -url http://127.0.0.1:8080/ -host app.localhost -rate 2000 -c 32 -d 5s
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	target := flag.String("url", "", "the URL to GET")
	host := flag.String("host", "", "the Host header (default: the URL's host)")
	name := flag.String("name", "", "a label printed first on the line")
	conns := flag.Int("c", 32, "keep-alive connections")
	rate := flag.Float64("rate", 1000, "requests per second, all connections together")
	dur := flag.Duration("d", 5*time.Second, "how long the measured part of the schedule lasts")
	warmup := flag.Duration("warmup", time.Second, "a schedule at the same rate before the measured part, not counted")
	arrivals := flag.String("arrivals", "poisson", "poisson or even: how arrivals are spaced")
	seed := flag.Uint64("seed", 1, "the Poisson schedule's seed")
	flag.Parse()
	if err := run(*target, *host, *name, *conns, *rate, *dur, *warmup, *arrivals, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		os.Exit(1)
	}
}

func run(target, host, name string, conns int, rate float64, dur, warmup time.Duration, arrivals string, seed uint64) error {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("-url %q: want http://HOST:PORT/PATH", target)
	}
	if conns < 1 || rate <= 0 || dur <= 0 || warmup < 0 {
		return fmt.Errorf("-c, -rate and -d must be positive, -warmup not negative")
	}
	if host == "" {
		host = u.Host
	}
	addr := u.Host
	if u.Port() == "" {
		addr += ":80"
	}
	offs, err := schedule(arrivals, rate, warmup+dur, seed)
	if err != nil {
		return err
	}
	// More Ps than CPUs: the dispatcher holds one in its sleeping system
	// call, and a response that arrives then must find another at once.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(max(4, 2*runtime.NumCPU()))
	}
	req := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: hako-bench-latency\r\n\r\n")
	cs := make([]*conn, conns)
	for i := range cs {
		cs[i] = newConn(addr, req)
	}
	// Each connection opened and used once before the schedule starts, so
	// neither dials nor first requests fall in it.
	for _, c := range cs {
		if st, err := c.do(time.Now().Add(10 * time.Second)); err != nil {
			return fmt.Errorf("first request: %w", err)
		} else if st != 200 {
			return fmt.Errorf("first request: status %d", st)
		}
	}
	res := measure(cs, offs, warmup+dur+max(time.Second, dur))
	s := summarize(res, offs, warmup)
	if name != "" {
		fmt.Printf("name=%s ", name)
	}
	fmt.Printf("rate=%g conns=%d %s\n", rate, conns, s)
	if s.errors > 0 {
		return fmt.Errorf("%d requests failed, the first: %v", s.errors, res.firstErr)
	}
	return nil
}

// schedule answers the arrival times of a run of d at rate, as offsets
// from its start: evenly spaced, or a Poisson process (exponential gaps)
// drawn from seed, so that every target gets the same arrivals.
func schedule(arrivals string, rate float64, d time.Duration, seed uint64) ([]time.Duration, error) {
	n := int(rate * d.Seconds())
	offs := make([]time.Duration, 0, n+n/8)
	switch arrivals {
	case "even":
		for i := range n {
			offs = append(offs, time.Duration(float64(i)/rate*1e9))
		}
	case "poisson":
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		for t := rng.ExpFloat64() / rate; t < d.Seconds(); t += rng.ExpFloat64() / rate {
			offs = append(offs, time.Duration(t*1e9))
		}
	default:
		return nil, fmt.Errorf("-arrivals %q: want poisson or even", arrivals)
	}
	return offs, nil
}

// Outcomes of a scheduled request.
const (
	unsent = iota // not sent before the run's end
	ok            // answered 200
	failed        // an error or another status
)

// results holds, per scheduled request, when it was sent and answered,
// as offsets from the start of the schedule.
type results struct {
	sent, done []time.Duration
	outcome    []uint8
	firstErr   error
}

// measure sends the requests of the schedule offs on the connections cs
// and records each one's times; requests not sent within hard of the
// start are left unsent. A dispatcher on a thread of its own sleeps until
// each arrival with the kernel's timer (the runtime's timers wake up to a
// millisecond late when the process is idle) and hands it to whichever
// connection's goroutine is free first.
func measure(cs []*conn, offs []time.Duration, hard time.Duration) *results {
	res := &results{
		sent:    make([]time.Duration, len(offs)),
		done:    make([]time.Duration, len(offs)),
		outcome: make([]uint8, len(offs)),
	}
	next := make(chan int32, len(offs))
	start := time.Now()
	var base unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &base) // the runtime's clock
	end := start.Add(hard)
	var errOnce sync.Once
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			defer c.close()
			for i := range next {
				if time.Now().After(end) {
					continue
				}
				res.sent[i] = time.Since(start)
				st, err := c.do(end)
				res.done[i] = time.Since(start)
				switch {
				case err != nil:
					res.outcome[i] = failed
					errOnce.Do(func() { res.firstErr = err })
				case st != 200:
					res.outcome[i] = failed
					errOnce.Do(func() { res.firstErr = fmt.Errorf("status %d", st) })
				default:
					res.outcome[i] = ok
				}
			}
		})
	}
	go func() {
		// The thread is never unlocked: it exits with the goroutine,
		// taking its timer slack with it.
		runtime.LockOSThread()
		_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
		b := base.Nano()
		for i, off := range offs {
			if off >= hard {
				break
			}
			ts := unix.NsecToTimespec(b + int64(off))
			for unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &ts, nil) == unix.EINTR {
			}
			next <- int32(i)
		}
		close(next)
	}()
	wg.Wait()
	return res
}

// summary is a run's figures over the measured part of its schedule.
type summary struct {
	sent, ok, errors, unsent int
	achieved                 float64 // answered requests per second
	lat, lag, service        []time.Duration
}

func summarize(res *results, offs []time.Duration, warmup time.Duration) summary {
	var s summary
	var first, last time.Duration = -1, 0
	for i, off := range offs {
		if off < warmup {
			continue
		}
		if first < 0 {
			first = off
		}
		switch res.outcome[i] {
		case unsent:
			s.unsent++
			s.lat = append(s.lat, time.Duration(math.MaxInt64))
			continue
		case ok:
			s.ok++
		case failed:
			s.errors++
		}
		s.sent++
		s.lat = append(s.lat, res.done[i]-off)
		s.lag = append(s.lag, res.sent[i]-off)
		s.service = append(s.service, res.done[i]-res.sent[i])
		last = max(last, res.done[i])
	}
	if last > first && first >= 0 {
		s.achieved = float64(s.ok) / (last - first).Seconds()
	}
	return s
}

func (s summary) String() string {
	return fmt.Sprintf("sent=%d ok=%d errors=%d unsent=%d achieved=%.1f p50=%s p99=%s p99.9=%s max=%s lag.p99=%s service.p99=%s",
		s.sent, s.ok, s.errors, s.unsent, s.achieved,
		ms(quantile(s.lat, 0.5)), ms(quantile(s.lat, 0.99)), ms(quantile(s.lat, 0.999)), ms(quantile(s.lat, 1)),
		ms(quantile(s.lag, 0.99)), ms(quantile(s.service, 0.99)))
}

// quantile answers the nearest-rank q-quantile of ds, sorting it; -1
// when ds is empty.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	slices.Sort(ds)
	i := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// ms formats d in milliseconds; an unsent request's latency is inf.
func ms(d time.Duration) string {
	switch {
	case d == math.MaxInt64:
		return "inf"
	case d < 0:
		return "nan"
	}
	return fmt.Sprintf("%.3f", d.Seconds()*1e3)
}
