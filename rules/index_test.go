package rules

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

func TestConstraints(t *testing.T) {
	tests := []struct {
		when string
		want string // field=v1|v2 … in field order; "" for no constraint
	}{
		{`source == "interfax"`, "source=interfax"},
		{`"interfax" == source && status == "failure"`, "source=interfax status=failure"},
		{`type in ["sms", "sms.verify"] and final`, "type=sms|sms.verify final=true"},
		{`status == "failure" || status == "pending"`, "status=failure|pending"},
		{`(status == "failure" || status in ["pending"]) && receiver == "fax"`, "receiver=fax status=failure|pending"},
		{`status == "failure" && status in ["failure", "pending"]`, "status=failure"},
		{`status == "failure" && status == "success"`, "status="},
		{`source in [] && status == "failure"`, "source= status=failure"},
		{`!final`, "final=false"},
		{`not stale && final == false`, "final=false stale=false"},
		{`!(final == false) && true == stale`, "final=true stale=true"},
		{`true && source == "telesign"`, "source=telesign"},
		// Safe clauses that the index does not use keep the prefix going.
		{`code == 263 && previous_status != "failure" && source == "telesign"`, "source=telesign"},
		{`code in [1, 2] && code in 1..5 && code >= 1 && description == "busy" && type == "sms"`, "type=sms"},
		{`(code == 1 || !stale) && subject != "" && source not in ["x"] && status == "failure"`, "status=failure"},
		// A clause that may fail ends the prefix: later ones are not used.
		{`data.TrialsPerformed >= 4 && source == "telesign"`, ""},
		{`source == "telesign" && data.TrialsPerformed >= 4 && status == "failure"`, "source=telesign"},
		{`source startsWith "tele" && status == "failure"`, ""},
		{`time > received_at && source == "telesign"`, ""},
		{`code == 1.5 && source == "telesign"`, ""},
		// Clauses that allow every value but a set, or mix fields, or sit
		// under a top-level || or a let, constrain nothing.
		{`source != "interfax"`, ""},
		{`source not in ["interfax"]`, ""},
		{`!(source == "interfax")`, ""},
		{`source == "interfax" || type == "sms"`, ""},
		{`source == "telesign" || data.x == 1`, ""},
		{`source == "telesign" && type == "sms" || status == "failure"`, ""},
		{`let s = source; s == "telesign"`, ""},
		{`true`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.when, func(t *testing.T) {
			f := mustParse(t, routingSinks+"rules:\n  - {name: r, when: '"+tc.when+"', to: [a]}\n")
			got := constraints(f.Router.rules[0].program.Node())
			var parts []string
			for _, fd := range indexedFields {
				if vs, ok := got[fd.name]; ok {
					parts = append(parts, fd.name+"="+strings.Join(slices.Sorted(maps.Keys(vs)), "|"))
				}
			}
			if s := strings.Join(parts, " "); s != tc.want {
				t.Errorf("constraints = %q, want %q", s, tc.want)
			}
		})
	}
}

// The index must leave few candidates on a large configuration, or Route
// is no faster than evaluating every rule.
func TestIndexNarrows(t *testing.T) {
	f := mustParse(t, benchRules(1000))
	c := f.Router.index.candidates(failedFax(), len(f.Router.rules))
	n, prev := 0, -1
	for i, ok := c.next(); ok; i, ok = c.next() {
		if i <= prev {
			t.Fatalf("candidate %d after %d: not in rule order", i, prev)
		}
		n, prev = n+1, i
	}
	// 100 rules without an indexed prefix, 25 on status alone, about 25
	// four-clause ones for interfax fax.outbound failures and a few more.
	if n < 150 || n > 160 {
		t.Errorf("%d candidates of 1000 rules, want about 154", n)
	}
}

// A rule whose earlier clause fails at run time is still evaluated, and
// reports the failure, on an event its later indexed clause rejects.
func TestRouteIndexKeepsErrors(t *testing.T) {
	f := mustParse(t, routingSinks+`rules:
  - {name: fails-first, when: 'data.DestinationFax > 5 && source == "telesign"', to: [a]}
  - {name: indexed-first, when: 'source == "telesign" && data.DestinationFax > 5', to: [a]}
  - {name: fails-later, when: 'source == "interfax" && data.DestinationFax > 5', to: [a]}
  - {name: stops, when: 'status == "failure" && final', to: [b], stop: true}
  - {name: after-stop, when: 'source == "interfax"', to: [c]}
`)
	res := f.Router.Route(failedFax())
	var errs []string
	for _, e := range res.Errors {
		errs = append(errs, e.Rule)
	}
	if want := []string{"fails-first", "fails-later"}; !slices.Equal(errs, want) {
		t.Errorf("errors from %v, want %v", errs, want)
	}
	if !slices.Equal(res.Matched, []string{"stops"}) || res.Stopped != "stops" {
		t.Errorf("matched %v, stopped %q", res.Matched, res.Stopped)
	}
	compareResults(t, res, routeEveryRule(f.Router, failedFax()))
}

// TestRouteIndexEquivalence routes generated events through generated
// configurations and compares Route with evaluating every rule.
func TestRouteIndexEquivalence(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 4))
	indexed := 0
	for i := range 300 {
		b := make([]byte, 256)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if checkEquivalence(t, fmt.Sprintf("case %d", i), b) {
			indexed++
		}
	}
	// The generator must exercise the index, or this test cannot fail.
	if indexed < 200 {
		t.Errorf("only %d of 300 generated configurations have an index", indexed)
	}
}

// FuzzRouteIndexEquivalence is TestRouteIndexEquivalence driven by the
// fuzzer: the bytes choose the rules, their clauses and the events.
func FuzzRouteIndexEquivalence(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x05\x00\x01\x02\x03\x06\x07\x08\x10\x21\x32\x43\x54\x65\x76\x87\x98\xa9"))
	f.Add([]byte("stop: true, data.DestinationFax > 5 && source == \"telesign\""))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkEquivalence(t, "fuzz", b)
	})
}

// checkEquivalence builds a configuration and events from b, routes each
// event both ways and fails t on a difference. It reports whether the
// configuration has an index.
func checkEquivalence(t *testing.T, name string, b []byte) bool {
	t.Helper()
	g := &ruleGen{b: b}
	src := g.config()
	f, err := Parse("gen.yaml", strings.NewReader(src), env(nil))
	if err != nil {
		t.Fatalf("%s: generated configuration does not load: %v\n%s", name, err, src)
	}
	for range 8 {
		ev := g.event()
		got, want := f.Router.Route(ev), routeEveryRule(f.Router, ev)
		if !compareResults(t, got, want) {
			t.Fatalf("%s: Route differs from evaluating every rule on %+v\n%s", name, *ev, src)
		}
	}
	return f.Router.index != nil
}

// routeEveryRule is Route without the index: every rule is a candidate,
// in order.
func routeEveryRule(r *Router, ev *event.Event) Result {
	return (&Router{rules: r.rules, expects: r.expects, threads: r.threads}).Route(ev)
}

func compareResults(t *testing.T, got, want Result) bool {
	t.Helper()
	ok := true
	if !slices.Equal(got.Matched, want.Matched) || got.Stopped != want.Stopped {
		t.Errorf("matched %v stopped %q, want %v stopped %q", got.Matched, got.Stopped, want.Matched, want.Stopped)
		ok = false
	}
	errText := func(es []RuleError) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Error())
		}
		return out
	}
	if g, w := errText(got.Errors), errText(want.Errors); !slices.Equal(g, w) {
		t.Errorf("errors\n%q\nwant\n%q", g, w)
		ok = false
	}
	if len(got.Matches) != len(want.Matches) {
		t.Errorf("%d matches, want %d", len(got.Matches), len(want.Matches))
		return false
	}
	for i, g := range got.Matches {
		w := want.Matches[i]
		if (g.Render == nil) != (w.Render == nil) {
			t.Errorf("match %d: Render set %v, want %v", i, g.Render != nil, w.Render != nil)
			ok = false
		} else if g.Render != nil {
			gt, gx := g.Render(2)
			wt, wx := w.Render(2)
			if gt != wt || gx != wx {
				t.Errorf("match %d: Render(2) = %q, %q, want %q, %q", i, gt, gx, wt, wx)
				ok = false
			}
		}
		type plain struct {
			rule, sink, title, text string
			templated               bool
			key                     string
			window                  time.Duration
		}
		pg := plain{g.Rule, g.Sink, g.Title, g.Text, g.Templated, g.ThrottleKey, g.Window}
		pw := plain{w.Rule, w.Sink, w.Title, w.Text, w.Templated, w.ThrottleKey, w.Window}
		if pg != pw {
			t.Errorf("match %d: %+v, want %+v", i, pg, pw)
			ok = false
		}
	}
	return ok
}

// ruleGen turns bytes into rules and events; past the end of its bytes it
// reads zeros, so every input, the empty one too, makes a configuration.
type ruleGen struct {
	b []byte
	i int
}

func (g *ruleGen) n(k int) int {
	if g.i >= len(g.b) {
		return 0
	}
	g.i++
	return int(g.b[g.i-1]) % k
}

func (g *ruleGen) pick(vs []string) string { return vs[g.n(len(vs))] }

var genValues = map[string][]string{
	"source":   {"interfax", "telesign", "other"},
	"type":     {"fax.outbound", "sms", "sms.verify", "voice.event"},
	"status":   {"failure", "success", "pending", "unknown"},
	"receiver": {"fax", "sms", ""},
}

var genFields = []string{"source", "type", "status", "receiver"}

func (g *ruleGen) config() string {
	var b strings.Builder
	b.WriteString(routingSinks + "rules:\n")
	for i := range 1 + g.n(12) {
		fmt.Fprintf(&b, "  - {name: r%d, when: '%s', to: [a", i, g.when())
		if g.n(3) == 0 {
			b.WriteString(", b")
		}
		b.WriteString("]")
		switch g.n(8) {
		case 0:
			b.WriteString(", stop: true")
		case 1:
			b.WriteString(", throttle: {key: 'subject', window: 1m}")
		case 2:
			b.WriteString(", title: '{{ .status }} {{ .data.DestinationFax }}'")
		}
		b.WriteString("}\n")
	}
	return b.String()
}

func (g *ruleGen) when() string {
	conj := func() string {
		var cs []string
		for range 1 + g.n(4) {
			cs = append(cs, g.clause(2))
		}
		return strings.Join(cs, g.pick([]string{" && ", " and ", " && "}))
	}
	switch g.n(10) {
	case 0:
		return conj() + " || " + conj()
	case 1:
		return "let x = 1; " + conj()
	default:
		return conj()
	}
}

// clause makes one condition clause: indexable ones, safe ones the index
// does not use, and ones that fail at run time on some events.
func (g *ruleGen) clause(depth int) string {
	field := g.pick(genFields)
	v := func() string { return `"` + g.pick(genValues[field]) + `"` }
	switch k := g.n(12); {
	case k == 0:
		return field + " == " + v()
	case k == 1:
		return v() + " == " + field
	case k == 2:
		var vs []string
		for range g.n(4) {
			vs = append(vs, v())
		}
		return field + " in [" + strings.Join(vs, ", ") + "]"
	case k == 3:
		return field + " == " + v() + " || " + field + " == " + v()
	case k == 4:
		return g.pick([]string{"final", "!final", "stale", "not stale", "final == true", "false == stale", "!(final == false)"})
	case k == 5:
		return g.pick([]string{"code == 263", "code in [1, 263]", "code >= 200", `previous_status != "failure"`, `description == "busy"`, "code in 1..300", `subject != ""`})
	case k == 6, k == 7:
		return g.pick([]string{
			"data.DestinationFax > 5", "data.TrialsPerformed >= 4", `data.Missing == "x"`,
			"data.nested.x == 1", "len(data.Contact) > 3", `data.DestinationFax startsWith "00"`,
		})
	case k == 8:
		return g.pick([]string{field + " != " + v(), field + " not in [" + v() + "]", "!(" + field + " == " + v() + ")"})
	case k == 9 && depth > 0:
		op := g.pick([]string{" || ", " && "})
		return "(" + g.clause(depth-1) + op + g.clause(depth-1) + ")"
	case k == 10:
		return g.pick([]string{"true", "false"})
	default:
		return field + " == " + v()
	}
}

func (g *ruleGen) event() *event.Event {
	pick := func(field string) string {
		vs := genValues[field]
		return append(vs[:len(vs):len(vs)], "zzz")[g.n(len(vs)+1)]
	}
	ev := &event.Event{
		ID: "evt_1", Source: pick("source"), Type: pick("type"), Status: pick("status"), Receiver: pick("receiver"),
		Subject: g.pick([]string{"664598111", ""}), Final: g.n(2) == 0, Stale: g.n(3) == 0,
		PreviousStatus: g.pick([]string{"", "failure", "pending"}), Code: []int{0, 1, 263, 300}[g.n(4)],
		Description: g.pick([]string{"busy", "ok"}),
		Data:        map[string]any{},
	}
	switch g.n(3) {
	case 0:
		ev.Data["DestinationFax"] = "0012125551234"
	case 1:
		ev.Data["DestinationFax"] = 7
	}
	switch g.n(3) {
	case 0:
		ev.Data["TrialsPerformed"] = 4
	case 1:
		ev.Data["TrialsPerformed"] = "4"
	}
	switch g.n(3) {
	case 0:
		ev.Data["nested"] = map[string]any{"x": 1}
	case 1:
		ev.Data["Contact"] = "ops@example.com"
	}
	return ev
}
