package telesign

import (
	"fmt"
	"strings"

	"github.com/switchboard/switchboard/internal/event"
)

// Event types this receiver produces; others are "telesign.<sub_resource>"
// for a sub_resource it does not know.
const (
	TypeSMS         = "sms"
	TypeSMSVerify   = "sms.verify"
	TypeVoiceVerify = "voice.verify"
	TypeSMSInbound  = "sms.inbound"
	TypeVoiceEvent  = "voice.event"
	TypeUnknown     = "telesign.unknown" // neither a sub_resource nor a Voice API event
)

// Kinds are the kinds of the events this receiver produces: how messages
// name them and which fields they highlight. The last one stands for every
// telesign.<sub_resource> type.
var Kinds = []*event.Kind{
	{
		Source: "telesign", Type: TypeSMS,
		Noun:       func(e *event.Event) string { return "SMS " + e.Subject },
		Facts:      errorFacts,
		Highlights: messageHighlights,
	},
	{
		Source: "telesign", Type: TypeSMSVerify,
		Noun:       func(e *event.Event) string { return "SMS verify code " + e.Subject },
		Facts:      errorFacts,
		Highlights: messageHighlights,
	},
	{
		Source: "telesign", Type: TypeVoiceVerify, Success: "answered",
		Noun:       func(e *event.Event) string { return "Voice verify call " + e.Subject },
		Facts:      errorFacts,
		Highlights: messageHighlights,
	},
	{
		Source: "telesign", Type: TypeSMSInbound, Success: "received",
		Noun: func(e *event.Event) string {
			if p, ok := userResponse(e)["phone_number"].(string); ok && p != "" {
				return "Inbound SMS from " + event.FormatPhone(p)
			}
			return "Inbound SMS " + e.Subject
		},
		Facts: func(e *event.Event) []string {
			var facts []string
			if m, ok := userResponse(e)["mo_message"].(string); ok && m != "" {
				facts = append(facts, fmt.Sprintf("message %q", m))
			}
			return append(facts, errorFacts(e)...)
		},
		Highlights: func(e *event.Event) []event.Field {
			var fs []event.Field
			if ur, ok := e.Data["user_response"].(map[string]any); ok {
				fs = event.AddField(fs, "From", phone(ur["phone_number"]))
				fs = event.AddField(fs, "Sender ID", event.FormatValue(ur["sender_id"]))
				fs = event.AddField(fs, "Message", event.FormatValue(ur["mo_message"]))
			}
			return errorHighlight(fs, e)
		},
	},
	{
		Source: "telesign", Type: TypeVoiceEvent, Success: "succeeded",
		Noun: func(e *event.Event) string {
			if v, ok := e.Data["event"]; ok {
				if ev := fmt.Sprint(v); ev != "" {
					return "Voice " + strings.ReplaceAll(ev, "_", " ") + " " + e.Subject
				}
			}
			return "Voice event " + e.Subject
		},
		Facts: errorFacts,
		Highlights: func(e *event.Event) []event.Field {
			fs := event.AddField(nil, "Event", event.FormatValue(e.Data["event"]))
			return errorHighlight(fs, e)
		},
	},
	{Source: "telesign", Type: TypeUnknown, Facts: errorFacts, Highlights: errorsOnly},
	{Source: "telesign", Facts: errorFacts, Highlights: errorsOnly},
}

// kinds finds the kind of each event this receiver parses.
var kinds = event.NewKinds(Kinds)

// messageHighlights are the fields of an SMS or verify status.
func messageHighlights(e *event.Event) []event.Field {
	fs := event.AddField(nil, "Phone", phone(e.Data["phone_number"]))
	if v, ok := e.Data["verify"].(map[string]any); ok {
		fs = event.AddField(fs, "Code state", event.FormatValue(v["code_state"]))
		fs = event.AddField(fs, "Code entered", event.FormatValue(v["code_entered"]))
	}
	return errorHighlight(fs, e)
}

func errorsOnly(e *event.Event) []event.Field { return errorHighlight(nil, e) }

// errorFacts lists the errors array of a callback for the default text.
func errorFacts(e *event.Event) []string {
	var facts []string
	if errs, ok := e.Data["errors"].([]any); ok {
		for _, x := range errs {
			if m, ok := x.(map[string]any); ok {
				facts = append(facts, fmt.Sprintf("error %v %v", m["code"], m["description"]))
			}
		}
	}
	return facts
}

// errorHighlight adds the errors array of a callback as one field, a line
// per error.
func errorHighlight(fs []event.Field, e *event.Event) []event.Field {
	errs, ok := e.Data["errors"].([]any)
	if !ok {
		return fs
	}
	var lines []string
	for _, x := range errs {
		if m, ok := x.(map[string]any); ok {
			lines = append(lines, strings.TrimSpace(event.FormatValue(m["code"])+" "+event.FormatValue(m["description"])))
		} else {
			lines = append(lines, event.FormatValue(x))
		}
	}
	return event.AddField(fs, "Errors", strings.Join(lines, "\n"))
}

func userResponse(e *event.Event) map[string]any {
	ur, _ := e.Data["user_response"].(map[string]any)
	return ur
}

func phone(v any) string { return event.FormatPhone(event.FormatValue(v)) }
