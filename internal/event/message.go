package event

import (
	"fmt"
	"strings"
	"time"
)

// Title returns a one-line summary of what happened, in words: the default
// message title when a rule has no title template ("Fax to +1 212 555 1234
// failed: busy").
func (e *Event) Title() string {
	noun := e.noun()
	verb := e.verb()
	switch e.Status {
	case StatusFailure:
		if e.Description != "" {
			return fmt.Sprintf("%s %s: %s", noun, verb, e.Description)
		}
	case StatusUnknown:
		if e.Description != "" {
			return fmt.Sprintf("%s: %s", noun, e.Description)
		}
	}
	return noun + " " + verb
}

// Text returns the default message body: the description with its code, the
// transaction, the most useful vendor fields for the type and the time.
func (e *Event) Text() string {
	var parts []string
	if e.Description != "" {
		parts = append(parts, fmt.Sprintf("%s (code %d)", e.Description, e.Code))
	} else {
		parts = append(parts, fmt.Sprintf("code %d", e.Code))
	}
	switch e.Type {
	case "fax.outbound":
		if v, ok := e.Data["PagesSent"]; ok {
			parts = append(parts, fmt.Sprintf("%v of %v pages sent", v, e.dataOr("PagesSubmitted", "?")))
		}
		if v, ok := e.Data["TrialsPerformed"]; ok {
			parts = append(parts, fmt.Sprintf("%v tries", v))
		}
	case "fax.inbound":
		if v, ok := e.Data["Pages"]; ok {
			parts = append(parts, fmt.Sprintf("%v pages", v))
		}
	case "sms.inbound":
		if ur, ok := e.Data["user_response"].(map[string]any); ok {
			if m, ok := ur["mo_message"].(string); ok && m != "" {
				parts = append(parts, fmt.Sprintf("message %q", m))
			}
		}
	}
	if errs, ok := e.Data["errors"].([]any); ok {
		for _, x := range errs {
			if m, ok := x.(map[string]any); ok {
				parts = append(parts, fmt.Sprintf("error %v %v", m["code"], m["description"]))
			}
		}
	}
	ref := fmt.Sprintf("%s %s %s", e.Source, e.Type, e.Subject)
	if e.Stale {
		ref += " (stale: arrived after a final status)"
	}
	parts = append(parts, ref, "at "+e.Time.UTC().Format(time.RFC3339))
	return strings.Join(parts, " · ")
}

func (e *Event) dataOr(key string, def any) any {
	if v, ok := e.Data[key]; ok {
		return v
	}
	return def
}

func (e *Event) dataString(keys ...string) string {
	for _, k := range keys {
		if v, ok := e.Data[k]; ok {
			if s := fmt.Sprint(v); s != "" {
				return s
			}
		}
	}
	return ""
}

func (e *Event) noun() string {
	switch e.Type {
	case "fax.outbound":
		if d := e.dataString("DestinationFax"); d != "" {
			return "Fax to " + FormatPhone(d)
		}
		return "Fax " + e.Subject
	case "fax.inbound":
		from := e.dataString("CallerID", "RemoteCSID")
		if from != "" {
			return "Inbound fax from " + FormatPhone(from)
		}
		return "Inbound fax " + e.Subject
	case "sms":
		return "SMS " + e.Subject
	case "sms.verify":
		return "SMS verify code " + e.Subject
	case "voice.verify":
		return "Voice verify call " + e.Subject
	case "sms.inbound":
		if ur, ok := e.Data["user_response"].(map[string]any); ok {
			if p, ok := ur["phone_number"].(string); ok && p != "" {
				return "Inbound SMS from " + FormatPhone(p)
			}
		}
		return "Inbound SMS " + e.Subject
	case "voice.event":
		if ev := e.dataString("event"); ev != "" {
			return "Voice " + strings.ReplaceAll(ev, "_", " ") + " " + e.Subject
		}
		return "Voice event " + e.Subject
	}
	return fmt.Sprintf("%s %s %s", e.Source, e.Type, e.Subject)
}

func (e *Event) verb() string {
	inbound := e.Type == "fax.inbound" || e.Type == "sms.inbound"
	switch e.Status {
	case StatusSuccess:
		if inbound {
			return "received"
		}
		if e.Type == "voice.verify" {
			return "answered"
		}
		if e.Type == "voice.event" {
			return "succeeded"
		}
		return "delivered"
	case StatusFailure:
		if strings.Contains(strings.ToLower(e.Description), "blocked") {
			return "blocked"
		}
		return "failed"
	case StatusPending:
		return "in progress"
	}
	return "status unknown"
}

// FormatPhone renders a dialled number for people: an international "00"
// prefix becomes "+", and North American numbers are grouped
// ("0012125551234" → "+1 212 555 1234"). Anything else is returned as is.
func FormatPhone(s string) string {
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "+"), "00")
	for _, r := range digits {
		if r < '0' || r > '9' {
			return s
		}
	}
	if len(digits) < 7 || digits[0] == '0' {
		return s // a short code or a local number: leave it alone
	}
	if len(digits) == 11 && digits[0] == '1' {
		return "+1 " + digits[1:4] + " " + digits[4:7] + " " + digits[7:]
	}
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "00") {
		return "+" + digits
	}
	return s
}
