package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// SecretList is one secret or several, written as a string or a list of
// strings (`secret: x` or `secret: [new, old]`): during a key rotation both
// keys are in use. Each element prints as "<secret>".
type SecretList []Secret

// UnmarshalYAML implements yaml.Unmarshaler: a scalar is a list of one.
func (l *SecretList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			*l = nil
			return nil
		}
		*l = SecretList{Secret(n.Value)}
		return nil
	case yaml.SequenceNode:
		out := make(SecretList, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
				return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a string in the list of secrets", c.Line)}}
			}
			out = append(out, Secret(c.Value))
		}
		*l = out
		return nil
	}
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a string or a list of strings", n.Line)}}
}

// Values returns the secrets themselves, empty ones left out.
func (l SecretList) Values() []string {
	out := make([]string, 0, len(l))
	for _, s := range l {
		if v := s.Value(); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// String returns one "<secret>" per secret.
func (l SecretList) String() string {
	parts := make([]string, len(l))
	for i, s := range l {
		parts[i] = s.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}
