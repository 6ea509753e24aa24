package event

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kind is what Switchboard knows of one type of event beyond its fields: how
// a message names it and which vendor fields matter. The receiver that
// produces the type declares it (interfax.Kinds, telesign.Kinds) and
// attaches it to each event it parses (Event.Kind); events read back from
// the store get theirs from a table of every receiver's kinds (NewKinds),
// since the JSON form does not carry it. The default message (Title, Text),
// the sinks' field layout and the metrics' type label read it, so a new
// vendor type touches its receiver only.
type Kind struct {
	// Source and Type are the event's. A Kind with Type "" stands for
	// every other type of its source: types a receiver derives from the
	// payload ("telesign.<sub_resource>").
	Source, Type string
	// Noun names the event in a title: "Fax to +1 212 555 1234" in
	// "Fax to +1 212 555 1234 failed: busy". Nil: "<source> <type>
	// <subject>".
	Noun func(*Event) string
	// Success is the verb of a successful event: "received" for inbound
	// messages. Empty: "delivered".
	Success string
	// Facts are the vendor details the default text lists after the
	// description ("0 of 2 pages sent", "4 tries"). Nil: none.
	Facts func(*Event) []string
	// Highlights are the most useful vendor fields, labelled, in the order
	// rich messages (Slack, email) show them; empty values are left out.
	// Nil: none.
	Highlights func(*Event) []Field
}

// Field is one labelled value of a message, as plain text.
type Field struct {
	Label, Value string
}

// AddField appends the field to fs unless its value is empty.
func AddField(fs []Field, label, value string) []Field {
	if value == "" {
		return fs
	}
	return append(fs, Field{label, value})
}

// MetricType is the event type as a metrics label: a declared type, or
// "<source>.other" for a type the receiver derived from the payload.
func (k *Kind) MetricType() string {
	if k.Type == "" {
		return k.Source + ".other"
	}
	return k.Type
}

// Kinds is a table of the kinds of every receiver, by source and type.
type Kinds struct {
	byType map[[2]string]*Kind // source, type ("" for the source's other types)
}

// NewKinds builds the table of the kinds each receiver declares. A source
// and type declared twice is a programming error: it panics.
func NewKinds(lists ...[]*Kind) Kinds {
	t := Kinds{byType: map[[2]string]*Kind{}}
	for _, l := range lists {
		for _, k := range l {
			key := [2]string{k.Source, k.Type}
			if _, dup := t.byType[key]; dup {
				panic(fmt.Sprintf("event: kind %s %q declared twice", k.Source, k.Type))
			}
			t.byType[key] = k
		}
	}
	return t
}

// Of returns the kind of an event of source and type: the declared one,
// else the source's kind for other types, else nil.
func (t Kinds) Of(source, typ string) *Kind {
	if k, ok := t.byType[[2]string{source, typ}]; ok {
		return k
	}
	return t.byType[[2]string{source, ""}]
}

// Attach sets e.Kind from the table unless it is set.
func (t Kinds) Attach(e *Event) {
	if e.Kind == nil {
		e.Kind = t.Of(e.Source, e.Type)
	}
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
