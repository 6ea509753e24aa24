package rules

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/switchboard/switchboard/internal/event"
)

// Condition is an expr condition over an event, compiled and type-checked
// as a rule's when: the matcher of a silence.
type Condition struct {
	Source  string
	program *vm.Program
}

// CompileCondition compiles src against the event's fields; it must
// return a bool.
func CompileCondition(src string) (*Condition, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("empty condition (use true to match every event)")
	}
	prog, err := expr.Compile(src, expr.Env(exprEnv), expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("%s", indentExprError(err))
	}
	return &Condition{Source: src, program: prog}, nil
}

// Match reports whether the condition holds for an event in its map form
// (event.Event.Map); a condition that fails at run time does not hold.
func (c *Condition) Match(env map[string]any) bool {
	var m vm.VM
	ok, err := run(&m, c.program, env)
	return err == nil && ok
}

// MatchEvent reports whether the condition holds for ev.
func (c *Condition) MatchEvent(ev *event.Event) bool { return c.Match(ev.Map()) }
