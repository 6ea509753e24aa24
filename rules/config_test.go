package rules

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/config"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func parseErrs(t *testing.T, src string, vars map[string]string) config.Errors {
	t.Helper()
	_, err := Parse("rules.yaml", strings.NewReader(src), env(vars))
	if err == nil {
		t.Fatalf("Parse succeeded, want errors")
	}
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want config.Errors: %v", err, err)
	}
	return es
}

const validConfig = `
listen: ":8080"
store: ${STORE:-sb.db}
sinks:
  audit:
    type: log
  api:
    type: webhook
    url: https://example.com/x
    retry: {max_attempts: 3}
rules:
  - name: failed
    when: source == "interfax" && status == "failure"
    to: [audit, api]
    title: 'Fax to {{ .data.DestinationFax }} failed'
  - name: all
    when: final
    to: [api]
    stop: true
`

func TestParseValid(t *testing.T) {
	f, err := Parse("rules.yaml", strings.NewReader(validConfig), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if f.Store != "sb.db" || f.Admin != config.DefaultAdmin || f.BodyLimit != config.DefaultBodyLimit {
		t.Errorf("globals = %q %q %d", f.Store, f.Admin, f.BodyLimit)
	}
	if len(f.Sinks) != 2 || f.Sinks[1].Delivery.Retry.MaxAttempts != 3 || f.Sinks[1].Type != "webhook" {
		t.Errorf("sinks = %+v", f.Sinks)
	}
	if got := len(f.Router.Rules()); got != 2 {
		t.Errorf("rules = %d", got)
	}
	// The common delivery keys are taken out of the sink's own section.
	for i := 0; i < len(f.Sinks[1].Node.Content); i += 2 {
		if k := f.Sinks[1].Node.Content[i].Value; k == "retry" || k == "type" {
			t.Errorf("sink node still has %q", k)
		}
	}
}

// TestConfigErrors covers every kind of configuration mistake: each must
// name the line and, where there is one, the rule, sink or receiver.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		vars map[string]string
		want []string // substrings of the errors, in order
	}{
		{"yaml syntax", "listen: [\n", nil, []string{"rules.yaml:1: did not find expected node content"}},
		{"unknown top-level key", "listn: x\n", nil, []string{`rules.yaml:1: unknown key "listn" (did you mean "listen"?)`}},
		{"unset variable", "store: ${NOPE}\n", nil, []string{"rules.yaml:1: environment variable NOPE is not set"}},
		{"missing type", "sinks:\n  a:\n    url: x\n", nil, []string{`rules.yaml:3: sink "a": missing type`}},
		{"bad delivery setting", "sinks:\n  a:\n    type: log\n    timeout: soon\n", nil, []string{`rules.yaml:4: sink "a": invalid duration "soon"`}},
		{"unknown rule key", "sinks: {a: {type: log}}\nrules:\n  - name: r\n    when: 'true'\n    to: [a]\n    stopp: true\n", nil,
			[]string{`rules.yaml:6: rule "r": unknown key "stopp" (did you mean "stop"?)`}},
		{"unknown sink reference", "sinks: {a: {type: log}}\nrules:\n  - name: r\n    when: 'true'\n    to: [b]\n", nil,
			[]string{`rules.yaml:5: rule "r": unknown sink "b"`}},
		{"duplicate rule", "sinks: {a: {type: log}}\nrules:\n  - {name: r, when: 'true', to: [a]}\n  - {name: r, when: 'true', to: [a]}\n", nil,
			[]string{`rules.yaml:4: rule "r": duplicate rule name (first defined on line 3)`}},
		{"expr type mismatch", "sinks: {a: {type: log}}\nrules:\n  - name: r\n    when: status == 1\n    to: [a]\n", nil,
			[]string{`rules.yaml:4: rule "r": when: invalid operation: == (mismatched types string and int) (1:8)`}},
		{"expr unknown field", "sinks: {a: {type: log}}\nrules:\n  - name: r\n    when: stauts == \"x\"\n    to: [a]\n", nil,
			[]string{`rules.yaml:4: rule "r": when: unknown name stauts (1:1)`}},
		{"expr not bool", "sinks: {a: {type: log}}\nrules:\n  - name: r\n    when: code\n    to: [a]\n", nil,
			[]string{`rules.yaml:4: rule "r": when: expected bool, but got int`}},
		{"expr syntax", "sinks: {a: {type: log}}\nrules:\n  - name: r\n    when: status ==\n    to: [a]\n", nil,
			[]string{`rules.yaml:4: rule "r": when: unexpected token EOF (1:9)`}},
		{"bad template", "sinks: {a: {type: log}}\nrules:\n  - name: r\n    when: 'true'\n    to: [a]\n    text: '{{ .x '\n", nil,
			[]string{`rules.yaml:6: rule "r": text: text:1: unclosed action`}},
		{"missing name and to", "rules:\n  - when: 'true'\n", nil, []string{`rules.yaml:2: rule #1: missing name`, `rules.yaml:2: rule #1: missing to`}},
		{"several at once", "listn: x\nsinks: {a: {type: log}}\nrules:\n  - {name: r, when: status == 1, to: [a]}\n  - {name: s, when: 'true', to: [zz]}\n", nil,
			[]string{`rules.yaml:1: unknown key "listn"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es := parseErrs(t, tc.src, tc.vars)
			if tc.want == nil {
				return
			}
			if len(es) < len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(es), len(tc.want), es)
			}
			for i, w := range tc.want {
				if !strings.Contains(es[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, es[i].Error(), w)
				}
			}
		})
	}
}

// Mistakes in different sections are all reported together.
func TestConfigErrorsAllAtOnce(t *testing.T) {
	src := "sinks:\n  a: {type: log}\nrules:\n  - {name: r, when: status == 1, to: [a]}\n  - {name: s, when: 'true', to: [zz]}\n  - {name: u, when: nope, to: [a]}\n"
	es := parseErrs(t, src, nil)
	var lines []int
	for _, e := range es {
		lines = append(lines, e.Line)
	}
	if len(es) != 3 || lines[0] != 4 || lines[1] != 5 || lines[2] != 6 {
		t.Fatalf("errors at lines %v, want [4 5 6]:\n%v", lines, es)
	}
}

func TestExpand(t *testing.T) {
	src := "store: ${DB}\nlisten: ${LISTEN:-:9999}\nadmin: \"127.0.0.1:$${literal}\"\nsinks:\n  a:\n    type: log\n    concurrency: ${CONC:-2}\n"
	f, err := Parse("rules.yaml", strings.NewReader(src), env(map[string]string{"DB": "x.db"}))
	if err != nil {
		t.Fatal(err)
	}
	if f.Store != "x.db" || f.Listen != ":9999" || f.Admin != "127.0.0.1:${literal}" {
		t.Errorf("got store=%q listen=%q admin=%q", f.Store, f.Listen, f.Admin)
	}
	if f.Sinks[0].Delivery.Concurrency != 2 {
		t.Errorf("concurrency = %d, want 2 from a default that reads as a number", f.Sinks[0].Delivery.Concurrency)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := config.Secret("hunter2")
	for _, got := range []string{s.String(), s.GoString(), fmtAll(s)} {
		if strings.Contains(got, "hunter2") {
			t.Errorf("secret printed: %q", got)
		}
	}
	if s.Value() != "hunter2" {
		t.Error("Value lost the secret")
	}
}

// The README writes a reference inside a one-line { … } mapping
// (smtp: { host: …, password: ${SMTP_PASSWORD} }), where its braces would
// otherwise end the mapping.
func TestExpandInFlowMapping(t *testing.T) {
	src := "sinks:\n  mail:\n    type: log\n    timeout: ${T}\n    retry: { max_attempts: ${N:-3}, initial_backoff: ${B}${U} }\nstore: \"$${literal}\"\n"
	f, err := Parse("rules.yaml", strings.NewReader(src), env(map[string]string{"T": "7s", "B": "2", "U": "s"}))
	if err != nil {
		t.Fatal(err)
	}
	d := f.Sinks[0].Delivery
	if d.Retry.MaxAttempts != 3 || time.Duration(d.Retry.InitialBackoff) != 2*time.Second || time.Duration(d.Timeout) != 7*time.Second || f.Store != "${literal}" {
		t.Errorf("delivery = %+v, store %q", d, f.Store)
	}
	_, err = Parse("rules.yaml", strings.NewReader("sinks: { a: { type: log, timeout: ${NOPE} } }\n"), env(nil))
	if err == nil || !strings.Contains(err.Error(), "rules.yaml:1: environment variable NOPE is not set") {
		t.Errorf("unset variable in a flow mapping: %v", err)
	}
}

// A key repeated in one mapping is an error at the repeat naming the first
// line, wherever it is: yaml.v3 does not check mappings decoded into
// yaml.Node (receivers, sinks, rules), where a pasted second receiver
// would silently replace the first. Every repeat is reported at once.
func TestParseDuplicateKeys(t *testing.T) {
	src := `listen: ":8080"
receivers:
  telesign:
    type: telesign
    api_key: c2VjcmV0X2FwaV9rZXk=
  telesign:
    type: telesign
    unauthenticated: true
sinks:
  audit:
    type: log
  audit:
    type: webhook
    url: https://example.com/x
rules:
  - name: a
    when: true
    to: [audit]
    when: false
listen: ":8081"
`
	es := parseErrs(t, src, nil)
	var got []string
	for _, e := range es {
		got = append(got, e.Error())
	}
	want := []string{
		`rules.yaml:6: duplicate key "telesign" (first at line 3)`,
		`rules.yaml:12: duplicate key "audit" (first at line 10)`,
		`rules.yaml:19: duplicate key "when" (first at line 17)`,
		`rules.yaml:20: duplicate key "listen" (first at line 1)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
