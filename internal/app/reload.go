package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/store"
)

// ReloadResult is the outcome of a reload, as answered by POST /-/reload.
type ReloadResult struct {
	OK              bool     `json:"ok"`
	ConfigHash      string   `json:"config_hash"`
	Changed         bool     `json:"changed"`
	Errors          []string `json:"errors,omitempty"`
	RestartRequired []string `json:"restart_required,omitempty"`
	// DeliveriesHeld counts the pending deliveries whose sink is gone
	// (now no_sink); DeliveriesResumed those whose sink is back.
	DeliveriesHeld    int `json:"deliveries_held,omitempty"`
	DeliveriesResumed int `json:"deliveries_resumed,omitempty"`
}

// reload builds the configuration anew and swaps it in whole; on any error
// the running configuration stays.
func (s *service) reload() (ReloadResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := Load(s.opts.ConfigPath, s.log)
	if err == nil {
		err = s.checkAdminAuth(b)
	}
	if err != nil {
		res := ReloadResult{ConfigHash: s.built.File.Hash, Errors: errorLines(err)}
		s.log.Error("reload failed, keeping the running configuration", "errors", res.Errors)
		s.ops.configLoaded(nil, err)
		return res, err
	}
	old := s.built.File
	res := ReloadResult{OK: true, ConfigHash: b.File.Hash, Changed: b.File.Hash != old.Hash}
	if b.File.Listen != old.Listen {
		res.RestartRequired = append(res.RestartRequired, "listen")
	}
	if b.File.Admin != old.Admin {
		res.RestartRequired = append(res.RestartRequired, "admin")
	}
	if b.File.Store != old.Store {
		res.RestartRequired = append(res.RestartRequired, "store")
	}
	if b.File.MaxConnections != old.MaxConnections {
		res.RestartRequired = append(res.RestartRequired, "max_connections")
	}
	for _, w := range b.Warnings {
		s.log.Warn(w)
	}
	b.attach(s.st)
	s.srv.Swap(b.Routing)
	s.exp.Update(expectConfig(b))
	s.disp.Update(b.Targets)
	s.built = b
	s.ops.configLoaded(b, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res.DeliveriesHeld, res.DeliveriesResumed = s.matchSinks(ctx, b)
	s.log.Info("configuration reloaded", "config_hash", b.File.Hash, "changed", res.Changed, "restart_required", res.RestartRequired)
	return res, nil
}

// checkAdminAuth refuses a configuration without admin_token while the
// admin listener is bound beyond loopback. The listener is judged by the
// address it is bound to, not by the configured one: a reload does not
// re-bind it, so editing admin to a loopback address and dropping the
// token would otherwise leave a public listener open.
func (s *service) checkAdminAuth(b *Built) error {
	if b.File.AdminToken != "" || config.IsLoopback(s.adminAddr) {
		return nil
	}
	return config.Errors{{File: b.File.Path, Msg: fmt.Sprintf(
		"admin_token is required: the admin listener is bound to %s, beyond loopback, until a restart (admin changes need one)", s.adminAddr)}}
}

// matchSinks holds the pending deliveries of sinks that are not configured
// (state no_sink) and resumes those of sinks that are. A store error is
// logged: the swap has happened, and the next reload or start tries again.
func (s *service) matchSinks(ctx context.Context, b *Built) (held, resumed int) {
	names := make([]string, len(b.Targets))
	for i, t := range b.Targets {
		names[i] = t.Name
	}
	held, resumed, err := s.st.MatchSinks(ctx, names)
	if err != nil {
		s.log.Error("update deliveries of removed or restored sinks", "err", err)
		return 0, 0
	}
	if held > 0 {
		s.log.Warn("pending deliveries held: their sink is not in the configuration; they resume if a sink of that name is configured again",
			"deliveries", held, "state", store.StateNoSink)
	}
	if resumed > 0 {
		s.log.Info("held deliveries resumed: their sink is configured again", "deliveries", resumed)
		s.disp.Notify(names)
	}
	return held, resumed
}

func (s *service) reloadHandler(w http.ResponseWriter, r *http.Request) {
	res, err := s.reload()
	code := http.StatusOK
	if err != nil {
		code = http.StatusUnprocessableEntity
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(res)
}
