package app

import (
	"context"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/expect"
	"github.com/switchboard/switchboard/receivers/interfax"
	"github.com/switchboard/switchboard/receivers/telesign"
	"github.com/switchboard/switchboard/sinks"
)

// kinds are the event kinds every receiver type declares. Receivers attach
// them to the events they parse; an event read back from the store (its
// JSON does not carry the kind) gets it here before a sink renders it.
var kinds = event.NewKinds(interfax.Kinds, telesign.Kinds, expect.Kinds)

// kindedSink gives each message's event its kind before the sink sees it.
type kindedSink struct {
	sinks.Sink
}

func (s kindedSink) Send(ctx context.Context, m *sinks.Message) error {
	if m.Event != nil && m.Event.Kind == nil {
		// A copy: the event may be shared by the sends to other sinks.
		ev := *m.Event
		kinds.Attach(&ev)
		m.Event = &ev
	}
	return s.Sink.Send(ctx, m)
}

// Rate passes on the sink's rate limit (messages per second, 0 for none),
// which the delivery workers read from the sink they are given.
func (s kindedSink) Rate() float64 {
	if r, ok := s.Sink.(interface{ Rate() float64 }); ok {
		return r.Rate()
	}
	return 0
}

var _ sinks.Sink = kindedSink{}
