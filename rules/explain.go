package rules

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/switchboard/switchboard/internal/event"
)

// Explanation says whether one rule matched an event and, when it did not,
// why, in words a rule author can act on.
type Explanation struct {
	Rule    string `json:"rule"`
	Matched bool   `json:"matched"`
	// Reason is set for a rule that did not match: the clauses of its
	// condition that were false, with the values they saw; the run-time
	// error; or the earlier rule whose stop: true ended evaluation.
	Reason string `json:"reason,omitempty"`
}

// Explain evaluates every rule against ev as Route does and explains the
// ones that did not match. It is for dry runs (switchboard test, rule
// tests): it compiles the clauses of the conditions it explains, so it is
// much slower than Route and must not be used on the intake path.
func (r *Router) Explain(ev *event.Event) []Explanation {
	env := ev.Map()
	var m vm.VM
	out := make([]Explanation, 0, len(r.rules))
	stopped := ""
	for _, rule := range r.rules {
		x := Explanation{Rule: rule.Name}
		switch {
		case stopped != "":
			x.Reason = fmt.Sprintf("not evaluated: rule %q matched first and has stop: true", stopped)
		default:
			v, err := m.Run(rule.program, env)
			switch ok, _ := v.(bool); {
			case err != nil:
				x.Reason = "condition failed on this event (counts as no match): " + firstLine(err.Error())
			case ok:
				x.Matched = true
				if rule.Stop {
					stopped = rule.Name
				}
			default:
				x.Reason = explainFalse(rule.When, env)
			}
		}
		out = append(out, x)
	}
	return out
}

// explainFalse names the top-level && clauses of a false condition that are
// false, each with the values of the fields it reads:
//
//	false: status == "failure" (status = "success")
func explainFalse(when string, env map[string]any) string {
	tree, err := parser.Parse(when)
	if err != nil {
		return "condition is false"
	}
	clauses := conjuncts(tree.Node)
	var parts []string
	for _, c := range clauses {
		src := c.String()
		v, err := eval(src, env)
		if err != nil || v != false {
			continue // true, or not a bool on its own: not the culprit
		}
		part := src
		if vals := fieldValues(c, env); vals != "" {
			part += " (" + vals + ")"
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return "condition is false"
	}
	return "false: " + strings.Join(parts, "; ")
}

// conjuncts splits a condition on its top-level && (and) operators.
func conjuncts(n ast.Node) []ast.Node {
	if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
		return append(conjuncts(b.Left), conjuncts(b.Right)...)
	}
	return []ast.Node{n}
}

// fieldValues renders the values of the event fields a clause reads
// (status, data.DestinationFax), at most four of them.
func fieldValues(n ast.Node, env map[string]any) string {
	var c fieldCollector
	ast.Walk(&n, &c)
	var out []string
	for _, f := range c.fields {
		if len(out) == 4 {
			break
		}
		v, err := eval(f, env)
		if err != nil {
			continue
		}
		switch reflect.ValueOf(v).Kind() {
		case reflect.Map, reflect.Func:
			continue
		}
		out = append(out, f+" = "+formatValue(v))
	}
	return strings.Join(out, ", ")
}

// fieldCollector gathers the outermost identifiers and member accesses of
// an expression, once each, in order.
type fieldCollector struct {
	fields []string
}

func (c *fieldCollector) Visit(node *ast.Node) {
	// Walk visits children before parents: a member access replaces the
	// identifier or shorter access it is built on.
	var s string
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if _, known := exprEnv[n.Value]; !known {
			return // a function or a closure variable
		}
		s = n.Value
	case *ast.MemberNode:
		if _, isPtr := n.Node.(*ast.PointerNode); isPtr {
			return
		}
		s = n.String()
		prefix := n.Node.String()
		for i, f := range c.fields {
			if f == prefix {
				c.fields = append(c.fields[:i], c.fields[i+1:]...)
				break
			}
		}
	default:
		return
	}
	for _, f := range c.fields {
		if f == s {
			return
		}
	}
	c.fields = append(c.fields, s)
}

func eval(src string, env map[string]any) (any, error) {
	prog, err := expr.Compile(src, expr.Env(exprEnv))
	if err != nil {
		return nil, err
	}
	return expr.Run(prog, env)
}

func formatValue(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		s = fmt.Sprintf("%q", x)
	case time.Time:
		s = x.UTC().Format(time.RFC3339)
	default:
		s = fmt.Sprint(x)
	}
	if len(s) > 60 {
		s = s[:57] + "…"
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
