package config

import (
	"fmt"
	"reflect"
	"strings"
)

// SecretValues returns the non-empty Secret fields of the struct v points
// to, recursively, keyed by their YAML path ("smtp.password").
func SecretValues(v any) map[string]string {
	out := map[string]string{}
	secretValues(reflect.ValueOf(v), "", out)
	return out
}

var secretType = reflect.TypeOf(Secret(""))

func secretValues(v reflect.Value, path string, out map[string]string) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Type() == secretType {
		if s := v.String(); s != "" {
			out[path] = s
		}
		return
	}
	if v.Kind() == reflect.Slice && v.Type().Elem() == secretType {
		for i := 0; i < v.Len(); i++ { // a SecretList: secret, or secret[0], secret[1]…
			p := path
			if v.Len() > 1 {
				p = fmt.Sprintf("%s[%d]", path, i)
			}
			secretValues(v.Index(i), p, out)
		}
		return
	}
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		p := path
		if !strings.Contains(opts, "inline") {
			p = strings.TrimPrefix(path+"."+name, ".")
		}
		secretValues(v.Field(i), p, out)
	}
}
