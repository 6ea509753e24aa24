package telesign

import (
	"fmt"
	"testing"

	"github.com/switchboard/switchboard/internal/event"
)

// The default message of each Telesign event type, and the fields rich
// messages highlight.
func TestKinds(t *testing.T) {
	errs := []any{map[string]any{"code": 10033, "description": "Invalid number"}}
	tests := []struct {
		ev           event.Event
		title, facts string
		fields       string
	}{
		{event.Event{Type: TypeSMS, Subject: "ABC", Status: "success", Description: "Delivered to handset", Data: map[string]any{"phone_number": "15555551212"}},
			"SMS ABC delivered", "[]", "[{Phone +1 555 555 1212}]"},
		{event.Event{Type: TypeSMSVerify, Subject: "ABC", Status: "failure", Description: "Blocked by Telesign",
			Data: map[string]any{"verify": map[string]any{"code_state": "UNKNOWN"}, "errors": errs}},
			"SMS verify code ABC blocked: Blocked by Telesign", "[error 10033 Invalid number]", "[{Code state UNKNOWN} {Errors 10033 Invalid number}]"},
		{event.Event{Type: TypeVoiceVerify, Subject: "ABC", Status: "failure", Description: "Line busy"},
			"Voice verify call ABC failed: Line busy", "[]", "[]"},
		{event.Event{Type: TypeVoiceVerify, Subject: "ABC", Status: "success"},
			"Voice verify call ABC answered", "[]", "[]"},
		{event.Event{Type: TypeSMSInbound, Subject: "ABC", Status: "success",
			Data: map[string]any{"user_response": map[string]any{"phone_number": "15555551212", "mo_message": "STOP", "sender_id": "S"}}},
			"Inbound SMS from +1 555 555 1212 received", `[message "STOP"]`, "[{From +1 555 555 1212} {Sender ID S} {Message STOP}]"},
		{event.Event{Type: TypeVoiceEvent, Subject: "C5", Status: "success", Data: map[string]any{"event": "call_completed"}},
			"Voice call completed C5 succeeded", "[]", "[{Event call_completed}]"},
		{event.Event{Type: TypeSMS, Subject: "X", Status: "pending"},
			"SMS X in progress", "[]", "[]"},
		{event.Event{Type: "telesign.foo", Subject: "X", Status: "unknown", Data: map[string]any{"errors": errs}},
			"telesign telesign.foo X status unknown", "[error 10033 Invalid number]", "[{Errors 10033 Invalid number}]"},
	}
	for _, tc := range tests {
		tc.ev.Source = "telesign"
		tc.ev.Kind = kinds.Of(tc.ev.Source, tc.ev.Type)
		if got := tc.ev.Title(); got != tc.title {
			t.Errorf("%s/%s: title %q, want %q", tc.ev.Type, tc.ev.Status, got, tc.title)
		}
		if got := fmt.Sprint(tc.ev.Kind.Facts(&tc.ev)); got != tc.facts {
			t.Errorf("%s/%s: facts %s, want %s", tc.ev.Type, tc.ev.Status, got, tc.facts)
		}
		if got := fmt.Sprint(tc.ev.Kind.Highlights(&tc.ev)); got != tc.fields {
			t.Errorf("%s/%s: highlights %s, want %s", tc.ev.Type, tc.ev.Status, got, tc.fields)
		}
	}
}

// Every type the receiver names has a kind of its own, attached at parse
// time; a sub_resource it does not know gets the catch-all.
func TestEveryTypeHasAKind(t *testing.T) {
	for _, tc := range []struct {
		sub, event string
		verify     any
		want       string
	}{
		{"sms", "", nil, TypeSMS},
		{"sms", "", map[string]any{}, TypeSMSVerify},
		{"call", "", nil, TypeVoiceVerify},
		{"mo_sms", "", nil, TypeSMSInbound},
		{"", "call_completed", nil, TypeVoiceEvent},
		{"", "", nil, TypeUnknown},
	} {
		typ := eventType(tc.sub, tc.event, tc.verify)
		if typ != tc.want {
			t.Fatalf("eventType(%q, %q) = %q, want %q", tc.sub, tc.event, typ, tc.want)
		}
		if k := kinds.Of("telesign", typ); k == nil || k.Type != typ {
			t.Errorf("%s: kind %+v, want one declared for it", typ, k)
		}
	}
	ev := normalize(map[string]any{"sub_resource": "whatsapp", "reference_id": "R"}, goldenNow)
	if ev.Type != "telesign.whatsapp" || ev.Kind == nil || ev.Kind.Type != "" || ev.Kind.MetricType() != "telesign.other" {
		t.Errorf("derived type %q: kind %+v", ev.Type, ev.Kind)
	}
}
