package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Admin serves the admin endpoints and the delivery log API (api.go).
// Extra handlers (metrics, reload) are mounted by the caller on the
// returned mux; RequireToken guards it where the listener is not loopback.
func (s *Server) Admin() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	s.mountAPI(mux)
	s.mountSilencesAPI(mux)
	return mux
}

// ready answers 200 once a configuration is loaded and the store answers.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	rt := s.cur.Load()
	if rt == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "no configuration loaded"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "store unavailable", "config_hash": rt.Hash})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "config_hash": rt.Hash, "store": s.st.Dialect()})
}

// WriteJSON writes v as an indented JSON response.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
