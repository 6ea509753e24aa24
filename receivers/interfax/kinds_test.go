package interfax

import (
	"fmt"
	"testing"

	"github.com/switchboard/switchboard/internal/event"
)

// The default message of each fax event type, and the fields rich messages
// highlight.
func TestKinds(t *testing.T) {
	tests := []struct {
		ev     event.Event
		title  string
		fields string
	}{
		{event.Event{Kind: outboundKind, Type: TypeOutbound, Subject: "1", Status: "success", Data: map[string]any{"DestinationFax": "0012125551234"}},
			"Fax to +1 212 555 1234 delivered", "[{Destination +1 212 555 1234}]"},
		{event.Event{Kind: outboundKind, Type: TypeOutbound, Subject: "1", Status: "failure", Description: "busy",
			Data: map[string]any{"PagesSent": 0, "TrialsPerformed": 4, "Duration": 42, "RemoteCSID": "X"}},
			"Fax 1 failed: busy", "[{Pages 0 of ? sent} {Tries 4} {Duration 42s} {Remote CSID X}]"},
		{event.Event{Kind: inboundKind, Type: TypeInbound, Subject: "2", Status: "success", Data: map[string]any{"CallerID": "00001201", "Pages": 3}},
			"Inbound fax from 00001201 received", "[{From 00001201} {Pages 3}]"},
		{event.Event{Kind: inboundKind, Type: TypeInbound, Subject: "2", Status: "pending", Data: map[string]any{"PhoneNumber": "0012125551234"}},
			"Inbound fax 2 in progress", "[{To +1 212 555 1234}]"},
	}
	for _, tc := range tests {
		if got := tc.ev.Title(); got != tc.title {
			t.Errorf("%s/%s: title %q, want %q", tc.ev.Type, tc.ev.Status, got, tc.title)
		}
		if got := fmt.Sprint(tc.ev.Kind.Highlights(&tc.ev)); got != tc.fields {
			t.Errorf("%s/%s: highlights %s, want %s", tc.ev.Type, tc.ev.Status, got, tc.fields)
		}
	}

	// Parse attaches the kind of the type it decides.
	for name, want := range map[string]*event.Kind{"if-2-post-busy": outboundKind, "if-6-inbound-post": inboundKind} {
		if ev := parseFile(t, name); ev.Kind != want {
			t.Errorf("%s: kind %+v, want %s", name, ev.Kind, want.Type)
		}
	}
}
