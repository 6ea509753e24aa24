package config

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one configuration mistake, located by file and line and by the
// section it belongs to (`rule "failed-faxes"`, `sink "ops-slack"`).
type Error struct {
	File    string
	Line    int
	Section string
	Msg     string
	// Key, when set on an error without a line, names the key of the
	// section the mistake is at; AtKeys turns it into that key's line.
	Key string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Section != "" {
		b.WriteString(e.Section)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every mistake found in one configuration, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns es as an error, or nil when it is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Errorf returns an Error at line in section.
func Errorf(line int, section, format string, args ...any) *Error {
	return &Error{Line: line, Section: section, Msg: fmt.Sprintf(format, args...)}
}

// AsErrors flattens err into located errors. Errors that are not *Error (or
// Errors) are placed at line with section.
func AsErrors(err error, line int, section string) Errors {
	if err == nil {
		return nil
	}
	var es Errors
	if errors.As(err, &es) {
		out := make(Errors, len(es))
		for i, e := range es {
			c := *e
			if c.Section == "" {
				c.Section = section
			}
			if c.Line == 0 {
				c.Line = line
			}
			out[i] = &c
		}
		return out
	}
	var e *Error
	if errors.As(err, &e) {
		return AsErrors(Errors{e}, line, section)
	}
	return Errors{{Line: line, Section: section, Msg: err.Error()}}
}

// KeyErrorf returns an Error about the value of key in the section being
// validated; the caller that holds the section's YAML places it with
// AtKeys.
func KeyErrorf(key, format string, args ...any) *Error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// AtKeys gives each error of es that names a Key but no line the line of
// that key's value in the mapping n.
func AtKeys(es Errors, n *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for _, e := range es {
		if e.Line != 0 || e.Key == "" {
			continue
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == e.Key {
				e.Line = n.Content[i+1].Line
				break
			}
		}
	}
}
