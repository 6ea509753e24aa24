// Package expect alerts on what never arrived: it fires the timers of
// expectations that ran out (expectation.missed) and watches receivers
// configured with expect_traffic for silence (receiver.silent,
// receiver.resumed). It makes those events and hands them to the store's
// intake, so ordinary rules route them; the timers themselves are started
// and stopped by intake, in the transaction of the event that starts or
// stops them (store.Store.Ingest).
package expect

import (
	"fmt"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
)

// Types of the events Switchboard makes itself (source rules.Source).
const (
	TypeMissed  = "expectation.missed"
	TypeSilent  = "receiver.silent"
	TypeResumed = "receiver.resumed"
)

// Kinds are the kinds of Switchboard's own events: how their default
// messages name them and which fields they highlight.
var Kinds = []*event.Kind{
	{
		Source: rules.Source, Type: TypeMissed,
		Noun: func(e *event.Event) string {
			return fmt.Sprintf("Expectation %s for %s %s", str(e.Data["expectation"]), str(e.Data["source"]), e.Subject)
		},
		Facts: func(e *event.Event) []string {
			facts := []string{"started " + event.FormatValue(e.Data["started_at"])}
			if l, ok := e.Data["last_event"].(map[string]any); ok {
				facts = append(facts, fmt.Sprintf("last event %s %s at %s", str(l["type"]), str(l["status"]), event.FormatValue(l["received_at"])))
			}
			return facts
		},
		Highlights: func(e *event.Event) []event.Field {
			fs := event.AddField(nil, "Expectation", str(e.Data["expectation"]))
			fs = event.AddField(fs, "Transaction", e.Subject)
			fs = event.AddField(fs, "Expected", str(e.Data["then"]))
			fs = event.AddField(fs, "Started", event.FormatValue(e.Data["started_at"]))
			if l, ok := e.Data["last_event"].(map[string]any); ok {
				fs = event.AddField(fs, "Last event", str(l["type"])+" "+str(l["status"]))
			}
			return fs
		},
	},
	{
		Source: rules.Source, Type: TypeSilent,
		Noun: func(e *event.Event) string { return "Receiver " + e.Subject },
		Highlights: func(e *event.Event) []event.Field {
			fs := event.AddField(nil, "Receiver", e.Subject)
			return event.AddField(fs, "Last callback", event.FormatValue(e.Data["last_callback_at"]))
		},
	},
	{
		Source: rules.Source, Type: TypeResumed, Success: "resumed",
		Noun: func(e *event.Event) string { return "Callbacks to receiver " + e.Subject },
		Highlights: func(e *event.Event) []event.Field {
			return event.AddField(nil, "Receiver", e.Subject)
		},
	},
}

var kinds = event.NewKinds(Kinds)

func str(v any) string {
	s, _ := v.(string)
	return s
}

// Missed is the event of a timer of expectation x that fired: source
// switchboard, subject the transaction, data the expectation, when it
// started and the last event seen for the subject.
func Missed(t store.Timer, x *rules.Expectation, now time.Time) *event.Event {
	within := t.DueAt.Sub(t.StartedAt)
	data := map[string]any{
		"expectation": t.Expectation,
		"source":      t.Source,
		"started_at":  t.StartedAt,
		"due_at":      t.DueAt,
		"within":      within.String(),
		"started_by":  t.EventID,
		"after":       x.After,
		"then":        x.Then,
	}
	if l := t.Last; l != nil {
		data["last_event"] = map[string]any{"id": l.ID, "type": l.Type, "status": l.Status, "received_at": l.ReceivedAt}
	}
	ev := &event.Event{
		Source: rules.Source, Type: TypeMissed, Subject: t.Subject, Status: event.StatusUnknown,
		Description: fmt.Sprintf("no event matching `%s` within %s (since %s)", x.Then, within, t.StartedAt.UTC().Format(time.RFC3339)),
		Time:        t.DueAt, Data: data,
		DedupKey: fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%d", TypeMissed, t.Source, t.Subject, t.Expectation, t.StartedAt.UnixMilli()),
	}
	ev.Seal(t.Receiver, now)
	kinds.Attach(ev)
	return ev
}

// Silent is the event of a receiver that accepted no callback for quiet
// since last.
func Silent(receiver string, last time.Time, quiet time.Duration, now time.Time) *event.Event {
	ev := &event.Event{
		Source: rules.Source, Type: TypeSilent, Subject: receiver, Status: event.StatusUnknown,
		Description: fmt.Sprintf("no accepted callback for %s (last at %s)", quiet, last.UTC().Format(time.RFC3339)),
		Time:        now, Data: map[string]any{"last_callback_at": last.UTC(), "expect_traffic": quiet.String()},
		DedupKey: fmt.Sprintf("%s\x00%d", TypeSilent, last.UnixMilli()),
	}
	ev.Seal(receiver, now)
	kinds.Attach(ev)
	return ev
}

// Resumed is the event of a silent receiver that accepted a callback again
// at at.
func Resumed(receiver string, at time.Time, now time.Time) *event.Event {
	ev := &event.Event{
		Source: rules.Source, Type: TypeResumed, Subject: receiver, Status: event.StatusSuccess,
		Description: "callbacks arrive again", Final: false,
		Time: at.UTC(), Data: map[string]any{"callback_at": at.UTC()},
		DedupKey: fmt.Sprintf("%s\x00%d", TypeResumed, at.UnixMilli()),
	}
	ev.Seal(receiver, now)
	kinds.Attach(ev)
	return ev
}
