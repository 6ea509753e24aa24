// Package receivertest provides a minimal receiver for tests of the core:
// it accepts a JSON object (or an array of them) naming the event fields
// directly, so tests can drive intake without a vendor's wire format.
//
//	{"subject": "tx-1", "status": "failure", "code": 263, "final": true,
//	 "type": "fax.outbound", "data": {"DestinationFax": "0012125551234"}}
//
// An optional "token" setting is compared with the ?token= query parameter.
package receivertest

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/receivers"
)

// Config configures the test receiver.
type Config struct {
	Token string `yaml:"token"`
}

// Validate accepts every configuration.
func (c *Config) Validate() error { return nil }

// Receiver is the test receiver.
type Receiver struct {
	token string
}

// New returns a test receiver.
func New(cfg Config) *Receiver { return &Receiver{token: cfg.Token} }

type payload struct {
	Source      string         `json:"source"`
	Type        string         `json:"type"`
	Subject     string         `json:"subject"`
	Status      string         `json:"status"`
	Final       bool           `json:"final"`
	Code        int            `json:"code"`
	Description string         `json:"description"`
	Time        time.Time      `json:"time"`
	Data        map[string]any `json:"data"`
}

// Verify checks the token, if one is configured.
func (r *Receiver) Verify(req *http.Request, body []byte) error {
	if r.token == "" {
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(req.URL.Query().Get("token")), []byte(r.token)) != 1 {
		return receivers.Errorf(http.StatusUnauthorized, "bad token")
	}
	return nil
}

// Parse decodes the payload.
func (r *Receiver) Parse(req *http.Request, body []byte, now time.Time) ([]*event.Event, error) {
	var ps []payload
	b := bytes.TrimSpace(body)
	if len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &ps); err != nil {
			return nil, receivers.Errorf(http.StatusBadRequest, "malformed JSON: %v", err)
		}
	} else {
		var p payload
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, receivers.Errorf(http.StatusBadRequest, "malformed JSON: %v", err)
		}
		ps = []payload{p}
	}
	out := make([]*event.Event, 0, len(ps))
	for _, p := range ps {
		if p.Subject == "" {
			return nil, receivers.Errorf(http.StatusBadRequest, "missing subject")
		}
		ev := &event.Event{
			Source: or(p.Source, "test"), Type: or(p.Type, "test"), Subject: p.Subject,
			Status: or(p.Status, event.StatusUnknown), Final: p.Final, Code: p.Code,
			Description: p.Description, Time: p.Time, Data: p.Data,
		}
		ev.DedupKey = fmt.Sprintf("%s|%s|%d|%s", ev.Type, ev.Subject, ev.Code, ev.Status)
		out = append(out, ev)
	}
	return out, nil
}

// Reply answers 200 {"ok":true} or the error as text.
func (r *Receiver) Reply(w http.ResponseWriter, req *http.Request, events []*event.Event, err error) {
	if err != nil {
		receivers.WritePlainError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"ok":true,"events":%d}`+"\n", len(events))
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

var _ receivers.Receiver = (*Receiver)(nil)
