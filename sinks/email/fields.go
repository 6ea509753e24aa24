package email

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// field is one labelled value of the message body.
type field struct {
	Label, Value string
}

// fields lists the event fields every message shows, then the most useful
// vendor fields for its type. It mirrors the Slack sink's layout so both
// read the same.
func fields(ev *event.Event) []field {
	status := ev.Status
	if ev.Final {
		status += " (final)"
	}
	if ev.Stale {
		status += ", stale: arrived after a final status"
	}
	fs := []field{
		{"Source", ev.Source},
		{"Type", ev.Type},
		{"Subject", ev.Subject},
		{"Status", status},
		{"Code", fmt.Sprint(ev.Code)},
		{"Description", ev.Description},
		{"Time", formatTime(ev.Time)},
	}
	return append(fs, vendorFields(ev)...)
}

func vendorFields(ev *event.Event) []field {
	var fs []field
	add := func(label, value string) {
		if value != "" {
			fs = append(fs, field{label, value})
		}
	}
	d := ev.Data
	switch ev.Type {
	case "fax.outbound":
		add("Destination", phone(d["DestinationFax"]))
		if sent, ok := d["PagesSent"]; ok {
			add("Pages", fmt.Sprintf("%s of %s sent", str(sent), or(str(d["PagesSubmitted"]), "?")))
		}
		add("Tries", str(d["TrialsPerformed"]))
		if v, ok := d["Duration"]; ok {
			add("Duration", seconds(v))
		}
		add("Remote CSID", str(d["RemoteCSID"]))
	case "fax.inbound":
		add("From", phone(d["CallerID"]))
		add("Remote CSID", str(d["RemoteCSID"]))
		add("To", phone(d["PhoneNumber"]))
		add("Pages", str(d["Pages"]))
	case "sms", "sms.verify", "voice.verify":
		add("Phone", phone(d["phone_number"]))
		if v, ok := d["verify"].(map[string]any); ok {
			add("Code state", str(v["code_state"]))
			add("Code entered", str(v["code_entered"]))
		}
	case "sms.inbound":
		if ur, ok := d["user_response"].(map[string]any); ok {
			add("From", phone(ur["phone_number"]))
			add("Sender ID", str(ur["sender_id"]))
			add("Message", str(ur["mo_message"]))
		}
	case "voice.event":
		add("Event", str(d["event"]))
	}
	if errs, ok := d["errors"].([]any); ok {
		var lines []string
		for _, e := range errs {
			if m, ok := e.(map[string]any); ok {
				lines = append(lines, strings.TrimSpace(str(m["code"])+" "+str(m["description"])))
			} else {
				lines = append(lines, str(e))
			}
		}
		add("Errors", strings.Join(lines, "\n"))
	}
	return fs
}

// str renders a data value for people: "" for nil, RFC 3339 for times,
// sorted key=value pairs for maps.
func str(v any) string {
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
			parts[i] = k + "=" + str(x[k])
		}
		return strings.Join(parts, " ")
	}
	return fmt.Sprint(v)
}

func phone(v any) string { return event.FormatPhone(str(v)) }

func seconds(v any) string {
	switch x := v.(type) {
	case int:
		return (time.Duration(x) * time.Second).String()
	case int64:
		return (time.Duration(x) * time.Second).String()
	case float64:
		return time.Duration(x * float64(time.Second)).String()
	}
	return str(v)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
