package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// The default message is worded from the event's Kind; without one it is
// generic.
func TestDefaultMessage(t *testing.T) {
	parcel := &Kind{
		Source: "post", Type: "parcel", Success: "handed over",
		Noun:  func(e *Event) string { return "Parcel " + e.Subject },
		Facts: func(e *Event) []string { return []string{"2 tries"} },
	}
	at := time.Date(2024, 6, 23, 17, 23, 13, 0, time.UTC)
	tests := []struct {
		ev          Event
		title, text string
	}{
		{Event{Kind: parcel, Source: "post", Type: "parcel", Subject: "P1", Status: StatusSuccess, Time: at},
			"Parcel P1 handed over", "code 0 · 2 tries · post parcel P1 · at 2024-06-23T17:23:13Z"},
		{Event{Kind: parcel, Source: "post", Type: "parcel", Subject: "P1", Status: StatusFailure, Code: 7, Description: "Blocked at customs", Time: at},
			"Parcel P1 blocked: Blocked at customs", "Blocked at customs (code 7) · 2 tries · post parcel P1 · at 2024-06-23T17:23:13Z"},
		{Event{Kind: parcel, Source: "post", Type: "parcel", Subject: "P1", Status: StatusPending, Stale: true, Time: at},
			"Parcel P1 in progress", "code 0 · 2 tries · post parcel P1 (stale: arrived after a final status) · at 2024-06-23T17:23:13Z"},
		{Event{Source: "telesign", Type: "telesign.foo", Subject: "X", Status: StatusUnknown, Time: at},
			"telesign telesign.foo X status unknown", "code 0 · telesign telesign.foo X · at 2024-06-23T17:23:13Z"},
		{Event{Source: "x", Type: "y", Subject: "Z", Status: StatusUnknown, Description: "odd", Time: at},
			"x y Z: odd", "odd (code 0) · x y Z · at 2024-06-23T17:23:13Z"},
		{Event{Source: "x", Type: "y", Subject: "Z", Status: StatusFailure, Description: "line cut", Time: at},
			"x y Z failed: line cut", "line cut (code 0) · x y Z · at 2024-06-23T17:23:13Z"},
	}
	for _, tc := range tests {
		if got := tc.ev.Title(); got != tc.title {
			t.Errorf("%s/%s: title %q, want %q", tc.ev.Type, tc.ev.Status, got, tc.title)
		}
		if got := tc.ev.Text(); got != tc.text {
			t.Errorf("%s/%s: text %q, want %q", tc.ev.Type, tc.ev.Status, got, tc.text)
		}
	}
}

func TestKinds(t *testing.T) {
	fax := &Kind{Source: "fax", Type: "fax.out"}
	other := &Kind{Source: "sms"}
	kinds := NewKinds([]*Kind{fax}, []*Kind{other})
	for _, tc := range []struct {
		source, typ string
		want        *Kind
		metric      string
	}{
		{"fax", "fax.out", fax, "fax.out"},
		{"fax", "fax.in", nil, ""},
		{"sms", "sms.anything", other, "sms.other"},
		{"nobody", "fax.out", nil, ""},
	} {
		got := kinds.Of(tc.source, tc.typ)
		if got != tc.want {
			t.Errorf("Of(%q, %q) = %+v, want %+v", tc.source, tc.typ, got, tc.want)
		}
		if got != nil && got.MetricType() != tc.metric {
			t.Errorf("Of(%q, %q).MetricType() = %q, want %q", tc.source, tc.typ, got.MetricType(), tc.metric)
		}
	}

	// Attach keeps a kind the receiver set.
	own := &Kind{Source: "fax", Type: "fax.out"}
	ev := &Event{Source: "fax", Type: "fax.out", Kind: own}
	kinds.Attach(ev)
	if ev.Kind != own {
		t.Error("Attach replaced the receiver's kind")
	}
	ev = &Event{Source: "fax", Type: "fax.out"}
	if kinds.Attach(ev); ev.Kind != fax {
		t.Errorf("Attach set %+v", ev.Kind)
	}

	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), "declared twice") {
			t.Errorf("a kind declared twice: panic %v", p)
		}
	}()
	NewKinds([]*Kind{fax}, []*Kind{{Source: "fax", Type: "fax.out"}})
}

// The JSON form does not carry the kind: it is the receiver's knowledge,
// not the event's data.
func TestKindNotInJSON(t *testing.T) {
	ev := &Event{Source: "fax", Type: "fax.out", Kind: &Kind{Source: "fax", Type: "fax.out"}}
	ev.Seal("r", time.Unix(0, 0))
	m := ev.Map()
	if _, ok := m["kind"]; ok {
		t.Error("Map has a kind")
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(string(b)), "kind") {
		t.Errorf("JSON carries the kind: %s", b)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Kind != nil {
		t.Error("a decoded event has a kind")
	}
}
