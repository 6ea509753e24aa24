// Package server is the HTTP side of Switchboard: the callback endpoint that
// verifies, parses and durably stores each callback before answering the
// vendor, and the admin endpoints.
package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/receivers"
	"github.com/switchboard/switchboard/rules"
)

// Routing is the part of the configuration intake uses; it is swapped whole
// on reload.
type Routing struct {
	Receivers map[string]receivers.Receiver
	Router    *rules.Router
	BodyLimit int64
	Hash      string // of the configuration file
}

// Server answers callbacks.
type Server struct {
	st      *store.Store
	log     *slog.Logger
	cur     atomic.Pointer[Routing]
	notify  func(sinks []string)
	handoff store.Handoff
	now     func() time.Time
	metrics Metrics
}

// Metrics receives intake observations. Nil funcs are skipped.
type Metrics struct {
	Callback  func(receiver, outcome string, d time.Duration)
	Event     func(ev *event.Event)
	RuleError func(rule string)
	// Match is called for each rule an event matched, once it is stored.
	Match func(rule string)
	// Throttled is called for each match a rule's throttle suppressed.
	Throttled func(rule string)
	// Timers is called with the expectations whose timers an intake
	// started and stopped.
	Timers func(started, cancelled []string)
	// Silenced is called with the number of deliveries a silence held back.
	Silenced func(n int)
}

// New returns a server storing into st. notify is called with the sinks
// that got new deliveries after each commit.
func New(st *store.Store, log *slog.Logger, notify func([]string), m Metrics) *Server {
	return &Server{st: st, log: log, notify: notify, now: time.Now, metrics: m}
}

// SetHandoff makes intake hand the deliveries it creates straight to h
// (the delivery workers) instead of leaving them for a claim. Call it
// before serving.
func (s *Server) SetHandoff(h store.Handoff) { s.handoff = h }

// Swap installs a new routing configuration for the requests that follow.
func (s *Server) Swap(r *Routing) { s.cur.Store(r) }

// Routing returns the configuration in use (nil before the first Swap).
func (s *Server) Routing() *Routing { return s.cur.Load() }

// Handler returns the callback handler: POST /hooks/{name}.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hooks/{name}", s.hook)
	return mux
}

// Callback outcomes, as logged and counted.
const (
	OutcomeAccepted     = "accepted"
	OutcomeDuplicate    = "duplicate"
	OutcomeUnauthorized = "unauthorized"
	OutcomeMalformed    = "malformed"
	OutcomeTooLarge     = "too_large"
	OutcomeStoreError   = "store_error"
)

func (s *Server) hook(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	name := r.PathValue("name")
	rt := s.cur.Load()
	var rc receivers.Receiver
	if rt != nil {
		rc = rt.Receivers[name]
	}
	if rc == nil {
		http.Error(w, "no receiver named "+quote(name), http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodPost:
	case http.MethodGet, http.MethodHead:
		if g, ok := rc.(receivers.GetHandler); ok {
			g.ServeGet(w, r)
			return
		}
		fallthrough
	default:
		allow := "POST"
		if _, ok := rc.(receivers.GetHandler); ok {
			allow = "GET, HEAD, POST"
		}
		w.Header().Set("Allow", allow)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	events, res, err := s.intake(w, r, rc, rt, name, start)
	outcome := outcomeOf(res, err)
	// The attributes are built only for a line that is written: an accepted
	// callback's is not at --log-level warn.
	common := func() []any {
		return []any{"receiver", name, "outcome", outcome, "latency", s.now().Sub(start), "remote", r.RemoteAddr}
	}
	if err != nil {
		code, msg := receivers.Status(err)
		attrs := append(common(), "status", code, "err", msg)
		if code >= 500 {
			attrs = append(attrs, "cause", err.Error())
			s.log.Error("callback failed", attrs...)
		} else {
			s.log.Warn("callback refused", attrs...)
		}
	} else if s.log.Enabled(r.Context(), slog.LevelInfo) {
		ids := make([]string, len(events))
		for i, ev := range events {
			ids[i] = ev.ID
		}
		attrs := append(common(), "events", ids, "deliveries", res.Deliveries)
		if len(res.Throttled) > 0 {
			attrs = append(attrs, "throttled", res.Throttled)
		}
		if res.Silenced > 0 {
			attrs = append(attrs, "silenced", res.Silenced)
		}
		s.log.Info("callback", attrs...)
	}
	if s.metrics.Callback != nil {
		s.metrics.Callback(name, outcome, s.now().Sub(start))
	}
	rc.Reply(w, r, events, err)
}

func outcomeOf(res *store.IngestResult, err error) string {
	if err == nil {
		if len(res.Stored) == 0 && len(res.Duplicates) > 0 {
			return OutcomeDuplicate
		}
		return OutcomeAccepted
	}
	switch code, _ := receivers.Status(err); {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return OutcomeUnauthorized
	case code == http.StatusRequestEntityTooLarge:
		return OutcomeTooLarge
	case code == http.StatusServiceUnavailable || code >= 500:
		return OutcomeStoreError
	}
	return OutcomeMalformed
}

// intake reads, verifies, parses and stores one callback. The events are
// durable when it returns without error.
func (s *Server) intake(w http.ResponseWriter, r *http.Request, rc receivers.Receiver, rt *Routing, name string, start time.Time) ([]*event.Event, *store.IngestResult, error) {
	events, err := Decode(w, r, Callback{Receiver: rc, Name: name, BodyLimit: rt.BodyLimit}, start)
	if err != nil {
		return nil, nil, err
	}
	res, err := s.st.Ingest(r.Context(), events, rt.Router.Route, s.handoff)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, nil, &receivers.Error{Status: http.StatusServiceUnavailable, Msg: "request cancelled before it was stored", Err: err}
		}
		return nil, nil, &receivers.Error{Status: http.StatusServiceUnavailable, Msg: "store unavailable, retry later", Err: err}
	}
	s.report(res)
	if len(res.Sinks) > 0 && s.notify != nil {
		s.notify(res.Sinks)
	}
	return events, res, nil
}

// Callback is how to take one callback in: the receiver and its settings.
type Callback struct {
	Receiver  receivers.Receiver
	Name      string // the receiver's name (config key)
	BodyLimit int64  // bytes
	// SkipVerify skips the receiver's authentication (dry runs only).
	SkipVerify bool
}

// Decode turns one callback request into sealed events: the checks that
// need no body (PreVerifier), the body read within its limit, the
// receiver's verification and parser. Intake and the dry run
// (switchboard test) both take callbacks in through it. w may be nil.
func Decode(w http.ResponseWriter, r *http.Request, c Callback, now time.Time) ([]*event.Event, error) {
	if pv, ok := c.Receiver.(receivers.PreVerifier); ok && !c.SkipVerify {
		if err := pv.PreVerify(r); err != nil {
			return nil, err // refused before a byte of the body is read
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.BodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, receivers.Errorf(http.StatusRequestEntityTooLarge, "body larger than %d bytes (body_limit)", c.BodyLimit)
		}
		return nil, &receivers.Error{Status: http.StatusBadRequest, Msg: "could not read body", Err: err}
	}
	if !c.SkipVerify {
		if err := c.Receiver.Verify(r, body); err != nil {
			return nil, err
		}
	}
	events, err := c.Receiver.Parse(r, body, now)
	if err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, receivers.Errorf(http.StatusBadRequest, "no events in callback")
	}
	for _, ev := range events {
		ev.Seal(c.Name, now)
	}
	return events, nil
}

// Report logs and counts what an intake of Switchboard's own events (see
// package expect) stored, as for a callback.
func (s *Server) Report(res *store.IngestResult) { s.report(res) }

// report logs and counts what an intake stored, once it is committed.
func (s *Server) report(res *store.IngestResult) {
	for _, e := range res.RuleErrors {
		s.log.Error("rule failed", "rule", e.Rule, "event", e.Event, "err", e.Err)
		if s.metrics.RuleError != nil {
			s.metrics.RuleError(e.Rule)
		}
	}
	for i, ev := range res.Stored {
		if s.metrics.Event != nil {
			s.metrics.Event(ev)
		}
		if s.metrics.Match != nil {
			for _, rule := range res.Matched[i] {
				s.metrics.Match(rule)
			}
		}
	}
	if s.metrics.Throttled != nil {
		for _, rule := range res.Throttled {
			s.metrics.Throttled(rule)
		}
	}
	if s.metrics.Silenced != nil && res.Silenced > 0 {
		s.metrics.Silenced(res.Silenced)
	}
	if s.metrics.Timers != nil && len(res.TimersStarted)+len(res.TimersCancelled) > 0 {
		s.metrics.Timers(res.TimersStarted, res.TimersCancelled)
	}
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' {
			return -1
		}
		return r
	}, s) + `"`
}
