// Package sinkstest helps test sinks: it builds the messages the core would
// hand them.
//
// The events sinks render come from the receivers, which declare how each
// type is worded and which of its fields matter (event.Kind). Rendering
// recorded InterFAX and Telesign events as the service does needs those
// declarations, so this test helper, unlike any sink, imports the
// receivers.
package sinkstest

import (
	"os"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/receivers/interfax"
	"github.com/switchboard/switchboard/receivers/telesign"
	"github.com/switchboard/switchboard/sinks"
)

// Kinds are the receivers' event kinds, as the service attaches them to
// the events it hands sinks. Tests that build an event by hand attach its
// kind with Kinds.Attach.
var Kinds = event.NewKinds(interfax.Kinds, telesign.Kinds)

// DefaultMessage builds the message for the event JSON in the file at
// path, as the core does for a rule without templates.
func DefaultMessage(t testing.TB, path string) *sinks.Message {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := event.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	Kinds.Attach(ev)
	return &sinks.Message{
		DeliveryID: "dlv_" + strings.TrimPrefix(ev.ID, "evt_"),
		Rule:       "alerts",
		Title:      ev.Title(),
		Text:       ev.Text(),
		Event:      ev,
		EventJSON:  b,
		Attempt:    1,
	}
}
