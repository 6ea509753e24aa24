package rules

import (
	"fmt"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/event"
)

// Source is the source of the events Switchboard makes itself: a missed
// expectation, a receiver gone silent or resumed. They are routed like
// vendor events but never start or stop expectations.
const Source = "switchboard"

// Expectation is one compiled entry of expect: an event matching After
// starts a timer for its source and subject (or keeps the one running); an
// event for the same subject matching Then stops it; a timer that runs for
// Within fires an expectation.missed event.
type Expectation struct {
	Name   string
	After  string
	Then   string
	Within time.Duration
	Line   int

	after, then *vm.Program
}

type expectSpec struct {
	Name   string          `yaml:"name"`
	After  string          `yaml:"after"`
	Then   string          `yaml:"then"`
	Within config.Duration `yaml:"within"`
}

// ExpectAction is what one event does to the timer of one expectation for
// its subject: start it (Start) or stop it.
type ExpectAction struct {
	Expectation string
	Start       bool
	// Within is the expectation's window, for a start.
	Within time.Duration
}

// Expectations returns the compiled expectations in configuration order.
func (r *Router) Expectations() []*Expectation { return r.expects }

func compileExpectations(n *yaml.Node) ([]*Expectation, config.Errors) {
	if n.Kind == 0 {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, config.Errors{config.Errorf(n.Line, "", "expect must be a list")}
	}
	var out []*Expectation
	var errs config.Errors
	seen := map[string]int{}
	for i, en := range n.Content {
		x, es := compileExpectation(i, en)
		errs = append(errs, es...)
		if x == nil {
			continue
		}
		if prev, dup := seen[x.Name]; dup && x.Name != "" {
			errs = append(errs, config.Errorf(x.Line, expectSection(x.Name, i), "duplicate expectation name (first defined on line %d)", prev))
			continue
		}
		seen[x.Name] = x.Line
		out = append(out, x)
	}
	return out, errs
}

func expectSection(name string, i int) string {
	if name == "" {
		return fmt.Sprintf("expectation #%d", i+1)
	}
	return fmt.Sprintf("expectation %q", name)
}

func compileExpectation(i int, n *yaml.Node) (*Expectation, config.Errors) {
	var spec expectSpec
	if n.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == "name" {
				spec.Name = n.Content[j+1].Value
			}
		}
	}
	section := expectSection(spec.Name, i)
	if err := config.Decode(n, &spec); err != nil {
		return nil, config.AsErrors(err, n.Line, section)
	}
	lines := keyLines(n)
	at := lineOf(lines, n)
	x := &Expectation{Name: spec.Name, After: spec.After, Then: spec.Then, Within: time.Duration(spec.Within), Line: n.Line}
	var errs config.Errors
	if spec.Name == "" {
		errs = append(errs, config.Errorf(n.Line, section, "missing name"))
	} else if !validName(spec.Name) {
		errs = append(errs, config.Errorf(at("name"), section, "invalid name: use letters, digits, '-' and '_'"))
	}
	if x.Within <= 0 {
		errs = append(errs, config.Errorf(at("within"), section, "within is required and must be positive (e.g. within: 15m)"))
	}
	for _, c := range []struct {
		key, src string
		prog     **vm.Program
	}{{"after", spec.After, &x.after}, {"then", spec.Then, &x.then}} {
		if strings.TrimSpace(c.src) == "" {
			errs = append(errs, config.Errorf(n.Line, section, "missing %s", c.key))
			continue
		}
		prog, err := expr.Compile(c.src, expr.Env(exprEnv), expr.AsBool())
		if err != nil {
			errs = append(errs, config.Errorf(at(c.key), section, "%s: %s", c.key, indentExprError(err)))
			continue
		}
		*c.prog = prog
	}
	return x, errs
}

// expect decides what ev does to each expectation's timer for its subject:
// a match of Then stops it (Then wins when both match: the event is the one
// that was waited for); otherwise a match of After starts it, unless the
// event is stale. Events of Switchboard's own making do neither, nor do
// events without a subject (a callback without its transaction id): they
// name no transaction to wait for, and would share one timer.
func (r *Router) expect(m *vm.VM, ev *event.Event, env map[string]any, res *Result) {
	if ev.Source == Source || ev.Subject == "" {
		return
	}
	// Only an event with history (an earlier one stored for its subject)
	// can find a timer to stop: the first event of a transaction, such as
	// the single final callback of most faxes, costs no DELETE. Its Then is
	// still asked when its After matches, so that it starts no timer for
	// what has already arrived.
	history := ev.PreviousStatus != "" || ev.Stale
	for _, x := range r.expects {
		var stop bool
		if history {
			var err error
			if stop, err = run(m, x.then, env); err != nil {
				res.Errors = append(res.Errors, RuleError{Rule: "expect " + x.Name, Err: fmt.Errorf("then: %w", err)})
			}
		}
		if stop {
			res.Expect = append(res.Expect, ExpectAction{Expectation: x.Name})
			continue
		}
		start, err := run(m, x.after, env)
		if err != nil {
			res.Errors = append(res.Errors, RuleError{Rule: "expect " + x.Name, Err: fmt.Errorf("after: %w", err)})
		}
		if !start || ev.Stale { // a late pending after the final status waits for nothing
			continue
		}
		if !history {
			if done, err := run(m, x.then, env); err != nil {
				res.Errors = append(res.Errors, RuleError{Rule: "expect " + x.Name, Err: fmt.Errorf("then: %w", err)})
			} else if done {
				continue // the event that was waited for: nothing to wait for
			}
		}
		res.Expect = append(res.Expect, ExpectAction{Expectation: x.Name, Start: true, Within: x.Within})
	}
}

func run(m *vm.VM, p *vm.Program, env map[string]any) (bool, error) {
	out, err := m.Run(p, env)
	if err != nil {
		return false, err
	}
	ok, _ := out.(bool)
	return ok, nil
}
