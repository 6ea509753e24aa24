package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decode decodes node into out strictly: every mapping key must name a field
// (by its yaml tag) of the target struct, recursively. It returns Errors
// located at the offending lines, all of them, not only the first; out is
// decoded as far as possible even then, so later checks can report more.
func Decode(node *yaml.Node, out any) error {
	var errs Errors
	checkKeys(node, reflect.TypeOf(out), &errs)
	if err := node.Decode(out); err != nil {
		errs = append(errs, YAMLErrors(err, node.Line)...)
	}
	return errs.Err()
}

// Validator is implemented by configuration structs that check themselves
// after decoding.
type Validator interface {
	Validate() error
}

var lineRe = regexp.MustCompile(`^line (\d+): (.*)$`)

// YAMLErrors converts a yaml.v3 error into located Errors; fallback is the
// line used when the message names none.
func YAMLErrors(err error, fallback int) Errors {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var es Errors
		for _, msg := range te.Errors {
			es = append(es, locate(msg, fallback))
		}
		return es
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return Errors{locate(msg, fallback)}
}

func locate(msg string, fallback int) *Error {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := lineRe.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &Error{Line: n, Msg: m[2]}
	}
	return &Error{Line: fallback, Msg: msg}
}

func checkKeys(n *yaml.Node, t reflect.Type, errs *Errors) {
	if n == nil || t == nil {
		return
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		checkKeys(n.Content[0], t, errs)
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(yaml.Node{}) || reflect.PointerTo(t).Implements(reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()) {
		return // the type decodes itself
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // node.Decode reports the type mismatch
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, &Error{Line: k.Line, Msg: unknownKey(k.Value, fields)})
				continue
			}
			checkKeys(v, ft, errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 1; i < len(n.Content); i += 2 {
			checkKeys(n.Content[i], t.Elem(), errs)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for _, c := range n.Content {
			checkKeys(c, t.Elem(), errs)
		}
	}
}

// yamlFields maps the YAML names of t's fields to their types, following
// ",inline" fields.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func unknownKey(key string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, k := range names {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key %q (did you mean %q?)", key, best)
	}
	return fmt.Sprintf("unknown key %q (known: %s)", key, strings.Join(names, ", "))
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
