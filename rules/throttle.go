package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"

	"github.com/expr-lang/expr"
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

	program *vm.Program // nil when Key is ""
}

type throttleSpec struct {
	Key    string          `yaml:"key"`
	Window config.Duration `yaml:"window"`
}

// maxKeyLen bounds a throttle key as stored; longer values are shortened
// and made unique with a hash.
const maxKeyLen = 200

// compileThrottle compiles a rule's throttle section. The key must evaluate
// to something that reads well as text: a string, number, bool, time, or a
// vendor field (any).
func compileThrottle(n *yaml.Node, section string) (*Throttle, config.Errors) {
	var spec throttleSpec
	if err := config.Decode(n, &spec); err != nil {
		return nil, config.AsErrors(err, n.Line, section)
	}
	lines := keyLines(n)
	at := func(key string) int {
		if l, ok := lines[key]; ok {
			return l
		}
		return n.Line
	}
	t := &Throttle{Key: strings.TrimSpace(spec.Key), Window: time.Duration(spec.Window)}
	var errs config.Errors
	if t.Window <= 0 {
		errs = append(errs, config.Errorf(at("window"), section, "throttle: window is required (e.g. window: 10m)"))
	}
	if t.Key != "" {
		prog, err := expr.Compile(t.Key, expr.Env(exprEnv))
		switch {
		case err != nil:
			errs = append(errs, config.Errorf(at("key"), section, "throttle: key: %s", indentExprError(err)))
		case !stringable(prog.Node().Type()):
			errs = append(errs, config.Errorf(at("key"), section, "throttle: key must be a string, number or bool, not %s", prog.Node().Type()))
		default:
			t.program = prog
		}
	}
	return t, errs
}

var timeType = reflect.TypeOf(time.Time{})

func stringable(t reflect.Type) bool {
	if t == nil || t == timeType {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Interface,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// key evaluates the throttle key for an event's environment.
func (t *Throttle) key(m *vm.VM, env map[string]any) (string, error) {
	if t.program == nil {
		return "", nil
	}
	out, err := m.Run(t.program, env)
	if err != nil {
		return "", fmt.Errorf("throttle key: %w", err)
	}
	var s string
	switch v := out.(type) {
	case nil:
	case string:
		s = v
	case time.Time:
		s = v.UTC().Format(time.RFC3339Nano)
	default:
		s = fmt.Sprint(v)
	}
	if len(s) > maxKeyLen {
		sum := sha256.Sum256([]byte(s))
		n := maxKeyLen - 34
		for n > 0 && s[n]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			n--
		}
		s = s[:n] + "…" + hex.EncodeToString(sum[:15])
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
