package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/store"
)

// Silences on the admin API: a wrong one is refused with the reasons, one
// added applies to the next callback on this instance at once (its
// deliveries silenced, retryable), and expiring it ends that.
func TestAPISilences(t *testing.T) {
	e := apiServer(t)
	for body, want := range map[string]string{
		`{"match": "status == 1", "for": "1h", "comment": "x"}`:           "match:",
		`{"match": "true", "for": "soon", "comment": "x"}`:                "for:",
		`{"match": "true", "for": "1h"}`:                                  "comment:",
		`{"match": "true", "for": "1h", "comment": "x", "sink": "nope"}`:  "no rule sends to a sink named",
		`{"match": "true", "for": "1h", "comment": "x", "rule": "nope"}`:  "rule: no rule named",
		`{"match": "true", "for": "1h", "comment": "x", "colour": "red"}`: "unknown field",
	} {
		resp, got := post(t, e.admin.URL+"/api/silences", body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got, want) {
			t.Errorf("%s: %d %s, want 400 with %q", body, resp.StatusCode, got, want)
		}
	}
	resp, got := post(t, e.admin.URL+"/api/silences", `{"match": "subject == \"quiet\"", "for": "1h", "comment": "known", "sink": "b", "created_by": "ana"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("add: %d %s", resp.StatusCode, got)
	}
	var list struct{ Silences []store.Silence }
	if code := e.do(t, "GET", "/api/silences", &list); code != 200 || len(list.Silences) != 1 || list.Silences[0].CreatedBy != "ana" {
		t.Fatalf("list: %d %+v", code, list)
	}
	id := list.Silences[0].ID
	e.callback(t, "quiet", "failure") // a pending, b silenced, c pending
	e.callback(t, "loud", "failure")
	if n := e.counts.get("silenced"); n != 1 {
		t.Errorf("Silenced hook counted %d, want 1", n)
	}
	var ds listReply
	e.do(t, "GET", "/api/deliveries?state=silenced", &ds)
	if len(ds.Deliveries) != 1 || ds.Deliveries[0].Subject != "quiet" || ds.Deliveries[0].Sink != "b" {
		t.Fatalf("silenced deliveries: %+v", ds.Deliveries)
	}
	var retried map[string]int
	if code := e.do(t, "POST", "/api/deliveries/"+ds.Deliveries[0].ID+"/retry", &retried); code != 200 || retried["retried"] != 1 {
		t.Errorf("retry of a silenced delivery: %d %v", code, retried)
	}
	if code := e.do(t, "POST", "/api/silences/"+id+"/expire", nil); code != 200 {
		t.Errorf("expire: %d", code)
	}
	if code := e.do(t, "POST", "/api/silences/"+id+"/expire", nil); code != http.StatusNotFound {
		t.Errorf("expire again: %d, want 404", code)
	}
	e.callback(t, "quiet", "success")
	e.do(t, "GET", "/api/deliveries?state=silenced", &ds)
	if len(ds.Deliveries) != 0 {
		t.Errorf("silenced after expiry: %+v", ds.Deliveries)
	}
	var timers struct {
		Timers []store.Timer
		Open   int
	}
	if code := e.do(t, "GET", "/api/expectations", &timers); code != 200 || timers.Open != 0 || timers.Timers == nil {
		t.Errorf("expectations: %d %+v", code, timers)
	}
}
