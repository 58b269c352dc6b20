// Command rps measures requests per second through the router: C
// connections kept alive, each sending GET requests one after another
// for D, all with the given Host header; it prints the rate of answered
// 200s and fails if any request failed.
//
//	go run ./bench/rps -url http://127.0.0.1:8080/ -host app.localhost -c 16 -d 5s
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "", "the router's URL")
	host := flag.String("host", "", "the Host header: APP.DOMAIN")
	conns := flag.Int("c", 16, "concurrent connections")
	dur := flag.Duration("d", 5*time.Second, "how long to send requests")
	flag.Parse()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}, Timeout: 10 * time.Second}
	var ok, failed atomic.Int64
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	start := time.Now()
	for range *conns {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", *url, nil)
				req.Host = *host
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	fmt.Printf("%.0f\n", float64(ok.Load())/elapsed)
	if failed.Load() > 0 {
		fmt.Fprintf(os.Stderr, "rps: %d requests failed\n", failed.Load())
		os.Exit(1)
	}
}
