package rules

import (
	"strings"
	"testing"
	"time"
)

func TestThrottleConfigErrors(t *testing.T) {
	tests := []struct {
		name, throttle, want string
	}{
		{"missing window", "{key: subject}", `rules.yaml:6: rule "r": throttle: window is required`},
		{"bad window", "{key: subject, window: soon}", `rules.yaml:6: rule "r": invalid duration "soon"`},
		{"unknown key", "{key: subject, window: 1m, burst: 3}", `rules.yaml:6: rule "r": unknown key "burst"`},
		{"key does not compile", "{key: 'subjekt', window: 1m}", `rules.yaml:6: rule "r": throttle: key: unknown name subjekt`},
		{"key is a map", "{key: data, window: 1m}", `rules.yaml:6: rule "r": throttle: key: must be a string, number or bool, not map[string]interface {}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "sinks: {a: {type: log}}\nrules:\n  - name: r\n    when: 'true'\n    to: [a]\n    throttle: " + tc.throttle + "\n"
			es := parseErrs(t, src, nil)
			if len(es) == 0 || !strings.Contains(es[0].Error(), tc.want) {
				t.Errorf("errors = %v, want one containing %q", es, tc.want)
			}
		})
	}
}

func TestThrottleMatch(t *testing.T) {
	f := mustParse(t, routingSinks+`rules:
  - name: per-destination
    when: status == "failure"
    to: [a, b]
    throttle: {key: 'data.DestinationFax + "/" + string(code)', window: 10m}
  - name: whole-rule
    when: "true"
    to: [c]
    text: '{{ .description }}{{ if .suppressed }} ({{ .suppressed }} more){{ end }}'
    throttle: {window: 1h}
  - name: unthrottled
    when: "true"
    to: [c]
`)
	res := f.Router.Route(failedFax())
	if len(res.Matches) != 4 || len(res.Errors) != 0 {
		t.Fatalf("matches = %+v, errors = %v", res.Matches, res.Errors)
	}
	a, b, whole, plain := res.Matches[0], res.Matches[1], res.Matches[2], res.Matches[3]
	if a.ThrottleKey != "0012125551234/263" || a.Window != 10*time.Minute || b.ThrottleKey != a.ThrottleKey || a.Render == nil {
		t.Errorf("per-destination = %+v", a)
	}
	if whole.ThrottleKey != "" || whole.Window != time.Hour || whole.Text != "busy" {
		t.Errorf("whole-rule = %+v", whole)
	}
	if plain.Window != 0 || plain.Render != nil {
		t.Errorf("an unthrottled rule has no throttle: %+v", plain)
	}

	// The delivery after suppressed ones says how many: the default
	// message in its title and text, a template through .suppressed.
	title, text := a.Render(3)
	if title != a.Title+" (+3 suppressed)" || !strings.HasPrefix(text, a.Text) || !strings.Contains(text, "3 similar messages were suppressed") {
		t.Errorf("default render(3) = %q, %q", title, text)
	}
	if _, text := whole.Render(5); text != "busy (5 more)" {
		t.Errorf("templated render(5) text = %q", text)
	}
	if _, text := whole.Render(0); text != "busy" {
		t.Errorf("templated render(0) text = %q", text)
	}
}

// A key that fails at run time is reported and the match is delivered
// without throttle: storm control never loses an alert.
func TestThrottleKeyErrorDelivers(t *testing.T) {
	f := mustParse(t, routingSinks+`rules:
  - name: r
    when: "true"
    to: [a]
    throttle: {key: 'data.TrialsPerformed / data.Missing', window: 1m}
`)
	res := f.Router.Route(failedFax())
	if len(res.Matches) != 1 || res.Matches[0].Window != 0 || len(res.Errors) != 1 {
		t.Errorf("matches = %+v, errors = %v", res.Matches, res.Errors)
	}
}

func TestThrottleLongKey(t *testing.T) {
	f := mustParse(t, routingSinks+`rules:
  - name: r
    when: "true"
    to: [a]
    throttle: {key: 'repeat("é", 500)', window: 1m}
`)
	res := f.Router.Route(failedFax())
	k := res.Matches[0].ThrottleKey
	if len(k) > maxKeyLen || !strings.HasPrefix(k, "éé") || !strings.Contains(k, "…") {
		t.Errorf("key = %q (%d bytes)", k, len(k))
	}
}
