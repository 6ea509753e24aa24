package config

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// A placeholder stands for one ${…} reference while the YAML is parsed: its
// characters are plain in every YAML context, so a reference may sit where
// braces would end a flow mapping, as in
//
//	smtp: { host: smtp.example.com, password: ${SMTP_PASSWORD} }
const (
	placeholderOpen  = "__sbvar_"
	placeholderClose = "__"
)

// refRe matches a ${NAME} or ${NAME:-default} reference not preceded by
// another '$' (which makes "$${" a literal).
var refRe = regexp.MustCompile(`(^|[^$])(\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}\n]*)?\})`)

var placeholderRe = regexp.MustCompile(placeholderOpen + `([0-9a-f]+)` + placeholderClose)

// Protect rewrites every ${…} reference in raw YAML into a placeholder that
// Expand turns back into the reference. Line numbers do not change.
func Protect(raw []byte) []byte {
	for {
		// A second pass catches a reference right after another one
		// ("${A}${B}"): a match takes the byte before it.
		out := refRe.ReplaceAllFunc(raw, func(m []byte) []byte {
			sub := refRe.FindSubmatch(m)
			return append(append([]byte{}, sub[1]...), placeholderOpen+hex.EncodeToString(sub[2])+placeholderClose...)
		})
		if len(out) == len(raw) {
			return out
		}
		raw = out
	}
}

func unprotect(s string) string {
	return placeholderRe.ReplaceAllStringFunc(s, func(m string) string {
		b, err := hex.DecodeString(placeholderRe.FindStringSubmatch(m)[1])
		if err != nil {
			return m
		}
		return string(b)
	})
}

// Expand replaces ${VAR} and ${VAR:-default} in every scalar value of the
// tree with values from lookup, in place. "$${" stands for a literal "${".
// An unset ${VAR} without a default is an error naming the variable and its
// line; all of them are reported.
func Expand(n *yaml.Node, lookup func(string) (string, bool)) Errors {
	var errs Errors
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			if strings.Contains(n.Value, placeholderOpen) {
				n.Value = unprotect(n.Value)
			}
			if !strings.Contains(n.Value, "${") {
				return
			}
			v, err := expandString(n.Value, lookup)
			if err != nil {
				errs = append(errs, &Error{Line: n.Line, Msg: err.Error()})
				return
			}
			n.Value = v
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
				// Re-resolve the plain scalar from its new value so
				// "port: ${PORT:-587}" decodes as a number; a value that
				// would read as null stays the string it is.
				n.Tag = ""
				if n.ShortTag() == "!!null" {
					n.Tag = "!!str"
				}
			}
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return errs
}

func expandString(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' { // "$${" → literal "${"
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in value")
		}
		expr := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validVarName(name) {
			return "", fmt.Errorf("invalid variable reference ${%s}", expr)
		}
		v, ok := lookup(name)
		switch {
		case ok && (v != "" || !hasDef):
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		default:
			return "", fmt.Errorf("environment variable %s is not set (use ${%s:-default} for a default)", name, name)
		}
	}
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9') {
			continue
		}
		return false
	}
	return true
}
