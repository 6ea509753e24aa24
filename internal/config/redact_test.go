package config

import (
	"testing"

	"gopkg.in/yaml.v3"
)

func TestRedactor(t *testing.T) {
	env := map[string]string{"PASSWORD": "hunter2-hunter2", "PORT": "587", "HOST": "smtp.example.com"}
	var r Redactor
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: ${PASSWORD}\nb: ${PORT}\nc: ${HOST}\nd: ${NOPE:-default-value}\n"), &doc); err != nil {
		t.Fatal(err)
	}
	if errs := Expand(&doc, r.Lookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })); len(errs) > 0 {
		t.Fatal(errs)
	}
	for in, want := range map[string]string{
		"cannot unmarshal !!str `hunter2...` into int": "cannot unmarshal !!str `${PASSWORD}` into int",
		`invalid duration "hunter2-hunter2"`:           `invalid duration "${PASSWORD}"`,
		"dial smtp.example.com:587":                    "dial ${HOST}:587", // short values stay
		"default-value is fine":                        "default-value is fine",
	} {
		if got := r.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	var nilR *Redactor
	if nilR.String("x") != "x" {
		t.Error("a nil Redactor changes text")
	}
}
