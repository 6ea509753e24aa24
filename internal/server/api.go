package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/store"
)

// The delivery log API, on the admin listener: the same queries and retries
// as `switchboard deliveries`, as JSON.
//
//	GET  /api/deliveries?state=&sink=&rule=&subject=&event=&since=&limit=
//	GET  /api/deliveries/{id}
//	POST /api/deliveries/{id}/retry
//	POST /api/deliveries/retry?dead=1&sink=&since=
func (s *Server) mountAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/deliveries", s.apiList)
	mux.HandleFunc("GET /api/deliveries/{id}", s.apiGet)
	mux.HandleFunc("POST /api/deliveries/{id}/retry", s.apiRetryOne)
	mux.HandleFunc("POST /api/deliveries/retry", s.apiRetryDead)
}

// MaxListLimit bounds the number of deliveries one list returns.
const MaxListLimit = 10000

// ParseSince reads a since filter: a duration back from now ("90m", "24h",
// "7d") or an RFC 3339 time. "" is the zero time (no filter).
func ParseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := config.ParseDuration(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("since: %q is neither a duration (24h, 7d) nor an RFC 3339 time", v)
	}
	return now.Add(-d), nil
}

// ParseLimit reads a limit: "" is the default (100); at most MaxListLimit.
func ParseLimit(v string) (int, error) {
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > MaxListLimit {
		return 0, fmt.Errorf("limit: %q is not a number from 1 to %d", v, MaxListLimit)
	}
	return n, nil
}

func (s *Server) filter(q url.Values) (store.Filter, error) {
	f := store.Filter{State: q.Get("state"), Sink: q.Get("sink"), Rule: q.Get("rule"), Subject: q.Get("subject"), EventID: q.Get("event")}
	var err error
	if f.Since, err = ParseSince(q.Get("since"), s.now()); err != nil {
		return f, err
	}
	if f.Limit, err = ParseLimit(q.Get("limit")); err != nil {
		return f, err
	}
	return f, nil
}

func (s *Server) apiList(w http.ResponseWriter, r *http.Request) {
	f, err := s.filter(r.URL.Query())
	if err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	ds, err := s.st.List(r.Context(), f)
	if err != nil {
		s.storeError(w, "list deliveries", err)
		return
	}
	if ds == nil {
		ds = []*store.Delivery{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds, "count": len(ds)})
}

// DeliveryDetail is one delivery with its event and attempt history, as the
// API answers and `switchboard deliveries show --json` prints.
type DeliveryDetail struct {
	Delivery *store.Delivery `json:"delivery"`
	Event    json.RawMessage `json:"event"`
	Attempts []AttemptView   `json:"attempts"`
}

// AttemptView is one attempt in JSON.
type AttemptView struct {
	N          int       `json:"n"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	Status     int       `json:"status,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// Detail builds the JSON form of a delivery and its attempts.
func Detail(d *store.Delivery, atts []store.Attempt) DeliveryDetail {
	out := DeliveryDetail{Delivery: d, Event: json.RawMessage(d.EventJSON), Attempts: []AttemptView{}}
	if len(out.Event) == 0 {
		out.Event = json.RawMessage("null")
	}
	for _, a := range atts {
		out.Attempts = append(out.Attempts, AttemptView{N: a.N, StartedAt: a.Started, DurationMS: a.Duration.Milliseconds(), Status: a.Status, Error: a.Error})
	}
	return out
}

func (s *Server) apiGet(w http.ResponseWriter, r *http.Request) {
	d, atts, err := s.st.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, "get delivery", err)
		return
	}
	writeJSON(w, http.StatusOK, Detail(d, atts))
}

func (s *Server) apiRetryOne(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, _, err := s.st.Get(r.Context(), id)
	if err != nil {
		s.storeError(w, "retry", err)
		return
	}
	if d.State != store.StateDead && d.State != store.StateSilenced {
		apiError(w, http.StatusConflict, fmt.Errorf("delivery %s is %s: only dead and silenced deliveries can be retried", id, d.State))
		return
	}
	n, err := s.st.Retry(r.Context(), id)
	if err != nil {
		s.storeError(w, "retry", err)
		return
	}
	s.log.Info("delivery re-queued", "delivery", id, "sink", d.Sink, "by", "admin api")
	if n > 0 && s.notify != nil {
		s.notify([]string{d.Sink})
	}
	writeJSON(w, http.StatusOK, map[string]any{"retried": n})
}

func (s *Server) apiRetryDead(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if dead, _ := strconv.ParseBool(q.Get("dead")); !dead {
		apiError(w, http.StatusBadRequest, errors.New("only dead deliveries are retried in bulk: pass dead=1 (and optionally sink, since)"))
		return
	}
	since, err := ParseSince(q.Get("since"), s.now())
	if err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	sink := q.Get("sink")
	n, err := s.st.RetryDead(r.Context(), sink, since)
	if err != nil {
		s.storeError(w, "retry dead", err)
		return
	}
	s.log.Info("dead deliveries re-queued", "deliveries", n, "sink", sink, "since", since, "by", "admin api")
	if n > 0 && sink != "" && s.notify != nil {
		s.notify([]string{sink}) // without a sink the workers find them at their next poll
	}
	writeJSON(w, http.StatusOK, map[string]any{"retried": n})
}

func (s *Server) storeError(w http.ResponseWriter, what string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		apiError(w, http.StatusNotFound, err)
		return
	}
	s.log.Error("admin api: "+what, "err", err)
	apiError(w, http.StatusServiceUnavailable, errors.New("store unavailable, retry later"))
}

func apiError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]any{"error": err.Error()})
}
