package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/sinks"
)

// Request is one request exactly as the sink sends it.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// Request builds the request for a delivery at time now (the
// webhook-timestamp), signed. It fails when the body expression or a
// template fails on the message's event; the error says which and why.
// Send uses it, and so do dry runs, which show what would be sent.
func (s *Sink) Request(m *sinks.Message, now time.Time) (*Request, error) {
	r := &Request{Method: s.c.method, Header: http.Header{}, Body: m.EventJSON}
	body := s.body
	bodyOf := "body"
	if b := s.ruleBodies[m.Rule]; b != nil {
		body, bodyOf = b, fmt.Sprintf("webhook.body of rule %q", m.Rule)
	}
	var ev *event.Event
	var env map[string]any
	if body != nil || s.templated() {
		var err error
		if ev, err = eventOf(m); err != nil {
			return nil, err
		}
		env = ev.Map()
	}
	var err error
	if r.URL, err = s.c.url.render(env); err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	for _, h := range s.c.headers {
		v, err := h.value.render(env)
		if err != nil {
			return nil, fmt.Errorf("headers: %s: %w", h.name, err)
		}
		r.Header.Set(h.name, v)
	}
	if body != nil {
		v, err := body(ev)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", bodyOf, err)
		}
		if r.Body, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("%s: encode as JSON: %w", bodyOf, err)
		}
	} else if len(r.Body) == 0 && m.Event != nil {
		if r.Body, err = json.Marshal(m.Event); err != nil {
			return nil, fmt.Errorf("encode the event: %w", err)
		}
	}
	ts := now.Unix()
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "switchboard")
	r.Header.Set("webhook-id", m.DeliveryID)
	r.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	if len(s.c.keys) > 0 {
		sigs := make([]string, len(s.c.keys))
		for i, k := range s.c.keys {
			sigs[i] = Sign(k, m.DeliveryID, ts, r.Body)
		}
		r.Header.Set("webhook-signature", strings.Join(sigs, " "))
	}
	return r, nil
}

func (s *Sink) templated() bool {
	if s.c.url.t != nil {
		return true
	}
	for _, h := range s.c.headers {
		if h.value.t != nil {
			return true
		}
	}
	return false
}

// eventOf is the event a body and templates are evaluated on: the one
// stored (EventJSON), so that every attempt, from a delivery handed over at
// intake or one claimed from the store, sends the same bytes (an event
// read back from JSON has its data's times as strings).
func eventOf(m *sinks.Message) (*event.Event, error) {
	if len(m.EventJSON) > 0 {
		return event.Decode(m.EventJSON)
	}
	if m.Event != nil {
		return m.Event, nil
	}
	return nil, errors.New("the delivery has no event")
}
