package rules

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/event"
)

// Throttle is a rule's storm control: at most one delivery per value of Key
// per Window. Later matches in the window are stored as suppressed, and the
// next delivered message for the key says how many were.
type Throttle struct {
	// Key is the expr expression whose value groups matches ("" means one
	// group for the whole rule).
	Key string
	// Window is how long after a delivered match further matches with the
	// same key are suppressed.
	Window time.Duration

	compiled *Key // nil when Key is ""
}

type throttleSpec struct {
	Key    string          `yaml:"key"`
	Window config.Duration `yaml:"window"`
}

// compileThrottle compiles a rule's throttle section. The key must evaluate
// to something that reads well as text: a string, number, bool, time, or a
// vendor field (any).
func compileThrottle(n *yaml.Node, section string) (*Throttle, config.Errors) {
	var spec throttleSpec
	if err := config.Decode(n, &spec); err != nil {
		return nil, config.AsErrors(err, n.Line, section)
	}
	lines := keyLines(n)
	at := lineOf(lines, n)
	t := &Throttle{Key: strings.TrimSpace(spec.Key), Window: time.Duration(spec.Window)}
	var errs config.Errors
	if t.Window <= 0 {
		errs = append(errs, config.Errorf(at("window"), section, "throttle: window is required (e.g. window: 10m)"))
	}
	if t.Key != "" {
		k, err := CompileKey(t.Key)
		if err != nil {
			errs = append(errs, config.Errorf(at("key"), section, "throttle: key: %v", err))
		}
		t.compiled = k
	}
	return t, errs
}

// key evaluates the throttle key for an event's environment.
func (t *Throttle) key(m *vm.VM, env map[string]any) (string, error) {
	if t.compiled == nil {
		return "", nil
	}
	s, err := t.compiled.eval(m, env)
	if err != nil {
		return "", fmt.Errorf("throttle key: %w", err)
	}
	return s, nil
}

// suppressedNote is added to a default message that follows suppressed
// ones.
func suppressedNote(n int) (title, text string) {
	if n == 1 {
		return " (+1 suppressed)", "1 similar message was suppressed by the rule's throttle since the last one."
	}
	return fmt.Sprintf(" (+%d suppressed)", n), fmt.Sprintf("%d similar messages were suppressed by the rule's throttle since the last one.", n)
}

// throttled completes a throttled rule's match with its key and window and
// a Render for the delivery that follows suppressed ones. A key that fails
// to evaluate is reported and the match is delivered unthrottled: storm
// control never loses an alert.
func (rule *Rule) throttled(match Match, m *vm.VM, ev *event.Event, env map[string]any, res *Result) Match {
	key, err := rule.Throttle.key(m, env)
	if err != nil {
		res.Errors = append(res.Errors, RuleError{Rule: rule.Name, Err: err})
		return match
	}
	match.ThrottleKey, match.Window = key, rule.Throttle.Window
	match.Render = func(n int) (string, string) {
		e := maps.Clone(env)
		e["suppressed"] = n
		title, text, _, _ := rule.render(ev, e, n)
		return title, text
	}
	return match
}
