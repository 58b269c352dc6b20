package engine

import (
	"context"
	"fmt"
)

// Prepare readies the engine for a server start, before any listener
// accepts a connection:
//
//   - the router learns every app, its custom domains and maintenance mode,
//     so that from its first request a known app gets 503 while its dynos
//     start, never the unknown-app 404;
//   - the drains learn where each app's logs go;
//   - the builds a stop interrupted are marked failed (see
//     endInterruptedBuilds);
//   - dynos, one-off dynos and release phases wait until StartAddons has
//     run, so that no process of an app meets its database still starting
//     up ("FATAL: the database system is starting up").
//
// Call it once, before StartAddons and Restore.
func (e *Engine) Prepare() error {
	apps, err := e.Store.Apps()
	if err != nil {
		return fmt.Errorf("load the apps: %w", err)
	}
	for _, a := range apps {
		e.Routes.SetBackends(a.Name, nil)
		e.Routes.SetDomains(a.Name, a.Domains)
		e.Routes.SetMaintenance(a.Name, a.Maintenance)
		e.setDrains(a)
	}
	if err := e.endInterruptedBuilds(); err != nil {
		return fmt.Errorf("end the interrupted builds: %w", err)
	}
	e.mu.Lock()
	if e.addonsReady == nil {
		e.addonsReady = make(chan struct{})
	}
	e.mu.Unlock()
	return nil
}

// addonsStarted opens the gate Prepare closed, once StartAddons is done,
// whether or not every server came up: a failed one is logged, and its
// apps' dynos report their own connection errors.
func (e *Engine) addonsStarted() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.addonsReady == nil {
		e.addonsReady = make(chan struct{})
	}
	select {
	case <-e.addonsReady:
	default:
		close(e.addonsReady)
	}
}

// waitAddons waits until the add-on servers have started, when a server
// start is under way (Prepare was called); otherwise it returns at once.
func (e *Engine) waitAddons(ctx context.Context) error {
	e.mu.Lock()
	ready := e.addonsReady
	e.mu.Unlock()
	if ready == nil {
		return nil
	}
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the add-on servers to start: %w", ctx.Err())
	}
}
