package app

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/sinks"
	"github.com/switchboard/switchboard/sinks/email"
	"github.com/switchboard/switchboard/sinks/slack"
)

// Preview is a stored delivery's message as its sink in the running
// configuration renders it: the same code that sends it, without sending.
type Preview struct {
	// SinkType is the sink's type; "" when no sink of that name is
	// configured (the delivery is held as no_sink or finished).
	SinkType string
	// Slack: the plain-text fallback and the Block Kit blocks (JSON).
	SlackText   string
	SlackBlocks json.RawMessage
	// Email: the plain-text and HTML bodies.
	EmailText, EmailHTML string
	// Webhook is the request, with secrets and the signature redacted.
	Webhook *DryRunWebhook
	// Error says why the message cannot be rendered.
	Error string
}

// signatureHeader is the Standard Webhooks signature, which a preview
// shows redacted: it is a MAC of the body under the sink's secret.
const signatureHeader = "Webhook-Signature"

// Preview renders d's message for its sink as its last attempt did (or its
// first will), with the running configuration's sink, at now.
func (b *Built) Preview(d *store.Delivery, now time.Time) Preview {
	var p Preview
	for _, s := range b.File.Sinks {
		if s.Name == d.Sink {
			p.SinkType = s.Type
		}
	}
	if p.SinkType == "" {
		p.Error = fmt.Sprintf("no sink named %q in the running configuration", d.Sink)
		return p
	}
	ev := &event.Event{}
	if err := json.Unmarshal(d.EventJSON, ev); err != nil {
		p.Error = "the stored event does not decode: " + err.Error()
		return p
	}
	kinds.Attach(ev)
	msg := &sinks.Message{DeliveryID: d.ID, Rule: d.Rule, Title: d.Title, Text: d.Text, Templated: d.Templated,
		Event: ev, EventJSON: d.EventJSON, Attempt: max(d.Attempts, 1)}
	var err error
	switch p.SinkType {
	case "slack":
		p.SlackText, p.SlackBlocks, err = slack.Preview(msg)
	case "email":
		p.EmailText, p.EmailHTML, err = email.Preview(msg)
	case "webhook":
		if w := b.webhooks[d.Sink]; w != nil {
			p.Webhook = b.showRequest(w, msg, now)
			if _, ok := p.Webhook.Headers[signatureHeader]; ok {
				p.Webhook.Headers[signatureHeader] = sinks.Redacted
			}
		}
	}
	if err != nil {
		p.Error = err.Error()
	}
	return p
}
