package console

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/switchboard/switchboard/internal/server"
	"github.com/switchboard/switchboard/internal/store"
)

// pageSize is how many deliveries one page of the log shows.
const pageSize = 50

// states are the delivery states, in the order the counts show them.
var states = []string{store.StateDead, store.StatePending, store.StateNoSink, store.StateDelivered, store.StateSuppressed, store.StateSilenced}

// filter is the delivery log's filter as the form and the links carry it.
type filter struct {
	State, Sink, Rule, Subject, Since, Until string
}

func readFilter(q url.Values) filter {
	return filter{State: q.Get("state"), Sink: q.Get("sink"), Rule: q.Get("rule"), Subject: q.Get("subject"),
		Since: q.Get("since"), Until: q.Get("until")}
}

// store turns the filter into the store's, reading the time range as the
// CLI's --since does: a duration back from now or an RFC 3339 time.
func (f filter) store(now time.Time) (store.Filter, error) {
	sf := store.Filter{State: f.State, Sink: f.Sink, Rule: f.Rule, Subject: f.Subject, Limit: pageSize}
	var err error
	if sf.Since, err = server.ParseSince(f.Since, now); err != nil {
		return sf, err
	}
	if sf.Until, err = server.ParseSince(f.Until, now); err != nil {
		return sf, err
	}
	return sf, nil
}

// query is the filter as a URL query, with extra key/value pairs.
func (f filter) Query(kv ...string) string {
	q := url.Values{}
	for k, v := range map[string]string{"state": f.State, "sink": f.Sink, "rule": f.Rule, "subject": f.Subject, "since": f.Since, "until": f.Until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q.Encode()
}

// withState is the filter's query with another state ("" for all).
func (f filter) withState(s string) string {
	f.State = s
	return f.Query()
}

type stateCount struct {
	State, Href string
	Count       int
	Current     bool
}

type listView struct {
	Filter        filter
	All           stateCount
	Counts        []stateCount
	Rows          []*store.Delivery
	Older, Newest string // links to the next page and back to the first
	Live          string // the rows endpoint for new deliveries
	Dead          int    // dead deliveries matching: the bulk retry's count
	RetryHref     string // the bulk retry's confirmation
	Retried       string // how many the last bulk retry re-queued
	Sinks, Rules  []string
	Error         string
}

// deliveries is the delivery log, newest first, filtered, with counts per
// state and keyset paging (?before=<id of the last row>).
func (c *Console) deliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := listView{Filter: readFilter(q)}
	b := c.rt.Config()
	for _, s := range b.File.Sinks {
		v.Sinks = append(v.Sinks, s.Name)
	}
	for _, ru := range b.File.Router.Rules() {
		v.Rules = append(v.Rules, ru.Name)
	}
	sf, err := v.Filter.store(c.now())
	if err != nil {
		v.Error = err.Error()
		c.render(w, r, http.StatusBadRequest, "deliveries", "Deliveries", "deliveries", v)
		return
	}
	counts, err := c.rt.Store().CountStates(r.Context(), sf)
	if err != nil {
		c.storeFailed(w, r, "count deliveries", err)
		return
	}
	v.All = stateCount{State: "all", Href: "/?" + v.Filter.withState(""), Current: v.Filter.State == ""}
	for _, s := range states {
		v.Counts = append(v.Counts, stateCount{State: s, Count: counts[s], Href: "/?" + v.Filter.withState(s), Current: v.Filter.State == s})
		v.All.Count += counts[s]
	}
	if v.Filter.State == "" || v.Filter.State == store.StateDead {
		v.Dead = counts[store.StateDead]
		v.RetryHref = "/retry?" + v.Filter.Query()
	}
	v.Retried = q.Get("retried")
	before := q.Get("before")
	if v.Rows, err = c.rt.Store().Page(r.Context(), sf, before, ""); err != nil {
		c.storeFailed(w, r, "list deliveries", err)
		return
	}
	if len(v.Rows) == pageSize {
		v.Older = "/?" + v.Filter.Query("before", v.Rows[len(v.Rows)-1].ID)
	}
	if before != "" {
		v.Newest = "/?" + v.Filter.Query()
	} else {
		newest := ""
		if len(v.Rows) > 0 {
			newest = v.Rows[0].ID
		}
		v.Live = "/rows?" + v.Filter.Query("after", newest)
	}
	c.render(w, r, http.StatusOK, "deliveries", "Deliveries", "deliveries", v)
}

// rows answers the deliveries newer than ?after= that match the filter,
// as table rows for the live delivery log: 204 when there are none, and
// 304 when the client has them already (its ETag is the newest id). At
// most a page of the oldest new ones, with X-Newest the newest of them and
// X-More when the page is full: the script asks again from there at once.
func (c *Console) rows(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sf, err := readFilter(q).store(c.now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	after := q.Get("after")
	if after == "" {
		// The page showed no delivery: every one is new. (Without a bound
		// the page would be the newest ones, skipping the others.)
		after = deliveryIDPrefix
	}
	ds, err := c.rt.Store().Page(r.Context(), sf, "", after)
	if err != nil {
		c.rt.Log().Error("console: new deliveries", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	if len(ds) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	etag := `"` + ds[0].ID + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("X-Newest", ds[0].ID)
	if len(ds) == sf.Limit {
		w.Header().Set("X-More", "1") // a full page: more may follow it
	}
	if slices.Contains(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := c.pages["deliveries"].ExecuteTemplate(w, "rows", ds); err != nil {
		c.rt.Log().Error("console: render rows", "err", err)
	}
}

// deliveryIDPrefix sorts before every delivery id (store.DeliveryID).
const deliveryIDPrefix = "msg_"
