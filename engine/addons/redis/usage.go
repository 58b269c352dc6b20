package redis

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"hako/engine"
)

var _ engine.AddonReporter = (*Provider)(nil)

// Usage implements engine.AddonReporter: the memory the server holds
// against its plan's maxmemory, and its clients against maxclients.
func (p *Provider) Usage(ctx context.Context, rec map[string]string, plan string) ([]engine.UsageField, error) {
	rec = withPlan(rec, plan)
	r, err := p.parse(rec)
	if err != nil {
		return nil, err
	}
	info, err := serverInfo(ctx, r.addr(), r.password)
	if err != nil {
		return nil, fmt.Errorf("redis add-on %s: %w", r.name, err)
	}
	used, _ := strconv.ParseInt(info["used_memory"], 10, 64)
	return []engine.UsageField{
		{Name: "Memory", Value: fmt.Sprintf("%.1f MB / %d MB (maxmemory)", float64(used)/mb, r.plan.maxmemory/mb)},
		{Name: "Clients", Value: fmt.Sprintf("%s/%d", info["connected_clients"], r.plan.clients)},
	}, nil
}

// withPlan returns rec with the add-on's plan, as the engine gives it.
func withPlan(rec map[string]string, plan string) map[string]string {
	out := make(map[string]string, len(rec)+1)
	for k, v := range rec {
		out[k] = v
	}
	out["plan"] = plan
	return out
}

// serverInfo authenticates and returns the fields of INFO.
func serverInfo(ctx context.Context, addr, password string) (map[string]string, error) {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return nil, err
	}
	req := "*2\r\n$4\r\nAUTH\r\n$" + strconv.Itoa(len(password)) + "\r\n" + password + "\r\n*1\r\n$4\r\nINFO\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return nil, err
	}
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || strings.TrimSpace(line) != "+OK" {
		return nil, fmt.Errorf("AUTH answered %q: %v", strings.TrimSpace(line), err)
	}
	head, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(head), "$"))
	if err != nil || n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("INFO answered %q", strings.TrimSpace(head))
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return nil, err
	}
	info := map[string]string{}
	for line := range strings.SplitSeq(string(body), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			info[k] = v
		}
	}
	return info, nil
}
