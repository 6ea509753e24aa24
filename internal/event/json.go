package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Decode parses the JSON form of an event, as stored and as sent by webhook
// sinks. Numbers in data come back as int when integral and float64
// otherwise, so templates and sinks see the same types the receiver produced
// (times inside data stay RFC 3339 strings).
func Decode(b []byte) (*Event, error) {
	type plain Event
	var e plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	ev := Event(e)
	for k, v := range ev.Data {
		ev.Data[k] = normalizeNumbers(v)
	}
	return &ev, nil
}

func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") {
			if i, err := x.Int64(); err == nil {
				return int(i)
			}
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
		return x
	}
	return v
}
