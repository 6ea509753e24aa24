package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
)

// The silences and expectations API, on the admin listener, behind the
// same token as the delivery log: the same as `switchboard silence` and
// `switchboard expectations`, as JSON.
//
//	GET  /api/silences?all=1
//	POST /api/silences              {"match", "for", "comment", "sink", "rule", "created_by"}
//	POST /api/silences/{id}/expire
//	GET  /api/expectations?limit=
func (s *Server) mountSilencesAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/silences", s.apiSilences)
	mux.HandleFunc("POST /api/silences", s.apiAddSilence)
	mux.HandleFunc("POST /api/silences/{id}/expire", s.apiExpireSilence)
	mux.HandleFunc("GET /api/expectations", s.apiExpectations)
}

// SilenceRequest is the body of POST /api/silences.
type SilenceRequest struct {
	Match     string `json:"match"`
	For       string `json:"for"` // a duration: 30m, 2h, 1d
	Comment   string `json:"comment"`
	Sink      string `json:"sink"`
	Rule      string `json:"rule"`
	CreatedBy string `json:"created_by"`
}

// CheckSilence validates a silence against the configuration it will apply
// to: the matcher compiles to a bool over the event, the duration is
// positive, a comment says why, and a sink or rule it names exists.
func CheckSilence(req SilenceRequest, router *rules.Router) (store.Silence, time.Duration, error) {
	sl := store.Silence{Match: req.Match, Sink: req.Sink, Rule: req.Rule, Comment: req.Comment, CreatedBy: req.CreatedBy}
	var errs []error
	if _, err := rules.CompileCondition(req.Match); err != nil {
		errs = append(errs, fmt.Errorf("match: %w", err))
	}
	d, err := config.ParseDuration(req.For)
	if err != nil || d <= 0 {
		errs = append(errs, fmt.Errorf("for: %q is not a positive duration (30m, 2h, 1d)", req.For))
	}
	if req.Comment == "" {
		errs = append(errs, errors.New("comment: say why (who silences what, for which incident)"))
	}
	if router != nil {
		var names, sinks []string
		for _, r := range router.Rules() {
			names = append(names, r.Name)
			sinks = append(sinks, r.To...)
		}
		if req.Rule != "" && !slices.Contains(names, req.Rule) {
			errs = append(errs, fmt.Errorf("rule: no rule named %q", req.Rule))
		}
		if req.Sink != "" && !slices.Contains(sinks, req.Sink) {
			errs = append(errs, fmt.Errorf("sink: no rule sends to a sink named %q", req.Sink))
		}
	}
	return sl, d, errors.Join(errs...)
}

func (s *Server) apiSilences(w http.ResponseWriter, r *http.Request) {
	all, _ := strconv.ParseBool(r.URL.Query().Get("all"))
	sls, err := s.st.Silences(r.Context(), all)
	if err != nil {
		s.storeError(w, "list silences", err)
		return
	}
	if sls == nil {
		sls = []store.Silence{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"silences": sls, "count": len(sls)})
}

func (s *Server) apiAddSilence(w http.ResponseWriter, r *http.Request) {
	var req SilenceRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, fmt.Errorf("body: %w", err))
		return
	}
	if req.CreatedBy == "" {
		req.CreatedBy = "admin api"
	}
	var router *rules.Router
	if rt := s.cur.Load(); rt != nil {
		router = rt.Router
	}
	sl, d, err := CheckSilence(req, router)
	if err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	sl, err = s.st.AddSilence(r.Context(), sl, d)
	if err != nil {
		s.storeError(w, "add silence", err)
		return
	}
	_ = s.st.RefreshSilences(r.Context()) // this instance at once; the others within a second
	s.log.Info("silence added", "silence", sl.ID, "match", sl.Match, "sink", sl.Sink, "rule", sl.Rule,
		"ends_at", sl.EndsAt, "comment", sl.Comment, "by", sl.CreatedBy)
	writeJSON(w, http.StatusCreated, sl)
}

func (s *Server) apiExpireSilence(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.st.ExpireSilence(r.Context(), id); err != nil {
		s.storeError(w, "expire silence", err)
		return
	}
	_ = s.st.RefreshSilences(r.Context())
	s.log.Info("silence expired", "silence", id, "by", "admin api")
	writeJSON(w, http.StatusOK, map[string]any{"expired": id})
}

func (s *Server) apiExpectations(w http.ResponseWriter, r *http.Request) {
	limit, err := ParseLimit(r.URL.Query().Get("limit"))
	if err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	ts, open, err := s.st.Timers(r.Context(), limit)
	if err != nil {
		s.storeError(w, "list timers", err)
		return
	}
	if ts == nil {
		ts = []store.Timer{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"timers": ts, "open": open})
}
