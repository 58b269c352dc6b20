package e2e

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// load sends GET / to an app through the router from a few goroutines
// until finish, counting every request and every failure (a transport
// error or any status but 200).
type load struct {
	total, failed atomic.Int64
	first         atomic.Value // string: the first failure
	stop          chan struct{}
	wg            sync.WaitGroup
}

// maxLoadRequests bounds a load run however long the operation under it
// takes.
const maxLoadRequests = 200_000

// startLoad starts the load on app with workers goroutines and returns
// once the first requests have succeeded.
func (s *server) startLoad(t *testing.T, app string, workers int) *load {
	t.Helper()
	l := &load{stop: make(chan struct{})}
	tr := &http.Transport{MaxIdleConnsPerHost: workers, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for i := 0; i < workers; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				if l.total.Load() >= maxLoadRequests {
					return
				}
				req, _ := http.NewRequest("GET", "http://127.0.0.1:"+s.httpPort+"/", nil)
				req.Host = app + ".localhost"
				resp, err := client.Do(req)
				l.total.Add(1)
				if err != nil {
					l.fail(err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					l.fail(fmt.Sprintf("%d %q", resp.StatusCode, body))
				}
			}
		}()
	}
	t.Cleanup(func() { l.finish(); tr.CloseIdleConnections() })
	waitFor(t, 10*time.Second, "the first requests of the load", func() bool { return l.total.Load() >= 20 })
	return l
}

func (l *load) fail(what string) {
	l.failed.Add(1)
	l.first.CompareAndSwap(nil, what)
}

// finish stops the load and returns what it counted.
func (l *load) finish() (total, failed int64, first string) {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
	first, _ = l.first.Load().(string)
	return l.total.Load(), l.failed.Load(), first
}

// underLoad runs op while app is under load and fails the test if any
// request failed; it keeps the load on a little after op returns, so
// that the old dynos' stopping is covered too.
func (s *server) underLoad(t *testing.T, app, what string, op func()) {
	t.Helper()
	l := s.startLoad(t, app, 4)
	op()
	n := l.total.Load()
	waitFor(t, 10*time.Second, "requests after "+what, func() bool { return l.total.Load() >= n+200 })
	total, failed, first := l.finish()
	t.Logf("%s: %d requests, %d failed", what, total, failed)
	if failed != 0 || total == 0 {
		t.Errorf("%s: %d of %d requests failed (first: %s)", what, failed, total, first)
	}
}
