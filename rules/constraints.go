package rules

import (
	"reflect"
	"strconv"

	"github.com/expr-lang/expr/ast"
)

// The router's index lets Route evaluate only the rules that can match an
// event. Most conditions start by naming what they are about — source ==
// "interfax" && status == "failure" && … — so at load each rule's condition
// is read for such clauses on a few event fields of few values, and Route
// skips a rule whose clause the event's value fails.
//
// Skipping must not change a Result, so a rule is skipped only where its
// evaluation would certainly have been false without an error: a false
// condition adds nothing to a Result, and the rules that are evaluated
// still run in rule order, so matches, stop: true and errors come out as
// before. That holds for a clause C of the top-level && chain
// C1 && … && Cn when every conjunct up to C is "safe": it cannot fail on
// any event and yields a bool. The program evaluates the conjuncts left to
// right and stops at the first false (expr compiles && to a jump-if-false;
// the tree read here is the optimized, type-checked one the program was
// compiled from, so its order is the order the program runs). So on an
// event that fails C, either an earlier conjunct is false — false, no
// error, as the earlier ones cannot fail — or C itself is evaluated and is
// false. A clause after a conjunct that may fail is not used: in
// data.TrialsPerformed >= 4 && source == "telesign" the first clause fails
// where the vendor sent a string, and Route must report that error on an
// interfax event too.
//
// Safe is decided on the shape of the expression alone: literals, the
// event's string, int and bool fields (Event.Map always holds them, typed),
// !, &&, ||, == and != between two of the same kind, <, >, <=, >= between
// ints and in over a list of literals of the left side's kind. Anything
// else — data, times, calls, member access, let — ends the safe prefix.
// Where the analysis cannot tell, it leaves the rule a candidate: a larger
// candidate set only costs time.

// valueSet is the values of one field for which a condition can be true.
type valueSet map[string]struct{}

// constraints returns, for each indexed field, the values for which the
// condition can be true, read from the clauses of the safe prefix of its
// top-level && chain (see above). A field it does not constrain is absent.
func constraints(cond ast.Node) map[string]valueSet {
	var out map[string]valueSet
	// conjuncts (explain.go) lists the chain in evaluation order.
	for _, c := range conjuncts(cond) {
		if kindOf(c) != reflect.Bool {
			break // c may fail: later clauses must not be used
		}
		field, vals, ok := restriction(c)
		if !ok {
			continue
		}
		if out == nil {
			out = map[string]valueSet{}
		}
		if prev, seen := out[field]; seen {
			for v := range prev {
				if _, both := vals[v]; !both {
					delete(prev, v)
				}
			}
			continue
		}
		out[field] = vals
	}
	return out
}

// restriction reads a safe clause that allows an indexed field only some
// values: field == "v", "v" == field, field in ["v", "w"], a bool field,
// its negation or a comparison with true or false, and an || of such
// clauses on one field.
func restriction(n ast.Node) (field string, vals valueSet, ok bool) {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if indexed(n.Value) && envKind(n.Value) == reflect.Bool {
			return n.Value, valueSet{"true": {}}, true
		}
	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			break
		}
		f, vs, ok := restriction(n.Node)
		if !ok || envKind(f) != reflect.Bool {
			break // the complement of a set of strings is not a set
		}
		out := valueSet{}
		for _, v := range []string{"true", "false"} {
			if _, in := vs[v]; !in {
				out[v] = struct{}{}
			}
		}
		return f, out, true
	case *ast.BinaryNode:
		switch n.Operator {
		case "==":
			if f, v, ok := fieldLiteral(n.Left, n.Right); ok {
				return f, valueSet{v: {}}, true
			}
			if f, v, ok := fieldLiteral(n.Right, n.Left); ok {
				return f, valueSet{v: {}}, true
			}
		case "in":
			id, isID := n.Left.(*ast.IdentifierNode)
			if !isID || !indexed(id.Value) || envKind(id.Value) != reflect.String {
				break
			}
			if vs, ok := stringList(n.Right); ok {
				return id.Value, vs, true
			}
		case "||", "or":
			lf, lv, lok := restriction(n.Left)
			rf, rv, rok := restriction(n.Right)
			if !lok || !rok || lf != rf {
				break
			}
			out := valueSet{}
			for v := range lv {
				out[v] = struct{}{}
			}
			for v := range rv {
				out[v] = struct{}{}
			}
			return lf, out, true
		}
	}
	return "", nil, false
}

// fieldLiteral reads an indexed field and the literal it is compared with.
func fieldLiteral(f, lit ast.Node) (string, string, bool) {
	id, ok := f.(*ast.IdentifierNode)
	if !ok || !indexed(id.Value) {
		return "", "", false
	}
	switch l := lit.(type) {
	case *ast.StringNode:
		if envKind(id.Value) == reflect.String {
			return id.Value, l.Value, true
		}
	case *ast.BoolNode:
		if envKind(id.Value) == reflect.Bool {
			return id.Value, strconv.FormatBool(l.Value), true
		}
	}
	return "", "", false
}

// stringList reads the right side of an in over string literals: a list,
// or the set expr's optimizer makes of one.
func stringList(n ast.Node) (valueSet, bool) {
	out := valueSet{}
	switch n := n.(type) {
	case *ast.ArrayNode:
		for _, e := range n.Nodes {
			s, ok := e.(*ast.StringNode)
			if !ok {
				return nil, false
			}
			out[s.Value] = struct{}{}
		}
	case *ast.ConstantNode:
		m, ok := n.Value.(map[string]struct{})
		if !ok {
			return nil, false
		}
		for s := range m {
			out[s] = struct{}{}
		}
	default:
		return nil, false
	}
	return out, true
}

func indexed(name string) bool {
	for _, f := range indexedFields {
		if f.name == name {
			return true
		}
	}
	return false
}

// envKind is the kind of an event field in the expr environment, Invalid
// for a field that is not a string, int or bool or a name that is not a
// field.
func envKind(name string) reflect.Kind {
	switch exprEnv[name].(type) {
	case string:
		return reflect.String
	case int:
		return reflect.Int
	case bool:
		return reflect.Bool
	}
	return reflect.Invalid
}

// kindOf returns the kind of n's value when evaluating n cannot fail on
// any event, and Invalid when it may fail or the analysis cannot tell.
//
// Identifiers are the event's fields here: kindOf is only called on the
// top-level conjuncts of a condition and does not descend into let,
// closures or calls, the only places that bind other names.
func kindOf(n ast.Node) reflect.Kind {
	switch n := n.(type) {
	case *ast.BoolNode:
		return reflect.Bool
	case *ast.StringNode:
		return reflect.String
	case *ast.IntegerNode:
		// The checker types an integer literal compared with a float as a
		// float; only plain ints are known here.
		if t := n.Type(); t == nil || t.Kind() == reflect.Int {
			return reflect.Int
		}
	case *ast.IdentifierNode:
		return envKind(n.Value)
	case *ast.UnaryNode:
		if (n.Operator == "!" || n.Operator == "not") && kindOf(n.Node) == reflect.Bool {
			return reflect.Bool
		}
	case *ast.BinaryNode:
		l := kindOf(n.Left)
		switch n.Operator {
		case "&&", "and", "||", "or":
			if l == reflect.Bool && kindOf(n.Right) == reflect.Bool {
				return reflect.Bool
			}
		case "==", "!=":
			if l != reflect.Invalid && l == kindOf(n.Right) {
				return reflect.Bool
			}
		case "<", ">", "<=", ">=":
			if l == reflect.Int && kindOf(n.Right) == reflect.Int {
				return reflect.Bool
			}
		case "in":
			if l == reflect.String || l == reflect.Int {
				if literalsOf(n.Right, l) {
					return reflect.Bool
				}
			}
		}
	}
	return reflect.Invalid
}

// literalsOf reports whether n is a list of literals of kind k, or the set
// expr's optimizer makes of one.
func literalsOf(n ast.Node, k reflect.Kind) bool {
	switch n := n.(type) {
	case *ast.ArrayNode:
		for _, e := range n.Nodes {
			switch e.(type) {
			case *ast.StringNode, *ast.IntegerNode:
			default:
				return false
			}
			if kindOf(e) != k {
				return false
			}
		}
		return true
	case *ast.ConstantNode:
		switch n.Value.(type) {
		case map[string]struct{}:
			return k == reflect.String
		case map[int]struct{}:
			return k == reflect.Int
		}
	}
	return false
}
