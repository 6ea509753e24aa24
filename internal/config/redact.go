package config

import "strings"

// Redactor remembers the values ${VAR} expanded to, so that error messages
// that quote a value (a YAML type error, an invalid duration) show the
// variable's name instead: a secret put under the wrong key, or into the
// wrong variable, never reaches `check` output or a log.
type Redactor struct {
	names, values []string
}

// minRedacted is the shortest value redacted: shorter ones ("1", "on") are
// too common in messages to replace, and are not secrets.
const minRedacted = 4

// Lookup wraps lookup to record the values it returns.
func (r *Redactor) Lookup(lookup func(string) (string, bool)) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := lookup(name)
		if ok && len(v) >= minRedacted {
			r.names = append(r.names, name)
			r.values = append(r.values, v)
		}
		return v, ok
	}
}

// Redact replaces the recorded values in the messages of es, in place.
func (r *Redactor) Redact(es Errors) {
	if r == nil {
		return
	}
	for _, e := range es {
		e.Msg = r.String(e.Msg)
	}
}

// String replaces the recorded values in s with ${NAME}.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	for i, v := range r.values {
		s = strings.ReplaceAll(s, v, "${"+r.names[i]+"}")
		// yaml.v3 quotes a long value as its first 7 bytes and "...".
		if len(v) > 10 {
			s = strings.ReplaceAll(s, v[:7]+"...", "${"+r.names[i]+"}")
		}
	}
	return s
}

// FromVariable reports whether s holds a value some ${VAR} expanded to
// (one of at least minRedacted characters): a secret that did not is
// written in the file itself.
func (r *Redactor) FromVariable(s string) bool {
	if r == nil {
		return false
	}
	for _, v := range r.values {
		if strings.Contains(s, v) {
			return true
		}
	}
	return false
}
