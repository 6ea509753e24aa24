// Package event defines the normalized event every vendor callback becomes.
//
// The same field names are used in rule expressions, in message templates and
// in the JSON that webhook sinks send, so the Go struct carries matching json
// and expr tags.
package event

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"
)

// Status values of an event.
const (
	StatusSuccess = "success"
	StatusFailure = "failure"
	StatusPending = "pending"
	StatusUnknown = "unknown"
)

// Event is one normalized vendor status report.
type Event struct {
	ID             string         `json:"id" expr:"id"`
	Source         string         `json:"source" expr:"source"`
	Type           string         `json:"type" expr:"type"`
	Receiver       string         `json:"receiver" expr:"receiver"`
	Subject        string         `json:"subject" expr:"subject"`
	Status         string         `json:"status" expr:"status"`
	Final          bool           `json:"final" expr:"final"`
	PreviousStatus string         `json:"previous_status" expr:"previous_status"`
	Stale          bool           `json:"stale" expr:"stale"`
	Code           int            `json:"code" expr:"code"`
	Description    string         `json:"description" expr:"description"`
	Time           time.Time      `json:"time" expr:"time"`
	ReceivedAt     time.Time      `json:"received_at" expr:"received_at"`
	Data           map[string]any `json:"data" expr:"data"`

	// DedupKey identifies the vendor transaction status this event reports,
	// unique within its receiver: a repeated callback yields the same key.
	// Receivers set it; it is not part of the JSON form.
	DedupKey string `json:"-" expr:"-"`
	// Kind is what the receiver knows of the event's type (its default
	// message wording and highlighted fields). Receivers set it; an event
	// decoded from JSON gets it from Kinds.Attach. Nil: the generic wording.
	Kind *Kind `json:"-" expr:"-"`
}

// Seal sets the fields the core owns: the receiver name, the time of
// acceptance and the stable id derived from receiver and dedup key.
func (e *Event) Seal(receiver string, receivedAt time.Time) {
	e.Receiver = receiver
	e.ReceivedAt = receivedAt.UTC()
	e.Time = e.Time.UTC()
	if e.Time.IsZero() {
		e.Time = e.ReceivedAt
	}
	if e.Data == nil {
		e.Data = map[string]any{}
	}
	e.ID = ID(receiver, e.DedupKey)
}

// ID returns the stable event id for a dedup key within a receiver.
func ID(receiver, dedupKey string) string {
	sum := sha256.Sum256([]byte(receiver + "\x00" + dedupKey))
	return "evt_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]))
}

// Map returns the event as a map keyed by its JSON field names, the form
// message templates see ({{ .data.DestinationFax }}).
func (e *Event) Map() map[string]any {
	return map[string]any{
		"id":              e.ID,
		"source":          e.Source,
		"type":            e.Type,
		"receiver":        e.Receiver,
		"subject":         e.Subject,
		"status":          e.Status,
		"final":           e.Final,
		"previous_status": e.PreviousStatus,
		"stale":           e.Stale,
		"code":            e.Code,
		"description":     e.Description,
		"time":            e.Time,
		"received_at":     e.ReceivedAt,
		"data":            e.Data,
	}
}
