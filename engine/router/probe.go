package router

import (
	"context"
	"io"
	"net/http"
)

// probeClient makes health checks' requests: straight to a dyno's port,
// never through a proxy, never following a redirect (a check answered
// 3xx fails, as Dokku's does).
var probeClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// Probe GETs path on the dyno at addr with Host host, as the router
// would send a request to it, and returns the status and at most max
// bytes of the body: app.json's health checks (engine.Parts.Probe).
func Probe(ctx context.Context, addr, host, path string, max int64) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Host = host
	req.Header.Set("User-Agent", "hako-healthcheck")
	resp, err := probeClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, max))
	return resp.StatusCode, body, err
}
