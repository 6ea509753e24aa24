package rules

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

func mustParse(t testing.TB, src string) *File {
	t.Helper()
	f, err := Parse("rules.yaml", strings.NewReader(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func failedFax() *event.Event {
	return &event.Event{
		ID: "evt_1", Source: "interfax", Type: "fax.outbound", Receiver: "interfax", Subject: "664598111",
		Status: event.StatusFailure, Final: true, Code: 263, Description: "busy",
		Time: time.Date(2024, 6, 23, 17, 23, 13, 0, time.UTC),
		Data: map[string]any{"DestinationFax": "0012125551234", "TrialsPerformed": 4, "PagesSent": 0, "PagesSubmitted": 2},
	}
}

const routingSinks = "sinks:\n  a: {type: log}\n  b: {type: log}\n  c: {type: log}\n"

func TestRoute(t *testing.T) {
	tests := []struct {
		name    string
		rules   string
		ev      func(*event.Event)
		matched []string
		sinks   []string // "rule/sink" in order
		errs    []string // rules that failed at run time
		stopped string
	}{
		{
			name:    "every match fires in order",
			rules:   "- {name: r1, when: 'status == \"failure\"', to: [a, b]}\n- {name: r2, when: 'source == \"telesign\"', to: [c]}\n- {name: r3, when: final, to: [c]}\n",
			matched: []string{"r1", "r3"},
			sinks:   []string{"r1/a", "r1/b", "r3/c"},
		},
		{
			name:    "stop ends evaluation",
			rules:   "- {name: r1, when: 'code == 263', to: [a], stop: true}\n- {name: r2, when: 'true', to: [b]}\n",
			matched: []string{"r1"},
			sinks:   []string{"r1/a"},
			stopped: "r1",
		},
		{
			name:    "stop on a rule that does not match does nothing",
			rules:   "- {name: r1, when: 'code == 0', to: [a], stop: true}\n- {name: r2, when: 'true', to: [b]}\n",
			matched: []string{"r2"},
			sinks:   []string{"r2/b"},
		},
		{
			name:    "data fields and previous status",
			rules:   "- {name: r1, when: 'data.TrialsPerformed >= 4 && previous_status != \"failure\"', to: [a]}\n- {name: r2, when: 'previous_status == \"failure\"', to: [b]}\n",
			ev:      func(e *event.Event) { e.PreviousStatus = "pending" },
			matched: []string{"r1"},
			sinks:   []string{"r1/a"},
		},
		{
			name:    "stale events",
			rules:   "- {name: fresh, when: '!stale', to: [a]}\n- {name: old, when: stale, to: [b]}\n",
			ev:      func(e *event.Event) { e.Stale = true },
			matched: []string{"old"},
			sinks:   []string{"old/b"},
		},
		{
			name:    "runtime error in one rule, others still run",
			rules:   "- {name: bad, when: 'data.DestinationFax > 5', to: [a]}\n- {name: good, when: 'true', to: [b]}\n",
			matched: []string{"good"},
			sinks:   []string{"good/b"},
			errs:    []string{"bad"},
		},
		{
			name:    "no rules match",
			rules:   "- {name: r1, when: 'source == \"telesign\"', to: [a]}\n",
			matched: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := mustParse(t, routingSinks+"rules:\n"+indentLines(tc.rules))
			ev := failedFax()
			if tc.ev != nil {
				tc.ev(ev)
			}
			res := f.Router.Route(ev)
			if !slices.Equal(res.Matched, tc.matched) {
				t.Errorf("matched = %v, want %v", res.Matched, tc.matched)
			}
			var sinks []string
			for _, m := range res.Matches {
				sinks = append(sinks, m.Rule+"/"+m.Sink)
			}
			if !slices.Equal(sinks, tc.sinks) {
				t.Errorf("deliveries = %v, want %v", sinks, tc.sinks)
			}
			var errs []string
			for _, e := range res.Errors {
				errs = append(errs, e.Rule)
			}
			if !slices.Equal(errs, tc.errs) {
				t.Errorf("errors = %v, want %v", res.Errors, tc.errs)
			}
			if res.Stopped != tc.stopped {
				t.Errorf("stopped = %q, want %q", res.Stopped, tc.stopped)
			}
		})
	}
}

func indentLines(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

func TestRender(t *testing.T) {
	f := mustParse(t, routingSinks+`rules:
  - name: templated
    when: "true"
    to: [a]
    title: 'Fax to {{ phone .data.DestinationFax }} failed'
    text: '{{ .description }} after {{ .data.TrialsPerformed }} tries ({{ .subject }}), contact {{ .data.Contact | default "n/a" }}'
  - name: plain
    when: "true"
    to: [b]
  - name: broken
    when: "true"
    to: [c]
    text: '{{ index .data.DestinationFax 99 }}'
`)
	ev := failedFax()
	res := f.Router.Route(ev)
	if len(res.Matches) != 3 {
		t.Fatalf("matches = %+v", res.Matches)
	}
	tm, plain, broken := res.Matches[0], res.Matches[1], res.Matches[2]
	if tm.Title != "Fax to +1 212 555 1234 failed" || tm.Text != "busy after 4 tries (664598111), contact n/a" || !tm.Templated {
		t.Errorf("templated = %+v", tm)
	}
	// Without templates, the event's default message (its wording is the
	// receiver's: receivers/*/kinds_test.go).
	if plain.Title != ev.Title() || plain.Text != ev.Text() || plain.Templated {
		t.Errorf("default = %q / %q, want %q / %q", plain.Title, plain.Text, ev.Title(), ev.Text())
	}
	if broken.Text != plain.Text || len(res.Errors) != 1 || res.Errors[0].Rule != "broken" {
		t.Errorf("a failing template must fall back to the default and be reported: %+v %v", broken, res.Errors)
	}
}

// BenchmarkRoute100 evaluates 100 rules against one event; the figures go
// into the README (target: under 50µs, no allocations per rule).
func BenchmarkRoute100(b *testing.B) {
	var src strings.Builder
	src.WriteString(routingSinks + "rules:\n")
	for i := 0; i < 100; i++ {
		// None match, so the cost is the conditions alone, as in a large
		// config where most rules do not apply to a given event.
		fmt.Fprintf(&src, "  - {name: r%d, when: 'source == \"telesign\" && status == \"failure\" && code == %d || data.Missing == \"x%d\"', to: [a]}\n", i, i, i)
	}
	f := mustParse(b, src.String())
	ev := failedFax()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.Router.Route(ev)
	}
}
