package app

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchboard/switchboard/internal/config"
)

// RuleTest is one case of a rule tests file (switchboard check --tests): a
// recorded callback and the rules it must match.
type RuleTest struct {
	Name     string `yaml:"name"`
	Receiver string `yaml:"receiver"`
	// Body is the callback body inline; BodyFile names a file holding it,
	// relative to the tests file. One of the two is required.
	Body     string `yaml:"body"`
	BodyFile string `yaml:"body_file"`
	// ContentType defaults to a guess from the body.
	ContentType string            `yaml:"content_type"`
	Headers     map[string]string `yaml:"headers"`
	Query       string            `yaml:"query"`
	// Verify runs the receiver's signature or token check; off by
	// default, since recorded bodies rarely carry valid credentials.
	Verify bool `yaml:"verify"`
	// PreviousStatus and Stale stand in for the transaction's history.
	PreviousStatus string `yaml:"previous_status"`
	Stale          bool   `yaml:"stale"`
	Expect         Expect `yaml:"expect"`

	Line int    `yaml:"-"`
	body []byte // loaded
}

// Expect is what a rule test requires.
type Expect struct {
	// Rules is the exact list of rules that must match, in order (for a
	// body with several events, each event's matches one after the other).
	// Required: [] expects no match.
	Rules *[]string `yaml:"rules"`
	// Messages maps a rule to text fragments its rendered message (title or
	// text) must contain.
	Messages map[string][]string `yaml:"messages"`
	// Requests maps a rule (every webhook request it makes) or "rule/sink"
	// (one) to what its webhook requests must carry.
	Requests map[string]RequestExpect `yaml:"requests"`
	// Starts and Stops, when given, are the exact lists of expectations
	// whose timers the callback's events start and stop.
	Starts *[]string `yaml:"starts"`
	Stops  *[]string `yaml:"stops"`
}

type ruleTestsFile struct {
	Tests yaml.Node `yaml:"tests"`
}

// LoadRuleTests reads a rule tests file strictly. Errors name the file and
// line.
func LoadRuleTests(path string) ([]*RuleTest, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tests: %w", err)
	}
	errs := func(es config.Errors) error {
		for _, e := range es {
			e.File = path
		}
		return es
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, errs(config.YAMLErrors(err, 0))
	}
	var top ruleTestsFile
	if len(doc.Content) == 0 {
		return nil, errs(config.Errors{config.Errorf(0, "", "empty tests file: want tests: [...]")})
	}
	if err := config.Decode(&doc, &top); err != nil {
		return nil, errs(config.AsErrors(err, 0, ""))
	}
	if top.Tests.Kind != yaml.SequenceNode || len(top.Tests.Content) == 0 {
		return nil, errs(config.Errors{config.Errorf(top.Tests.Line, "", "tests: want a list of test cases")})
	}
	var tests []*RuleTest
	var all config.Errors
	for i, n := range top.Tests.Content {
		tc := &RuleTest{Line: n.Line}
		section := fmt.Sprintf("test #%d", i+1)
		if err := config.Decode(n, tc); err != nil {
			all = append(all, config.AsErrors(err, n.Line, section)...)
			continue
		}
		if tc.Name != "" {
			section = fmt.Sprintf("test %q", tc.Name)
		} else {
			tc.Name = section
		}
		add := func(format string, args ...any) { all = append(all, config.Errorf(n.Line, section, format, args...)) }
		if tc.Receiver == "" {
			add("missing receiver")
		}
		switch {
		case tc.Body != "" && tc.BodyFile != "":
			add("body and body_file are exclusive")
		case tc.BodyFile != "":
			f := tc.BodyFile
			if !filepath.IsAbs(f) {
				f = filepath.Join(filepath.Dir(path), f)
			}
			if tc.body, err = os.ReadFile(f); err != nil {
				add("body_file %s: %v", tc.BodyFile, errors.Unwrap(err))
			}
		case tc.Body != "":
			tc.body = []byte(tc.Body)
		default:
			add("missing body or body_file")
		}
		if tc.Expect.Rules == nil {
			add("missing expect.rules (use [] to expect no match)")
		}
		tests = append(tests, tc)
	}
	if len(all) > 0 {
		return nil, errs(all)
	}
	return tests, nil
}

// RuleTestResult is the outcome of one rule test.
type RuleTestResult struct {
	Test *RuleTest
	// Problems describe each mismatch, readable as a diff; empty when the
	// test passed.
	Problems []string
}

// Passed reports whether the test passed.
func (r RuleTestResult) Passed() bool { return len(r.Problems) == 0 }

// RunRuleTests runs each test as a dry run (see DryRun) against b.
func (b *Built) RunRuleTests(tests []*RuleTest) []RuleTestResult {
	out := make([]RuleTestResult, 0, len(tests))
	// A fixed time keeps rendered messages stable between runs.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range tests {
		res := RuleTestResult{Test: tc}
		h := http.Header{}
		for k, v := range tc.Headers {
			h.Set(k, v)
		}
		dr, err := b.DryRun(DryRunRequest{Receiver: tc.Receiver, Body: tc.body, ContentType: tc.ContentType, Header: h,
			Query: tc.Query, SkipVerify: !tc.Verify, PreviousStatus: tc.PreviousStatus, Stale: tc.Stale, Now: now})
		switch {
		case err != nil:
			res.Problems = append(res.Problems, err.Error())
		case dr.Status != http.StatusOK:
			res.Problems = append(res.Problems, fmt.Sprintf("the service would answer %d: %s", dr.Status, dr.Error))
		default:
			res.Problems = checkExpect(tc.Expect, dr)
		}
		out = append(out, res)
	}
	return out
}

// checkExpect compares a dry run with the expectations and describes every
// difference.
func checkExpect(exp Expect, dr *DryRunResult) []string {
	var got []string
	why := map[string]string{} // rule → why it did not match (last event)
	msgs := map[string][]DryRunMessage{}
	for _, ev := range dr.Events {
		got = append(got, ev.Matched...)
		for _, x := range ev.Rules {
			if !x.Matched {
				why[x.Rule] = x.Reason
			}
		}
		for _, m := range ev.Messages {
			msgs[m.Rule] = append(msgs[m.Rule], m)
		}
	}
	want := *exp.Rules
	var problems []string
	if !slices.Equal(got, want) {
		var b strings.Builder
		fmt.Fprintf(&b, "rules: want %s\n        got %s", list(want), list(got))
		for _, r := range want {
			if !slices.Contains(got, r) {
				reason := why[r]
				if reason == "" {
					reason = "no such rule"
				}
				fmt.Fprintf(&b, "\n  - %s did not match: %s", r, reason)
			}
		}
		for _, r := range got {
			if !slices.Contains(want, r) {
				fmt.Fprintf(&b, "\n  + %s matched, not expected", r)
			}
		}
		problems = append(problems, b.String())
	}
	for _, rule := range sortedKeys(exp.Messages) {
		ms := msgs[rule]
		if len(ms) == 0 {
			problems = append(problems, fmt.Sprintf("message of %s: none, the rule did not match", rule))
			continue
		}
		m := ms[0] // every sink of a rule gets the same title and text
		for _, frag := range exp.Messages[rule] {
			if !strings.Contains(m.Title, frag) && !strings.Contains(m.Text, frag) {
				problems = append(problems, fmt.Sprintf("message of %s lacks %q:\n  title: %s\n  text:  %s",
					rule, frag, m.Title, strings.ReplaceAll(m.Text, "\n", "\n         ")))
			}
		}
	}
	problems = append(problems, checkTimers(exp, dr)...)
	return append(problems, checkRequests(exp.Requests, dr)...)
}

// checkTimers compares the expectations the events start and stop with
// those the test names.
func checkTimers(exp Expect, dr *DryRunResult) []string {
	var starts, stops []string
	for _, ev := range dr.Events {
		for _, x := range ev.Expectations {
			if x.Action == "start" {
				starts = append(starts, x.Expectation)
			} else {
				stops = append(stops, x.Expectation)
			}
		}
	}
	var problems []string
	for _, c := range []struct {
		what string
		want *[]string
		got  []string
	}{{"starts", exp.Starts, starts}, {"stops", exp.Stops, stops}} {
		if c.want != nil && !slices.Equal(*c.want, c.got) {
			problems = append(problems, fmt.Sprintf("%s: want %s\n        got %s", c.what, list(*c.want), list(c.got)))
		}
	}
	return problems
}

func list(s []string) string {
	if len(s) == 0 {
		return "[]"
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// FormatRuleTestResults writes results like go test -v: one line per test,
// the problems of failed ones indented under it, and a summary. It reports
// whether all passed.
func FormatRuleTestResults(w io.Writer, path string, results []RuleTestResult) bool {
	failed := 0
	for _, r := range results {
		if r.Passed() {
			fmt.Fprintf(w, "ok    %s\n", r.Test.Name)
			continue
		}
		failed++
		fmt.Fprintf(w, "FAIL  %s (%s:%d)\n", r.Test.Name, path, r.Test.Line)
		for _, p := range r.Problems {
			fmt.Fprintf(w, "      %s\n", strings.ReplaceAll(p, "\n", "\n      "))
		}
	}
	if failed > 0 {
		fmt.Fprintf(w, "%s: %d of %d tests failed\n", path, failed, len(results))
		return false
	}
	fmt.Fprintf(w, "%s: all %d tests passed\n", path, len(results))
	return true
}
