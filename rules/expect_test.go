package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/event"
)

const expectConfig = `
expect_grace: 30s
receivers:
  fax: {type: interfax, token: x, expect_traffic: 30m}
sinks:
  audit: {type: log}
rules:
  - {name: missed, when: type == "expectation.missed", to: [audit]}
expect:
  - name: sms-final
    after: type == "sms" && status == "pending"
    then: final
    within: 15m
  - name: fax-final
    after: source == "interfax" && !final
    then: final
    within: 1h
`

func TestExpectations(t *testing.T) {
	f, err := Parse("rules.yaml", strings.NewReader(expectConfig), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(f.ExpectGrace) != 30*time.Second || f.Receivers[0].ExpectTraffic != 30*time.Minute {
		t.Errorf("expect_grace %v, expect_traffic %v", time.Duration(f.ExpectGrace), f.Receivers[0].ExpectTraffic)
	}
	if xs := f.Router.Expectations(); len(xs) != 2 || xs[0].Name != "sms-final" || xs[0].Within != 15*time.Minute {
		t.Fatalf("expectations = %+v", xs)
	}
	for _, tc := range []struct {
		name string
		ev   event.Event
		want []ExpectAction
	}{
		{"pending sms starts", event.Event{Source: "telesign", Type: "sms", Subject: "R1", Status: "pending"},
			[]ExpectAction{{Expectation: "sms-final", Start: true, Within: 15 * time.Minute}}},
		{"without a subject, neither starts nor stops", event.Event{Source: "telesign", Type: "sms", Status: "pending"}, nil},
		{"nor with history", event.Event{Source: "telesign", Type: "sms", Status: "success", Final: true, PreviousStatus: "pending"}, nil},
		{"final sms stops both", event.Event{Source: "telesign", Type: "sms", Subject: "R1", Status: "success", Final: true, PreviousStatus: "pending"},
			[]ExpectAction{{Expectation: "sms-final"}, {Expectation: "fax-final"}}},
		{"the first event of a subject has no timer to stop", event.Event{Source: "telesign", Type: "sms", Subject: "R2", Status: "success", Final: true}, nil},
		{"stale pending starts nothing", event.Event{Source: "telesign", Type: "sms", Subject: "R1", Status: "pending", Stale: true}, nil},
		{"fax in progress starts", event.Event{Source: "interfax", Type: "fax.outbound", Subject: "F1", Status: "pending"},
			[]ExpectAction{{Expectation: "fax-final", Start: true, Within: time.Hour}}},
		{"own events neither start nor stop", event.Event{Source: Source, Type: "expectation.missed", Status: "pending", Final: true}, nil},
		{"unrelated", event.Event{Source: "telesign", Type: "sms.inbound", Subject: "R3", Status: "success"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			ev.Data = map[string]any{}
			res := f.Router.Route(&ev)
			if len(res.Expect) != len(tc.want) {
				t.Fatalf("Expect = %+v, want %+v", res.Expect, tc.want)
			}
			for i := range tc.want {
				if res.Expect[i] != tc.want[i] {
					t.Errorf("Expect[%d] = %+v, want %+v", i, res.Expect[i], tc.want[i])
				}
			}
		})
	}
	// Without expectations, an event no rule can match costs no routing.
	plain, err := Parse("rules.yaml", strings.NewReader(strings.Split(expectConfig, "expect:\n  -")[0]), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if res := plain.Router.Route(&event.Event{Source: "telesign", Type: "sms", Status: "pending"}); res.Expect != nil {
		t.Errorf("Expect without expectations = %+v", res.Expect)
	}
}

func TestExpectationErrors(t *testing.T) {
	src := `sinks:
  audit: {type: log}
expect:
  - name: a
    after: status == 1
    then: final
    within: 15m
  - name: a
    after: "true"
    then: final
    within: 1m
  - name: b
    after: "true"
    then: nope
  - after: "true"
    then: final
    within: 1m
    extra: 1
expect_traffic: 1m
`
	es := parseErrs(t, src, nil)
	want := []struct {
		line int
		has  string
	}{
		{5, `expectation "a": after:`},
		{8, `expectation "a": duplicate expectation name (first defined on line 4)`},
		{12, `expectation "b": within is required`},
		{14, `expectation "b": then:`},
		{18, `unknown key "extra"`},
		{19, `expect_traffic`},
	}
	for _, w := range want {
		if !hasError(es, w.line, w.has) {
			t.Errorf("no error at line %d with %q in:\n%v", w.line, w.has, es)
		}
	}
}

func hasError(es config.Errors, line int, has string) bool {
	for _, e := range es {
		if e.Line == line && strings.Contains(e.Error(), has) {
			return true
		}
	}
	return false
}

// An event that matches both after and then is the one that was waited
// for, also when it is the first of its transaction (the single final
// callback of most faxes): it starts no timer, which would fire a false
// expectation.missed.
func TestExpectationThenWinsOnFirstEvent(t *testing.T) {
	src := `sinks:
  audit: {type: log}
expect:
  - name: fax-final
    after: type == "fax.outbound"
    then: final
    within: 1h
`
	f, err := Parse("rules.yaml", strings.NewReader(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ev   event.Event
		want []ExpectAction
	}{
		{"first and final", event.Event{Source: "interfax", Type: "fax.outbound", Subject: "F1", Status: "success", Final: true}, nil},
		{"first in progress", event.Event{Source: "interfax", Type: "fax.outbound", Subject: "F1", Status: "pending"},
			[]ExpectAction{{Expectation: "fax-final", Start: true, Within: time.Hour}}},
		{"final after progress", event.Event{Source: "interfax", Type: "fax.outbound", Subject: "F1", Status: "failure", Final: true, PreviousStatus: "pending"},
			[]ExpectAction{{Expectation: "fax-final"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			ev.Data = map[string]any{}
			res := f.Router.Route(&ev)
			if fmt.Sprint(res.Expect) != fmt.Sprint(tc.want) {
				t.Errorf("Expect = %+v, want %+v", res.Expect, tc.want)
			}
		})
	}
}
