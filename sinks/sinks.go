// Package sinks defines what a delivery target is: one method that sends a
// rendered message, and errors that tell the delivery workers whether and
// when to try again. Retry lives in the workers, never inside a sink. Each
// integration lives in its own sub-package (sinks/webhook, sinks/slack, …).
package sinks

import (
	"context"
	"encoding/json"

	"github.com/switchboard/switchboard/internal/event"
)

// Message is one delivery: an event matched by a rule, rendered for a sink.
type Message struct {
	// DeliveryID is stable across retries of the same delivery (the
	// webhook-id of webhook sinks, a dedupe key for receivers).
	DeliveryID string
	// Rule is the name of the rule that matched.
	Rule string
	// Title and Text are the rendered rule templates, or the default
	// message for the event when the rule has none. Never empty.
	Title string
	Text  string
	// Templated reports whether Title/Text come from rule templates rather
	// than the default message, so rich sinks can keep their own layout for
	// defaults.
	Templated bool
	// Event is the event as stored; EventJSON its exact JSON form.
	Event     *event.Event
	EventJSON json.RawMessage
	// Attempt is 1 for the first try of this delivery.
	Attempt int
	// Thread is the key of the thread the message belongs to, for a sink
	// that threads its messages (a Slack sink's thread:); "" for none.
	// A sink's messages of one thread are sent one at a time, in order.
	Thread string
}

// Sink sends messages to one configured destination.
//
// Send returns nil on success. Failures are retried by the caller unless
// marked Permanent; an *Error carries the response status and a server's
// Retry-After hint.
type Sink interface {
	Send(ctx context.Context, m *Message) error
}
