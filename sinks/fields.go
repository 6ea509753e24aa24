package sinks

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// Field is one labelled value of a default message, as plain text.
type Field struct {
	Label, Value string
}

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
		{"Source", ev.Source},
		{"Type", ev.Type},
		{"Subject", ev.Subject},
		{"Status", status},
		{"Code", fmt.Sprint(ev.Code)},
		{"Description", ev.Description},
		{"Time", FormatTime(ev.Time)},
	}
}

// VendorFields are the most useful vendor fields for the event's type.
// Missing fields are left out.
func VendorFields(ev *event.Event) []Field {
	var fs []Field
	add := func(label, value string) {
		if value != "" {
			fs = append(fs, Field{label, value})
		}
	}
	d := ev.Data
	switch ev.Type {
	case "fax.outbound":
		add("Destination", phone(d["DestinationFax"]))
		if sent, ok := d["PagesSent"]; ok {
			pages := FormatValue(d["PagesSubmitted"])
			if pages == "" {
				pages = "?"
			}
			add("Pages", fmt.Sprintf("%s of %s sent", FormatValue(sent), pages))
		}
		add("Tries", FormatValue(d["TrialsPerformed"]))
		if v, ok := d["Duration"]; ok {
			add("Duration", seconds(v))
		}
		add("Remote CSID", FormatValue(d["RemoteCSID"]))
	case "fax.inbound":
		add("From", phone(d["CallerID"]))
		add("Remote CSID", FormatValue(d["RemoteCSID"]))
		add("To", phone(d["PhoneNumber"]))
		add("Pages", FormatValue(d["Pages"]))
	case "sms", "sms.verify", "voice.verify":
		add("Phone", phone(d["phone_number"]))
		if v, ok := d["verify"].(map[string]any); ok {
			add("Code state", FormatValue(v["code_state"]))
			add("Code entered", FormatValue(v["code_entered"]))
		}
	case "sms.inbound":
		if ur, ok := d["user_response"].(map[string]any); ok {
			add("From", phone(ur["phone_number"]))
			add("Sender ID", FormatValue(ur["sender_id"]))
			add("Message", FormatValue(ur["mo_message"]))
		}
	case "voice.event":
		add("Event", FormatValue(d["event"]))
	}
	if errs, ok := d["errors"].([]any); ok {
		var lines []string
		for _, e := range errs {
			if m, ok := e.(map[string]any); ok {
				lines = append(lines, strings.TrimSpace(FormatValue(m["code"])+" "+FormatValue(m["description"])))
			} else {
				lines = append(lines, FormatValue(e))
			}
		}
		add("Errors", strings.Join(lines, "\n"))
	}
	return fs
}

// FormatValue renders a data value for people: "" for nil, RFC 3339 for
// times, sorted key=value pairs for maps.
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + FormatValue(x[k])
		}
		return strings.Join(parts, " ")
	}
	return fmt.Sprint(v)
}

// FormatTime renders t in UTC with TimeLayout ("" for the zero time).
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

func phone(v any) string { return event.FormatPhone(FormatValue(v)) }

func seconds(v any) string {
	switch x := v.(type) {
	case int:
		return (time.Duration(x) * time.Second).String()
	case int64:
		return (time.Duration(x) * time.Second).String()
	case float64:
		return time.Duration(x * float64(time.Second)).String()
	}
	return FormatValue(v)
}
