package app

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The example tests shipped next to rules.example.yaml pass.
func TestExampleRuleTests(t *testing.T) {
	b, err := Load(filepath.Join("..", "..", "rules.example.yaml"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "rules.example.tests.yaml")
	tests, err := LoadRuleTests(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if !FormatRuleTestResults(&out, path, b.RunRuleTests(tests)) {
		t.Errorf("example rule tests fail:\n%s", out.String())
	}
	if len(tests) < 5 {
		t.Errorf("only %d example tests", len(tests))
	}
}

func writeTests(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "tests.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "busy.form"), readExample(t, "interfax-fax-busy.form"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A mismatch is reported as a readable diff: what was expected, what
// matched, why a missing rule did not match, and the message that lacks a
// fragment.
func TestRuleTestsDiff(t *testing.T) {
	b := buildConfig(t, dryRunConfig)
	path := writeTests(t, `tests:
  - name: passes
    receiver: fax
    body_file: busy.form
    expect:
      rules: [failed-faxes, first-failure]
      messages: {failed-faxes: ["+1 212 555 1234"]}
  - name: fails
    receiver: fax
    body_file: busy.form
    previous_status: failure
    expect:
      rules: [first-failure, sms]
      messages: {failed-faxes: [retried]}
  - name: refused
    receiver: fax
    verify: true
    body_file: busy.form
    expect: {rules: []}
`)
	tests, err := LoadRuleTests(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if FormatRuleTestResults(&out, "tests.yaml", b.RunRuleTests(tests)) {
		t.Fatalf("passed:\n%s", out.String())
	}
	want := `ok    passes
FAIL  fails (tests.yaml:8)
      rules: want [first-failure, sms]
              got [failed-faxes]
        - first-failure did not match: false: previous_status != "failure" (previous_status = "failure")
        - sms did not match: false: source == "telesign" (source = "interfax")
        + failed-faxes matched, not expected
      message of failed-faxes lacks "retried":
        title: Fax to +1 212 555 1234 failed
        text:  busy (code 263) · 0 of 2 pages sent · 4 tries · interfax fax.outbound 664598111 · at 2024-06-23T17:23:13Z
FAIL  refused (tests.yaml:15)
      the service would answer 401: unauthorized (no token in the query or basic auth)
tests.yaml: 2 of 3 tests failed
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

func TestLoadRuleTestsErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown key", "tests:\n  - name: a\n    receiver: fax\n    body: x\n    expect: {rules: []}\n    expected: {}\n", `tests.yaml:6: test #1: unknown key "expected" (did you mean "expect"?)`},
		{"missing expect.rules", "tests:\n  - name: a\n    receiver: fax\n    body: x\n", `tests.yaml:2: test "a": missing expect.rules (use [] to expect no match)`},
		{"no body", "tests:\n  - {name: a, receiver: fax, expect: {rules: []}}\n", `tests.yaml:2: test "a": missing body or body_file`},
		{"missing body file", "tests:\n  - {name: a, receiver: fax, body_file: nope.txt, expect: {rules: []}}\n", `tests.yaml:2: test "a": body_file nope.txt: no such file or directory`},
		{"no tests", "tests: []\n", "tests: want a list of test cases"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadRuleTests(writeTests(t, tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

// Rule tests assert which expectations a callback starts and stops, and a
// wrong list is reported as a diff.
func TestRuleTestsExpectations(t *testing.T) {
	b, err := Load(filepath.Join("..", "..", "rules.example.yaml"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	path := writeTests(t, `tests:
  - name: wrong
    receiver: telesign
    body: '{"status": {"code": 290, "description": "Message in progress"}, "reference_id": "R1", "sub_resource": "sms"}'
    expect:
      rules: []
      starts: []
      stops: [sms-final-within-15m]
`)
	tests, err := LoadRuleTests(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	FormatRuleTestResults(&out, "tests.yaml", b.RunRuleTests(tests))
	want := `FAIL  wrong (tests.yaml:2)
      starts: want []
              got [sms-final-within-15m]
      stops: want [sms-final-within-15m]
              got []
tests.yaml: 1 of 1 tests failed
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}
