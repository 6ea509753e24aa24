// Package config is where the service's own settings are described and
// where every part of the configuration finds the primitives it shares.
//
// The settings: Service (listeners, store, admin token, intake limits,
// Retention) and each sink's Delivery and Retry, with their defaults, so
// that the store, the delivery workers and the wiring read them without
// depending on the rules engine. The primitives: secrets that never print,
// durations, ${VAR} expansion, strict decoding of YAML nodes and errors that
// carry file, line and the name of the rule, sink or receiver they belong
// to. Receivers and sinks decode their own sections with it; package rules
// parses the whole file into these types and compiles the rules.
package config

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Secret is a configuration value that must never be printed: it formats,
// marshals and logs as "<secret>". Use Value for the real string.
type Secret string

// Redacted is what a secret prints as, in the configuration and in the
// sinks' errors alike.
const Redacted = "<secret>"

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String returns "<secret>" (or "" for an empty secret).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return s.String() }

// Format keeps every fmt verb from printing the secret.
func (s Secret) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }

// LogValue keeps slog from printing the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// Duration is a time.Duration written as a Go duration string ("30s", "5m")
// in YAML; "d" is accepted as a suffix for days ("7d").
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ParseDuration parses a Go duration, also accepting a whole number of days
// ("7d").
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && fmt.Sprint(n) == days && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 30s, 5m, 2h, 7d)", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("invalid duration %q: negative", s)
	}
	return v, nil
}
