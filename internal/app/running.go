package app

import (
	"log/slog"
	"net/http"

	"github.com/switchboard/switchboard/internal/store"
)

// Pages are the admin web console's handler and the paths of its HTML
// form POSTs (see server.GuardBrowsers); Options.Console makes them.
type Pages struct {
	Handler http.Handler
	Forms   []string
}

// Running is the running service as the web console sees it: the store
// the service uses, the configuration it runs now, and the hand-over of
// re-queued deliveries to its workers. It is what `switchboard
// deliveries` and `switchboard test` use, reached through the service
// rather than opened anew.
type Running struct{ s *service }

// Store is the service's store.
func (r Running) Store() *store.Store { return r.s.st }

// Log is the service's logger.
func (r Running) Log() *slog.Logger { return r.s.log }

// Config is the running configuration.
func (r Running) Config() *Built {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.s.built
}

// Status is the running configuration's hash and load time and the
// outcome of the last reload.
func (r Running) Status() ConfigStatus {
	if st := r.s.ops.status.Load(); st != nil {
		return *st
	}
	return ConfigStatus{}
}

// AdminToken is the running configuration's admin_token ("" for none).
func (r Running) AdminToken() string { return r.s.ops.adminToken() }

// Matches is how many events rule matched since the service started.
func (r Running) Matches(rule string) int { return r.s.ops.metrics.Matches(rule) }

// Notify tells the workers of sinks that deliveries are due (after a
// retry), as the admin API does.
func (r Running) Notify(sinks ...string) { r.s.disp.Notify(sinks) }
