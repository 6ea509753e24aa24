package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/receivers/interfax"
	"github.com/switchboard/switchboard/receivers/telesign"
	"github.com/switchboard/switchboard/sinks/email"
	"github.com/switchboard/switchboard/sinks/logsink"
	"github.com/switchboard/switchboard/sinks/slack"
	"github.com/switchboard/switchboard/sinks/webhook"
)

// schema/rules.schema.json is the JSON Schema editors use for rules.yaml
// (yaml-language-server). These tests keep it honest: the example config
// validates, mistakes are caught, and its keys are exactly the config's.

func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "schema", "rules.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	return s
}

func yamlDoc(t *testing.T, src string) any {
	t.Helper()
	var doc any
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestSchemaValidatesExample(t *testing.T) {
	schema := loadSchema(t)
	b, err := os.ReadFile(filepath.Join("..", "rules.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if first != "# yaml-language-server: $schema=./schema/rules.schema.json" {
		t.Errorf("rules.example.yaml does not point editors at the schema: first line %q", first)
	}
	if errs := validateSchema(schema, yamlDoc(t, string(b))); len(errs) > 0 {
		t.Errorf("rules.example.yaml does not validate:\n%s", strings.Join(errs, "\n"))
	}
	// So do the sinks it shows commented out.
	uncommented := regexp.MustCompile(`(?m)^  # ?`).ReplaceAllString(string(b), "  ")
	if !strings.Contains(uncommented, "\n  ops-slack:") {
		t.Fatal("found no commented-out sinks to check")
	}
	if errs := validateSchema(schema, yamlDoc(t, uncommented)); len(errs) > 0 {
		t.Errorf("rules.example.yaml with its sinks uncommented does not validate:\n%s", strings.Join(errs, "\n"))
	}
}

// The configuration reference in the README validates too.
func TestSchemaValidatesReadmeReference(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "## Configuration reference")
	if !ok {
		t.Skip("README has no configuration reference")
	}
	_, block, _ := strings.Cut(after, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	if errs := validateSchema(loadSchema(t), yamlDoc(t, block)); len(errs) > 0 {
		t.Errorf("README configuration reference does not validate:\n%s", strings.Join(errs, "\n"))
	}
}

func TestSchemaCases(t *testing.T) {
	schema := loadSchema(t)
	const base = "sinks: {a: {type: log}}\nrules:\n  - {name: r, when: 'true', to: [a]}\n"
	tests := []struct {
		name, src string
		want      string // "" when the document is valid
	}{
		{"minimal", base, ""},
		{"everything", `listen: ":8080"
admin: 127.0.0.1:9090
admin_token: ${ADMIN_TOKEN}
store: postgres://localhost/sb
body_limit: 65536
retention: {delivered: 7d, dead: 720h}
receivers:
  fax: {type: interfax, token: x, allow_ips: [10.0.0.0/8], trusted_proxies: [127.0.0.1], public_url: "https://x"}
  ts: {type: telesign, customer_id: C, api_key: K, unauthenticated: false}
sinks:
  s: {type: slack, token: x, channel: "#ops", rate_limit: 0.5, timeout: 5s, concurrency: 2}
  e:
    type: email
    smtp:
      host: h
      port: ${SMTP_PORT:-587}
      password: ${SMTP_PASSWORD}
      tls: starttls
    from: a@example.com
    to: [b@example.com]
    retry: {max_attempts: 3, initial_backoff: 1s, max_backoff: 1m, max_age: 1h, max_retry_after: 30s}
  w: {type: webhook, url: "https://x", secret: whsec_x, headers: {X-Team: fax}, lease_margin: 1m}
  l: {type: log, level: warn}
rules:
  - name: r
    when: status == "failure"
    to: [s, e]
    title: t
    text: x
    stop: true
    throttle: {key: data.DestinationFax, window: 10m}
  - {name: all, when: true, to: [l]}
`, ""},
		{"unknown top-level key", "listn: x\n" + base, `listn: unknown key`},
		{"unknown rule key", "sinks: {a: {type: log}}\nrules:\n  - {name: r, when: 'true', to: [a], stopp: true}\n", `rules[0].stopp: unknown key`},
		{"unknown throttle key", "sinks: {a: {type: log}}\nrules:\n  - {name: r, when: 'true', to: [a], throttle: {window: 1m, burst: 2}}\n", `rules[0].throttle.burst: unknown key`},
		{"throttle without window", "sinks: {a: {type: log}}\nrules:\n  - {name: r, when: 'true', to: [a], throttle: {key: subject}}\n", `rules[0].throttle: missing "window"`},
		{"bad duration", "sinks: {a: {type: log, timeout: soon}}\n", `sinks.a: oneOf: 0 of 4 alternatives match`},
		{"unknown sink key", "sinks: {a: {type: webhook, url: x, colour: red}}\n", `sinks.a.colour: unknown key`},
		{"unknown sink type", "sinks: {a: {type: pager}}\n", `sinks.a: oneOf: 0 of 4`},
		{"webhook without url", "sinks: {a: {type: webhook}}\n", `sinks.a: missing "url"`},
		{"unknown receiver key", "receivers: {f: {type: interfax, tokn: x}}\n", `receivers.f.tokn: unknown key`},
		{"rule without to", "rules:\n  - {name: r, when: 'true'}\n", `rules[0]: missing "to"`},
		{"bad name", "sinks: {'a b': {type: log}}\n", `sinks.a b: "a b" does not match`},
		{"bad log level", "sinks: {a: {type: log, level: loud}}\n", `sinks.a.level: loud is not one of`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := validateSchema(schema, yamlDoc(t, tc.src))
			got := strings.Join(errs, "\n")
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Errorf("valid document rejected:\n%s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("errors:\n%s\nwant one containing %q", got, tc.want)
			}
		})
	}
}

// The schema names exactly the keys the configuration structs decode, so
// a key added to the config without the schema (or the reverse) fails here.
func TestSchemaKeysMatchConfig(t *testing.T) {
	schema := loadSchema(t)
	defs := schema["$defs"].(map[string]any)
	props := func(s any) []string {
		m := s.(map[string]any)
		if ref, ok := m["$ref"].(string); ok {
			m = defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		}
		var out []string
		for k := range m["properties"].(map[string]any) {
			if k != "type" { // the component's type, taken out before decoding
				out = append(out, k)
			}
		}
		sort.Strings(out)
		return out
	}
	prop := func(s any, name string) any {
		return s.(map[string]any)["properties"].(map[string]any)[name]
	}
	branch := func(def, typ string) any {
		for _, alt := range defs[def].(map[string]any)["oneOf"].([]any) {
			if prop(alt, "type").(map[string]any)["const"] == typ {
				return alt
			}
		}
		t.Fatalf("schema has no %s of type %q", def, typ)
		return nil
	}
	receiverKeys := func(cfg any) []string {
		return append(yamlKeys(reflect.TypeOf(cfg)), yamlKeys(reflect.TypeOf(receiverSettings{}))...)
	}
	sinkKeys := func(cfg any) []string {
		return append(yamlKeys(reflect.TypeOf(cfg)), yamlKeys(reflect.TypeOf(config.Delivery{}))...)
	}
	tests := []struct {
		name   string
		schema any
		keys   []string
	}{
		{"top level", schema, yamlKeys(reflect.TypeOf(raw{}))},
		{"retention", prop(schema, "retention"), yamlKeys(reflect.TypeOf(config.Retention{}))},
		{"rule", defs["rule"], yamlKeys(reflect.TypeOf(ruleSpec{}))},
		{"throttle", prop(defs["rule"], "throttle"), yamlKeys(reflect.TypeOf(throttleSpec{}))},
		{"retry", defs["retry"], yamlKeys(reflect.TypeOf(config.Retry{}))},
		{"expectation", defs["expectation"], yamlKeys(reflect.TypeOf(expectSpec{}))},
		{"interfax receiver", branch("receiver", "interfax"), receiverKeys(interfax.Config{})},
		{"telesign receiver", branch("receiver", "telesign"), receiverKeys(telesign.Config{})},
		{"slack sink", branch("sink", "slack"), sinkKeys(slack.Config{})},
		{"email sink", branch("sink", "email"), sinkKeys(email.Config{})},
		{"email smtp", prop(branch("sink", "email"), "smtp"), yamlKeys(reflect.TypeOf(email.SMTP{}))},
		{"webhook sink", branch("sink", "webhook"), sinkKeys(webhook.Config{})},
		{"log sink", branch("sink", "log"), sinkKeys(logsink.Config{})},
	}
	for _, tc := range tests {
		sort.Strings(tc.keys)
		if got := props(tc.schema); !slices.Equal(got, tc.keys) {
			t.Errorf("%s: schema has %v, config has %v", tc.name, got, tc.keys)
		}
	}
}

// yamlKeys lists the YAML keys of a config struct, following inline fields.
func yamlKeys(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case !f.IsExported() || name == "-":
		case strings.Contains(opts, "inline"):
			out = append(out, yamlKeys(f.Type)...)
		default:
			out = append(out, name)
		}
	}
	return out
}
