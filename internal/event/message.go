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
// vendor details its Kind lists, the transaction and the time.
func (e *Event) Text() string {
	var parts []string
	if e.Description != "" {
		parts = append(parts, fmt.Sprintf("%s (code %d)", e.Description, e.Code))
	} else {
		parts = append(parts, fmt.Sprintf("code %d", e.Code))
	}
	if k := e.Kind; k != nil && k.Facts != nil {
		parts = append(parts, k.Facts(e)...)
	}
	ref := fmt.Sprintf("%s %s %s", e.Source, e.Type, e.Subject)
	if e.Stale {
		ref += " (stale: arrived after a final status)"
	}
	parts = append(parts, ref, "at "+e.Time.UTC().Format(time.RFC3339))
	return strings.Join(parts, " · ")
}

// noun names the event in a title, as its Kind says.
func (e *Event) noun() string {
	if k := e.Kind; k != nil && k.Noun != nil {
		return k.Noun(e)
	}
	return fmt.Sprintf("%s %s %s", e.Source, e.Type, e.Subject)
}

func (e *Event) verb() string {
	switch e.Status {
	case StatusSuccess:
		if k := e.Kind; k != nil && k.Success != "" {
			return k.Success
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
