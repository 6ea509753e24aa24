package rules

import (
	"testing"
)

func TestExplain(t *testing.T) {
	f := mustParse(t, routingSinks+`rules:
  - {name: telesign-only, when: 'source == "telesign" && status == "failure"', to: [a]}
  - {name: many-tries, when: 'status == "failure" && data.TrialsPerformed >= 5 && data.DestinationFax startsWith "0044"', to: [a]}
  - {name: either, when: 'code == 1 || code == 2', to: [a]}
  - {name: broken, when: 'data.DestinationFax > 5', to: [a]}
  - {name: first-failure, when: 'status == "failure" && previous_status != "failure"', to: [b], stop: true}
  - {name: after-stop, when: 'true', to: [c]}
`)
	got := f.Router.Explain(failedFax())
	want := []Explanation{
		{Rule: "telesign-only", Reason: `false: source == "telesign" (source = "interfax")`},
		{Rule: "many-tries", Reason: `false: data.TrialsPerformed >= 5 (data.TrialsPerformed = 4); data.DestinationFax startsWith "0044" (data.DestinationFax = "0012125551234")`},
		{Rule: "either", Reason: `false: code == 1 || code == 2 (code = 263)`},
		{Rule: "broken", Reason: "condition failed on this event (counts as no match): invalid operation: string > int (1:21)"},
		{Rule: "first-failure", Matched: true},
		{Rule: "after-stop", Reason: `not evaluated: rule "first-failure" matched first and has stop: true`},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d explanations, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rule %s:\n got %+v\nwant %+v", want[i].Rule, got[i], want[i])
		}
	}
	// Explain agrees with Route on what matched.
	res := f.Router.Route(failedFax())
	if len(res.Matched) != 1 || res.Matched[0] != "first-failure" {
		t.Errorf("Route matched %v", res.Matched)
	}
}
