package rules

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

// A small JSON Schema validator for the keywords schema/rules.schema.json
// uses, so that its test needs no new module. A keyword it does not know
// fails validation, so the schema cannot come to rely on one silently.

// annotations are keywords that never affect validation.
var annotations = map[string]bool{
	"$schema": true, "$id": true, "$defs": true, "title": true, "description": true,
	"default": true, "examples": true, "markdownDescription": true,
}

type validator struct {
	root map[string]any
	errs []string
}

// validateSchema checks doc (a decoded YAML or JSON value) against schema
// and returns every violation, each with its path.
func validateSchema(schema map[string]any, doc any) []string {
	v := &validator{root: schema}
	v.check(schema, doc, "")
	return v.errs
}

func (v *validator) fail(path, format string, args ...any) {
	if path == "" {
		path = "(root)"
	}
	v.errs = append(v.errs, path+": "+fmt.Sprintf(format, args...))
}

// valid reports whether doc satisfies s, without recording errors.
func (v *validator) valid(s any, doc any, path string) bool {
	sub := &validator{root: v.root}
	sub.check(s, doc, path)
	return len(sub.errs) == 0
}

func (v *validator) check(schema any, doc any, path string) {
	if b, ok := schema.(bool); ok {
		if !b {
			v.fail(path, "not allowed")
		}
		return
	}
	s, ok := schema.(map[string]any)
	if !ok {
		v.fail(path, "schema is %T, not an object", schema)
		return
	}
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kw := s[k]
		switch k {
		case "$ref":
			v.check(v.resolve(kw.(string)), doc, path)
		case "type":
			v.checkType(kw, doc, path)
		case "enum":
			found := false
			for _, e := range kw.([]any) {
				found = found || equal(e, doc)
			}
			if !found {
				v.fail(path, "%v is not one of %v", doc, kw)
			}
		case "const":
			if !equal(kw, doc) {
				v.fail(path, "must be %v, not %v", kw, doc)
			}
		case "pattern":
			if str, ok := doc.(string); ok && !regexp.MustCompile(kw.(string)).MatchString(str) {
				v.fail(path, "%q does not match %s", str, kw)
			}
		case "minimum", "maximum", "exclusiveMinimum":
			n, ok := number(doc)
			lim := kw.(float64)
			if ok && (k == "minimum" && n < lim || k == "maximum" && n > lim || k == "exclusiveMinimum" && n <= lim) {
				v.fail(path, "%v is out of range (%s %v)", doc, k, lim)
			}
		case "minItems":
			if arr, ok := doc.([]any); ok && float64(len(arr)) < kw.(float64) {
				v.fail(path, "needs at least %v items", kw)
			}
		case "items":
			if arr, ok := doc.([]any); ok {
				for i, e := range arr {
					v.check(kw, e, fmt.Sprintf("%s[%d]", path, i))
				}
			}
		case "properties", "additionalProperties", "propertyNames", "required":
			v.checkObject(s, k, doc, path)
		case "anyOf", "oneOf", "allOf":
			n := 0
			for _, sub := range kw.([]any) {
				if v.valid(sub, doc, path) {
					n++
				}
			}
			all := len(kw.([]any))
			if k == "anyOf" && n == 0 || k == "oneOf" && n != 1 || k == "allOf" && n != all {
				v.fail(path, "%s: %d of %d alternatives match%s", k, n, all, v.why(kw.([]any), doc, path))
			}
		default:
			if !annotations[k] {
				v.fail(path, "validator does not support keyword %q", k)
			}
		}
	}
}

// why explains a failed anyOf/oneOf by the errors of the alternative that
// got furthest: for a sink, the branch whose type matched.
func (v *validator) why(alts []any, doc any, path string) string {
	best := ""
	bestN := math.MaxInt
	for _, a := range alts {
		sub := &validator{root: v.root}
		sub.check(a, doc, path)
		if n := len(sub.errs); n > 0 && n < bestN && !strings.Contains(strings.Join(sub.errs, ""), "must be") {
			best, bestN = strings.Join(sub.errs, "; "), n
		}
	}
	if best == "" {
		return ""
	}
	return " (" + best + ")"
}

func (v *validator) checkObject(s map[string]any, k string, doc any, path string) {
	obj, ok := doc.(map[string]any)
	if !ok {
		return
	}
	props, _ := s["properties"].(map[string]any)
	switch k {
	case "properties":
		for name, sub := range props {
			if val, ok := obj[name]; ok {
				v.check(sub, val, join(path, name))
			}
		}
	case "additionalProperties":
		for name, val := range obj {
			if _, known := props[name]; known {
				continue
			}
			if b, ok := s[k].(bool); ok && !b {
				v.fail(join(path, name), "unknown key")
				continue
			}
			v.check(s[k], val, join(path, name))
		}
	case "propertyNames":
		for name := range obj {
			v.check(s[k], name, join(path, name))
		}
	case "required":
		for _, r := range s[k].([]any) {
			if _, ok := obj[r.(string)]; !ok {
				v.fail(path, "missing %q", r)
			}
		}
	}
}

func (v *validator) checkType(kw any, doc any, path string) {
	types := []any{kw}
	if l, ok := kw.([]any); ok {
		types = l
	}
	for _, t := range types {
		if isType(t.(string), doc) {
			return
		}
	}
	v.fail(path, "%v is %s, want %v", doc, typeName(doc), kw)
}

func isType(t string, doc any) bool {
	switch t {
	case "object":
		_, ok := doc.(map[string]any)
		return ok
	case "array":
		_, ok := doc.([]any)
		return ok
	case "string":
		_, ok := doc.(string)
		return ok
	case "boolean":
		_, ok := doc.(bool)
		return ok
	case "null":
		return doc == nil
	case "number":
		_, ok := number(doc)
		return ok
	case "integer":
		n, ok := number(doc)
		return ok && n == math.Trunc(n)
	}
	return false
}

func typeName(doc any) string {
	for _, t := range []string{"object", "array", "string", "boolean", "null", "integer", "number"} {
		if isType(t, doc) {
			return t
		}
	}
	return fmt.Sprintf("%T", doc)
}

func number(doc any) (float64, bool) {
	switch n := doc.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func equal(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}

// resolve follows a local reference: #/$defs/name.
func (v *validator) resolve(ref string) any {
	var cur any = v.root
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, _ := cur.(map[string]any)
		cur = m[part]
	}
	if cur == nil {
		return false // an unresolvable reference matches nothing
	}
	return cur
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
