package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/server"
	"github.com/switchboard/switchboard/receivers"
	"github.com/switchboard/switchboard/rules"
)

// DryRunRequest is a recorded callback to run through a receiver and the
// rules as the service would, without storing or sending anything.
type DryRunRequest struct {
	// Receiver names the configured receiver (its config key).
	Receiver string
	Body     []byte
	// ContentType of the request; empty guesses it from the body (see
	// GuessContentType).
	ContentType string
	// Header holds extra request headers (signatures: Authorization).
	Header http.Header
	// Query is the raw query of the callback URL (InterFAX: token=…).
	Query string
	// SkipVerify skips the receiver's authentication check.
	SkipVerify bool
	// PreviousStatus and Stale stand in for what the store would know
	// about the transaction (no earlier event by default); a callback's
	// later events about it have the earlier ones as history, as in the
	// service.
	PreviousStatus string
	Stale          bool
	// Now is the time of acceptance. Zero means time.Now.
	Now time.Time
}

// DryRunResult is what the service would do with a callback.
type DryRunResult struct {
	Receiver    string `json:"receiver"`
	ContentType string `json:"content_type"`
	// Verify is "passed", "skipped", "failed" or "unauthenticated" (the
	// receiver has no credentials to check).
	Verify string `json:"verify"`
	// Status is the HTTP status the service would answer; Error says why
	// it is not 200.
	Status int           `json:"status"`
	Error  string        `json:"error,omitempty"`
	Events []DryRunEvent `json:"events"`
}

// DryRunEvent is one event of the callback and what the rules make of it.
type DryRunEvent struct {
	Event *event.Event `json:"event"`
	// Matched lists the rules that matched, in order.
	Matched []string `json:"matched"`
	// Rules explains every rule: matched, or why not.
	Rules []rules.Explanation `json:"rules"`
	// Messages are the deliveries the service would store, per sink.
	Messages []DryRunMessage `json:"messages"`
	// Errors are rules that failed on this event at run time.
	Errors []string `json:"errors,omitempty"`
	// Expectations are the timers of expectations the event would start
	// or stop for its subject.
	Expectations []DryRunExpectation `json:"expectations,omitempty"`
}

// DryRunExpectation is what an event does to an expectation's timer.
type DryRunExpectation struct {
	Expectation string `json:"expectation"`
	// Action is "start" (unless a timer runs already, which is kept) or
	// "stop".
	Action string `json:"action"`
	// Within is, for a start, how long until expectation.missed fires.
	Within string `json:"within,omitempty"`
}

// DryRunMessage is one delivery: the message as the sink would get it.
type DryRunMessage struct {
	Rule      string `json:"rule"`
	Sink      string `json:"sink"`
	SinkType  string `json:"sink_type"`
	Title     string `json:"title"`
	Text      string `json:"text"`
	Templated bool   `json:"templated"`
	// Throttle is set for a throttled rule: the first match per key and
	// window is delivered, later ones are stored as suppressed.
	Throttle *DryRunThrottle `json:"throttle,omitempty"`
	// Thread is the thread key of a message to a Slack sink with thread:.
	Thread string `json:"thread,omitempty"`
	// Request is the request a webhook sink would make.
	Request *DryRunWebhook `json:"request,omitempty"`
}

// DryRunThrottle is a message's throttle key and window.
type DryRunThrottle struct {
	Key    string `json:"key"`
	Window string `json:"window"`
}

// Verify outcomes of a dry run.
const (
	VerifyPassed  = "passed"
	VerifySkipped = "skipped"
	VerifyFailed  = "failed"
	// VerifyUnauthenticated: the receiver says unauthenticated: true.
	VerifyUnauthenticated = "unauthenticated"
)

// DryRun runs a recorded callback through the receiver's verification and
// parser and through the rules, exactly as intake does, and reports the
// events, the rules that matched (and why the others did not) and each
// message rendered per sink. Nothing is stored or sent. Throttles are
// reported, not applied: their state is in the store. It returns an error
// only when there is no such receiver.
func (b *Built) DryRun(req DryRunRequest) (*DryRunResult, error) {
	rc := b.receivers[req.Receiver]
	if rc == nil {
		names := make([]string, 0, len(b.receivers))
		for n := range b.receivers {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("no receiver named %q (configured: %s)", req.Receiver, strings.Join(names, ", "))
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	ct := req.ContentType
	if ct == "" {
		ct = GuessContentType(req.Body)
	}
	res := &DryRunResult{Receiver: req.Receiver, ContentType: ct, Status: http.StatusOK, Events: []DryRunEvent{}}
	target := "/hooks/" + req.Receiver
	if req.Query != "" {
		target += "?" + strings.TrimPrefix(req.Query, "?")
	}
	r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(req.Body))
	r.RemoteAddr = "127.0.0.1:1"
	for k, vs := range req.Header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	r.Header.Set("Content-Type", ct)

	fail := func(err error) (*DryRunResult, error) {
		code, msg := receivers.Status(err)
		res.Status, res.Error = code, msg
		var re *receivers.Error
		if errors.As(err, &re) && re.Err != nil {
			res.Error += " (" + re.Err.Error() + ")"
		}
		return res, nil
	}
	events, err := server.Decode(nil, r, server.Callback{Receiver: rc, Name: req.Receiver, BodyLimit: b.Routing.BodyLimit, SkipVerify: req.SkipVerify}, now)
	switch code, _ := receivers.Status(err); {
	case err != nil && code == http.StatusRequestEntityTooLarge:
		// Refused before verification.
	case req.SkipVerify:
		res.Verify = VerifySkipped
	case err != nil && (code == http.StatusUnauthorized || code == http.StatusForbidden):
		res.Verify = VerifyFailed
	case b.unauthenticated[req.Receiver]:
		res.Verify = VerifyUnauthenticated
	default:
		res.Verify = VerifyPassed
	}
	if err != nil {
		return fail(err)
	}
	sinkTypes := map[string]string{}
	for _, s := range b.File.Sinks {
		sinkTypes[s.Name] = s.Type
	}
	router := b.File.Router
	// Each transaction's state as intake sees it: what the request says
	// the store knows, then what the callback's earlier events leave (a
	// stale event leaves it as it was).
	type state struct {
		status string
		final  bool
	}
	known := map[[2]string]state{}
	for seq, ev := range events {
		k := [2]string{ev.Source, ev.Subject}
		st, ok := known[k]
		if !ok {
			st = state{req.PreviousStatus, req.Stale}
		}
		ev.PreviousStatus, ev.Stale = st.status, st.final
		if !st.final {
			known[k] = state{ev.Status, ev.Final}
		}
		route := router.Route(ev)
		de := DryRunEvent{Event: ev, Matched: route.Matched, Rules: router.Explain(ev), Messages: []DryRunMessage{}}
		if de.Matched == nil {
			de.Matched = []string{}
		}
		for _, e := range route.Errors {
			de.Errors = append(de.Errors, e.Error())
		}
		for _, a := range route.Expect {
			x := DryRunExpectation{Expectation: a.Expectation, Action: "stop"}
			if a.Start {
				x.Action, x.Within = "start", a.Within.String()
			}
			de.Expectations = append(de.Expectations, x)
		}
		evJSON, _ := json.Marshal(ev) // as stored; an event always encodes
		for _, m := range route.Matches {
			msg := DryRunMessage{Rule: m.Rule, Sink: m.Sink, SinkType: sinkTypes[m.Sink], Title: m.Title, Text: m.Text, Templated: m.Templated,
				Thread: m.Thread}
			if m.Window > 0 {
				msg.Throttle = &DryRunThrottle{Key: m.ThrottleKey, Window: m.Window.String()}
			}
			msg.Request = b.webhookRequest(ev, seq, evJSON, m, now)
			de.Messages = append(de.Messages, msg)
		}
		res.Events = append(res.Events, de)
	}
	return res, nil
}

// GuessContentType returns the content type a recorded body was most
// likely sent with: JSON (Telesign), XML (InterFAX SOAP) or a form
// (InterFAX).
func GuessContentType(body []byte) string {
	b := bytes.TrimLeft(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), " \t\r\n")
	switch {
	case len(b) > 0 && (b[0] == '{' || b[0] == '['):
		return "application/json"
	case len(b) > 0 && b[0] == '<':
		return "text/xml; charset=utf-8"
	}
	return "application/x-www-form-urlencoded"
}
