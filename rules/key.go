package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/switchboard/switchboard/internal/event"
)

// Key is a compiled key expression: a rule's throttle.key, or a Slack
// sink's thread. It evaluates, over the names of `when`, to something that
// reads well as text (a string, number, bool, time, or a vendor field),
// which groups events: one throttle window, one Slack thread per value.
type Key struct {
	// Src is the expression as written.
	Src     string
	program *vm.Program
}

// maxKeyLen bounds a key as stored; longer values are shortened and made
// unique with a hash.
const maxKeyLen = 200

// CompileKey compiles a key expression and checks its type.
func CompileKey(src string) (*Key, error) {
	src = strings.TrimSpace(src)
	if src == "" {
		return nil, fmt.Errorf("empty expression")
	}
	prog, err := expr.Compile(src, expr.Env(exprEnv))
	if err != nil {
		return nil, fmt.Errorf("%s", indentExprError(err))
	}
	if t := prog.Node().Type(); !stringable(t) {
		return nil, fmt.Errorf("must be a string, number or bool, not %s", t)
	}
	return &Key{Src: src, program: prog}, nil
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

// Eval evaluates the key for ev.
func (k *Key) Eval(ev *event.Event) (string, error) {
	var m vm.VM
	return k.eval(&m, ev.Map())
}

// eval evaluates the key for an event's environment. A missing value (nil)
// is "".
func (k *Key) eval(m *vm.VM, env map[string]any) (string, error) {
	out, err := m.Run(k.program, env)
	if err != nil {
		return "", err
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
