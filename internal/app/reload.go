package app

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/switchboard/switchboard/internal/config"
)

// ReloadResult is the outcome of a reload, as answered by POST /-/reload.
type ReloadResult struct {
	OK              bool     `json:"ok"`
	ConfigHash      string   `json:"config_hash"`
	Changed         bool     `json:"changed"`
	Errors          []string `json:"errors,omitempty"`
	RestartRequired []string `json:"restart_required,omitempty"`
}

// reload builds the configuration anew and swaps it in whole; on any error
// the running configuration stays.
func (s *service) reload() (ReloadResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := Load(s.opts.ConfigPath, s.log)
	if err != nil {
		res := ReloadResult{ConfigHash: s.built.File.Hash}
		var es config.Errors
		if errors.As(err, &es) {
			for _, e := range es {
				res.Errors = append(res.Errors, e.Error())
			}
		} else {
			res.Errors = []string{err.Error()}
		}
		s.log.Error("reload failed, keeping the running configuration", "errors", res.Errors)
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
	for _, w := range b.Warnings {
		s.log.Warn(w)
	}
	s.srv.Swap(b.Routing)
	s.disp.Update(b.Targets)
	s.built = b
	s.log.Info("configuration reloaded", "config_hash", b.File.Hash, "changed", res.Changed, "restart_required", res.RestartRequired)
	return res, nil
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
