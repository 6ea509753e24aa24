package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSecretList(t *testing.T) {
	type cfg struct {
		Secret SecretList `yaml:"secret"`
	}
	tests := []struct {
		name, src string
		want      []string
		err       string
	}{
		{"one string", "secret: whsec_new", []string{"whsec_new"}, ""},
		{"a list", "secret: [whsec_new, whsec_old]", []string{"whsec_new", "whsec_old"}, ""},
		{"a block list", "secret:\n  - whsec_new\n  - whsec_old\n", []string{"whsec_new", "whsec_old"}, ""},
		{"absent", "other: 1", []string{}, ""},
		{"null", "secret: ~", []string{}, ""},
		{"a mapping", "secret: {a: b}", nil, "line 1: want a string or a list of strings"},
		{"a nested list", "secret: [[a]]", nil, "line 1: want a string in the list of secrets"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c struct {
				Secret SecretList `yaml:"secret"`
				Other  int        `yaml:"other"`
			}
			err := yaml.Unmarshal([]byte(tc.src), &c)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Secret.Values(); !slices.Equal(got, tc.want) {
				t.Errorf("Values = %q, want %q", got, tc.want)
			}
		})
	}
	l := SecretList{"whsec_new", "whsec_old"}
	for _, s := range []string{fmt.Sprint(l), fmt.Sprintf("%v %s %#v %+v", l, l, l, l)} {
		if strings.Contains(s, "whsec") {
			t.Errorf("a SecretList prints its secrets: %s", s)
		}
	}
	got := SecretValues(&cfg{Secret: l})
	if got["secret[0]"] != "whsec_new" || got["secret[1]"] != "whsec_old" || len(got) != 2 {
		t.Errorf("SecretValues = %v, want both secrets by index", got)
	}
	if got := SecretValues(&cfg{Secret: SecretList{"one"}}); got["secret"] != "one" || len(got) != 1 {
		t.Errorf("SecretValues = %v, want a list of one named like a string", got)
	}
}
