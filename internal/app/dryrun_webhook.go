package app

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
	"github.com/switchboard/switchboard/sinks"
	"github.com/switchboard/switchboard/sinks/webhook"
)

// DryRunWebhook is the request a webhook sink would make for a message,
// exactly, but for its secrets: a value that came from a ${VAR} shows as
// ${VAR}, and a credential written in the file (a URL's password, a
// header or query parameter named like one: Authorization, X-Api-Key,
// token=…) as <secret>.
type DryRunWebhook struct {
	Method string `json:"method,omitempty"`
	URL    string `json:"url,omitempty"`
	// Headers are the request's headers by canonical name.
	Headers map[string]string `json:"headers,omitempty"`
	// Body is the exact body, JSON.
	Body json.RawMessage `json:"body,omitempty"`
	// Error says why no request can be made for this event (its body or a
	// template fails on it): the delivery would be dead.
	Error string `json:"error,omitempty"`
}

// webhookRequest builds the request the webhook sink of m would make, as
// the delivery workers would at now: the same delivery id (seq is the
// event's place in its callback), the event as stored.
func (b *Built) webhookRequest(ev *event.Event, seq int, evJSON []byte, m rules.Match, now time.Time) *DryRunWebhook {
	w := b.webhooks[m.Sink]
	if w == nil {
		return nil
	}
	msg := &sinks.Message{
		DeliveryID: store.DeliveryID(ev.ID, ev.ReceivedAt, seq, m.Rule, m.Sink),
		Rule:       m.Rule, Title: m.Title, Text: m.Text, Templated: m.Templated,
		Event: ev, EventJSON: evJSON, Attempt: 1,
	}
	return b.showRequest(w, msg, now)
}

// showRequest is the request w would make for msg at now, with its
// secrets shown as ${VAR} or <secret>.
func (b *Built) showRequest(w *webhook.Sink, msg *sinks.Message, now time.Time) *DryRunWebhook {
	r, err := w.Request(msg, now)
	if err != nil {
		return &DryRunWebhook{Error: b.File.ShowVariables(err.Error())}
	}
	out := &DryRunWebhook{Method: r.Method, URL: b.showURL(r.URL), Headers: map[string]string{}, Body: r.Body}
	for name, vs := range r.Header {
		v := b.File.ShowVariables(strings.Join(vs, ", "))
		if sinks.CredentialName(name) && !strings.Contains(v, "${") {
			v = sinks.Redacted
		}
		out.Headers[name] = v
	}
	return out
}

// showURL is a request's URL with its secrets shown as ${VAR}, and a
// password or a credential query value written in the file as <secret>.
func (b *Built) showURL(raw string) string {
	s := raw
	if u, err := url.Parse(raw); err == nil {
		if p, ok := u.User.Password(); ok && p != "" && !b.File.FromVariable(p) {
			s = strings.Replace(s, ":"+p+"@", ":"+sinks.Redacted+"@", 1)
		}
		for _, kv := range strings.Split(u.RawQuery, "&") {
			k, v, _ := strings.Cut(kv, "=")
			name, _ := url.QueryUnescape(k)
			value, _ := url.QueryUnescape(v)
			if v != "" && sinks.CredentialName(name) && !b.File.FromVariable(value) {
				s = strings.Replace(s, kv, k+"="+sinks.Redacted, 1)
			}
		}
	}
	return b.File.ShowVariables(s)
}
