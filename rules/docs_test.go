package rules

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/receivers/telesign"
)

var docExpr = regexp.MustCompile(`(?m)^\s*(?:- )?(when|key|thread|after|then): (.+?)\s*(?:#.*)?$`)

// Every condition (of a rule or an expectation), throttle key and thread
// key shown in the docs compiles (a thread key is compiled as a throttle
// key is).
func TestDocExamplesCompile(t *testing.T) {
	for _, doc := range []string{filepath.Join("..", "docs", "rules.md"), filepath.Join("..", "README.md")} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range docExpr.FindAllStringSubmatch(string(b), -1) {
			src := m[2]
			if strings.Contains(src, "…") || strings.HasPrefix(src, "<") {
				continue // prose, not an expression
			}
			n++
			var cfg string
			if m[1] != "key" && m[1] != "thread" { // a condition: when, or an expectation's after or then
				cfg = fmt.Sprintf("sinks: {a: {type: log}}\nrules:\n  - name: r\n    to: [a]\n    when: %s\n", src)
			} else {
				cfg = fmt.Sprintf("sinks: {a: {type: log}}\nrules:\n  - name: r\n    to: [a]\n    when: 'true'\n    throttle: {window: 1m, key: %s}\n", quoteYAML(src))
			}
			if _, err := Parse("doc.yaml", strings.NewReader(cfg), env(nil)); err != nil {
				t.Errorf("%s: %s: %s: %v", filepath.Base(doc), m[1], src, err)
			}
		}
		if n < 5 {
			t.Errorf("%s: found only %d expressions", doc, n)
		}
	}
}

func quoteYAML(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// The examples that dig into Telesign's data match the callbacks they are
// written for.
func TestDocExamplesMatch(t *testing.T) {
	rc, err := telesign.New("telesign", telesign.Config{Unauthenticated: true})
	if err != nil {
		t.Fatal(err)
	}
	parse := func(name string) *event.Event {
		t.Helper()
		body, err := os.ReadFile(filepath.Join("..", "receivers", "telesign", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("POST", "/hooks/telesign", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		evs, err := rc.Parse(r, body, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		evs[0].Seal("telesign", time.Now())
		return evs[0]
	}
	tests := []struct {
		file, when string
		want       bool
	}{
		{"ts2_sms_failed_errors.json", `source == "telesign" && any(data.errors ?? [], .code == -10001)`, true},
		{"ts1_sms_delivered.json", `source == "telesign" && any(data.errors ?? [], .code == -10001)`, false},
		{"ts5_inbound_sms.json", `type == "sms.inbound" && upper(trim(data.user_response?.mo_message ?? "")) == "STOP"`, true},
		{"ts1_sms_delivered.json", `type == "sms.inbound" && upper(trim(data.user_response?.mo_message ?? "")) == "STOP"`, false},
		{"ts1_sms_delivered.json", `type == "sms" && status == "success" && time - data.submit_timestamp > duration("2s")`, true},
		{"ts1_sms_delivered.json", `type == "sms" && status == "success" && time - data.submit_timestamp > duration("5m")`, false},
	}
	for _, tc := range tests {
		f := mustParse(t, fmt.Sprintf("sinks: {a: {type: log}}\nrules:\n  - {name: r, to: [a], when: %s}\n", quoteYAML(tc.when)))
		ok, err := f.Router.Rules()[0].Match(parse(tc.file))
		if err != nil || ok != tc.want {
			t.Errorf("%s: %s = %v (%v), want %v", tc.file, tc.when, ok, err, tc.want)
		}
	}
}
