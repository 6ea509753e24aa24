package sinks

import (
	"fmt"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// Field is one labelled value of a default message, as plain text.
type Field = event.Field

// TimeLayout is how default messages print times.
const TimeLayout = "2006-01-02 15:04:05 UTC"

// CoreFields are the event fields every default message shows, in order.
// The last one is always "Time"; rich sinks may render it their own way
// from the event.
func CoreFields(ev *event.Event) []Field {
	status := ev.Status
	if ev.Final {
		status += " (final)"
	}
	if ev.Stale {
		status += ", stale: arrived after a final status"
	}
	return []Field{
		{Label: "Source", Value: ev.Source},
		{Label: "Type", Value: ev.Type},
		{Label: "Subject", Value: ev.Subject},
		{Label: "Status", Value: status},
		{Label: "Code", Value: fmt.Sprint(ev.Code)},
		{Label: "Description", Value: ev.Description},
		{Label: "Time", Value: FormatTime(ev.Time)},
	}
}

// VendorFields are the most useful vendor fields for the event's type, as
// the receiver that produced it declared them (event.Kind.Highlights).
// Missing fields are left out.
func VendorFields(ev *event.Event) []Field {
	if k := ev.Kind; k != nil && k.Highlights != nil {
		return k.Highlights(ev)
	}
	return nil
}

// FormatTime renders t in UTC with TimeLayout ("" for the zero time).
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}
