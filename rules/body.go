package rules

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/event"
)

// A webhook body expression shapes what a webhook sink sends: an expr
// expression over the same names as `when` that evaluates to a map or a
// list, sent as JSON ('{"fax_id": subject, "delivered": status ==
// "success"}'). It is compiled here, against the typed environment of the
// conditions, so a misspelled field is a load error; the webhook sink only
// runs the result (sinks do not import rules; internal/app hands it over).

// CompileBody compiles a webhook body expression. It refuses one whose type
// is known at load not to be a map or a list (a string, a bool, …); one
// whose type is only known at run time (data.X) is checked by the returned
// function, which evaluates the expression on an event and fails when the
// result is not a map or a list.
func CompileBody(src string) (func(*event.Event) (any, error), error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	prog, err := expr.Compile(src, expr.Env(exprEnv))
	if err != nil {
		return nil, errors.New(indentExprError(err))
	}
	if t := prog.Node().Type(); t != nil && t.Kind() != reflect.Interface && !mapOrList(t.Kind()) {
		return nil, fmt.Errorf("must return a map or a list (sent as JSON), not %s", t)
	}
	return func(ev *event.Event) (any, error) { return evalBody(prog, ev) }, nil
}

func mapOrList(k reflect.Kind) bool {
	return k == reflect.Map || k == reflect.Slice || k == reflect.Array
}

func evalBody(prog *vm.Program, ev *event.Event) (any, error) {
	var m vm.VM
	out, err := m.Run(prog, ev.Map())
	if err != nil {
		// expr's caret diagram is for the config file; the delivery log
		// keeps its first line, which says what failed and where.
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return nil, errors.New(msg)
	}
	if out == nil {
		return nil, errors.New("evaluated to nil, want a map or a list")
	}
	if !mapOrList(reflect.TypeOf(out).Kind()) {
		return nil, fmt.Errorf("evaluated to %T, want a map or a list", out)
	}
	return out, nil
}

// Webhook is a rule's own shape for what its webhook sinks send; it wins
// over the sink's body for this rule's deliveries.
type Webhook struct {
	// Body is the expr source of the body expression.
	Body string
	// Line is the line of the body in the file.
	Line int
	// Eval evaluates Body on an event (see CompileBody).
	Eval func(*event.Event) (any, error)
}

type webhookSpec struct {
	Body string `yaml:"body"`
}

// compileWebhook compiles a rule's webhook section.
func compileWebhook(n *yaml.Node, section string) (*Webhook, config.Errors) {
	var spec webhookSpec
	if err := config.Decode(n, &spec); err != nil {
		return nil, config.AsErrors(err, n.Line, section)
	}
	line := n.Line
	if l, ok := keyLines(n)["body"]; ok {
		line = l
	}
	if strings.TrimSpace(spec.Body) == "" {
		return nil, config.Errors{config.Errorf(n.Line, section, "webhook: body is required (an expression over the event, e.g. '{\"id\": subject}')")}
	}
	eval, err := CompileBody(spec.Body)
	if err != nil {
		return nil, config.Errors{config.Errorf(line, section, "webhook: body: %v", err)}
	}
	return &Webhook{Body: spec.Body, Line: line, Eval: eval}, nil
}
