package postgres

import "hako/engine"

var _ engine.AddonServerLister = (*Provider)(nil)

// Servers implements engine.AddonServerLister: one cluster serves every
// heroku-postgresql add-on; it is listed once there is one.
func (p *Provider) Servers(resources []map[string]string) []engine.AddonServer {
	p.mu.Lock()
	data, state := "", "stopped"
	if p.lay != nil {
		data = p.lay.data
	}
	if p.srv != nil && p.srv.Running() {
		state = "running"
	}
	p.mu.Unlock()
	if len(resources) == 0 && data == "" {
		return nil
	}
	return []engine.AddonServer{{Service: p.Service(), State: state, DataBytes: engine.DiskUse(data)}}
}
