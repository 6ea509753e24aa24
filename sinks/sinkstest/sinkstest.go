// Package sinkstest helps test sinks: it builds the messages the core would
// hand them.
package sinkstest

import (
	"os"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/sinks"
)

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
