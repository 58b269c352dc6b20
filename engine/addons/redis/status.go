package redis

import "hako/engine"

var _ engine.AddonServerLister = (*Provider)(nil)

// Servers implements engine.AddonServerLister: each add-on has a server
// of its own, running or not, and its data directory.
func (p *Provider) Servers(resources []map[string]string) []engine.AddonServer {
	var out []engine.AddonServer
	var dirs []string
	p.mu.Lock()
	for _, rec := range resources {
		r, err := p.parse(rec)
		if err != nil {
			continue
		}
		state := "stopped"
		if _, ok := p.servers[r.name]; ok {
			state = "running"
		}
		out = append(out, engine.AddonServer{Service: service, Name: r.name, State: state})
		dirs = append(dirs, r.data)
	}
	p.mu.Unlock()
	// Measured outside the lock: walking data must not hold up a start.
	for i := range out {
		out[i].DataBytes = engine.DiskUse(dirs[i])
	}
	return out
}
