package interfax

import (
	"fmt"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// Event types this receiver produces.
const (
	TypeOutbound = "fax.outbound"
	TypeInbound  = "fax.inbound"
)

// Kinds are the kinds of the events this receiver produces: how messages
// name them and which fields they highlight.
var Kinds = []*event.Kind{outboundKind, inboundKind}

var outboundKind = &event.Kind{
	Source: "interfax",
	Type:   TypeOutbound,
	Noun: func(e *event.Event) string {
		if d := dataString(e, "DestinationFax"); d != "" {
			return "Fax to " + event.FormatPhone(d)
		}
		return "Fax " + e.Subject
	},
	Facts: func(e *event.Event) []string {
		var facts []string
		if v, ok := e.Data["PagesSent"]; ok {
			submitted, ok := e.Data["PagesSubmitted"]
			if !ok {
				submitted = "?"
			}
			facts = append(facts, fmt.Sprintf("%v of %v pages sent", v, submitted))
		}
		if v, ok := e.Data["TrialsPerformed"]; ok {
			facts = append(facts, fmt.Sprintf("%v tries", v))
		}
		return facts
	},
	Highlights: func(e *event.Event) []event.Field {
		var fs []event.Field
		d := e.Data
		fs = event.AddField(fs, "Destination", phone(d["DestinationFax"]))
		if sent, ok := d["PagesSent"]; ok {
			pages := event.FormatValue(d["PagesSubmitted"])
			if pages == "" {
				pages = "?"
			}
			fs = event.AddField(fs, "Pages", fmt.Sprintf("%s of %s sent", event.FormatValue(sent), pages))
		}
		fs = event.AddField(fs, "Tries", event.FormatValue(d["TrialsPerformed"]))
		if v, ok := d["Duration"]; ok {
			fs = event.AddField(fs, "Duration", seconds(v))
		}
		return event.AddField(fs, "Remote CSID", event.FormatValue(d["RemoteCSID"]))
	},
}

var inboundKind = &event.Kind{
	Source:  "interfax",
	Type:    TypeInbound,
	Success: "received",
	Noun: func(e *event.Event) string {
		if from := dataString(e, "CallerID", "RemoteCSID"); from != "" {
			return "Inbound fax from " + event.FormatPhone(from)
		}
		return "Inbound fax " + e.Subject
	},
	Facts: func(e *event.Event) []string {
		if v, ok := e.Data["Pages"]; ok {
			return []string{fmt.Sprintf("%v pages", v)}
		}
		return nil
	},
	Highlights: func(e *event.Event) []event.Field {
		var fs []event.Field
		d := e.Data
		fs = event.AddField(fs, "From", phone(d["CallerID"]))
		fs = event.AddField(fs, "Remote CSID", event.FormatValue(d["RemoteCSID"]))
		fs = event.AddField(fs, "To", phone(d["PhoneNumber"]))
		return event.AddField(fs, "Pages", event.FormatValue(d["Pages"]))
	},
}

// dataString is the first of the data fields that is set and not empty.
func dataString(e *event.Event, keys ...string) string {
	for _, k := range keys {
		if v, ok := e.Data[k]; ok {
			if s := fmt.Sprint(v); s != "" {
				return s
			}
		}
	}
	return ""
}

func phone(v any) string { return event.FormatPhone(event.FormatValue(v)) }

// seconds renders a Duration field (seconds) as a Go duration: "42s".
func seconds(v any) string {
	switch x := v.(type) {
	case int:
		return (time.Duration(x) * time.Second).String()
	case int64:
		return (time.Duration(x) * time.Second).String()
	case float64:
		return time.Duration(x * float64(time.Second)).String()
	}
	return event.FormatValue(v)
}
