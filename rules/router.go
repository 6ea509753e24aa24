package rules

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/switchboard/switchboard/internal/event"
)

// Router holds the compiled rules of one configuration, in order. It is
// immutable and safe for concurrent use.
type Router struct {
	rules   []*Rule
	expects []*Expectation
	index   *index // nil: every rule is a candidate for every event
	vms     sync.Pool
	// threads are the thread keys of the sinks that thread their
	// messages, by sink name (see SetThreads).
	threads map[string]*Key
}

// SetThreads gives the router the thread key of each sink that threads its
// messages (a Slack sink's thread:), by sink name: Route sets Match.Thread
// for their matches. Call it before the router is used.
func (r *Router) SetThreads(keys map[string]*Key) { r.threads = keys }

// Rules returns the compiled rules in evaluation order.
func (r *Router) Rules() []*Rule { return r.rules }

// Match is one delivery to make: an event matched by a rule, for one of the
// rule's sinks, with the message rendered.
type Match struct {
	Rule      string
	Sink      string
	Title     string
	Text      string
	Templated bool

	// Window is the rule's throttle window, zero when the rule has no
	// throttle; ThrottleKey is the key's value for this event.
	ThrottleKey string
	Window      time.Duration
	// Render renders the message again for a delivery that follows
	// suppressed ones: {{ .suppressed }} is n, and a default message says
	// how many were suppressed. Set only with a throttle.
	Render func(suppressed int) (title, text string)

	// Thread is the key of the thread this message belongs to, for a sink
	// that threads its messages (a Slack sink's thread:); "" for none.
	Thread string
}

// RuleError is a rule that failed on one event at run time (a condition
// that panicked or a template that failed). The other rules still run.
type RuleError struct {
	Rule string
	Err  error
}

func (e RuleError) Error() string { return fmt.Sprintf("rule %q: %v", e.Rule, e.Err) }

// Result is the outcome of routing one event.
type Result struct {
	Matches []Match
	Errors  []RuleError
	// Matched lists the names of the rules that matched, in order.
	Matched []string
	// Stopped names the rule whose stop: true ended evaluation, if any.
	Stopped string
	// Expect is what the event does to the timers of the expectations for
	// its subject; nil when it starts and stops none.
	Expect []ExpectAction
}

// Route evaluates the rules in order against ev. Every match fires; a
// matching rule with stop: true ends the evaluation. A condition that fails
// at run time counts as no match and is reported in Result.Errors; a
// template that fails falls back to the default message and is reported.
// Route does no I/O.
//
// Only the rules the index leaves as candidates for ev are evaluated, in
// order; the others would have been false without error (see index.go),
// so the Result is the one evaluating every rule gives.
func (r *Router) Route(ev *event.Event) Result {
	var res Result
	cands := r.index.candidates(ev, len(r.rules))
	i, ok := cands.next()
	if !ok && len(r.expects) == 0 {
		return res // no rule can match: no environment, no VM
	}
	env := ev.Map()
	m, _ := r.vms.Get().(*vm.VM)
	if m == nil {
		m = &vm.VM{}
	}
	defer r.vms.Put(m)
	if len(r.expects) > 0 {
		r.expect(m, ev, env, &res)
	}
	for ; ok; i, ok = cands.next() {
		rule := r.rules[i]
		out, err := m.Run(rule.program, env)
		if err != nil {
			res.Errors = append(res.Errors, RuleError{Rule: rule.Name, Err: err})
			continue
		}
		if ok, _ := out.(bool); !ok {
			continue
		}
		res.Matched = append(res.Matched, rule.Name)
		title, text, templated, terr := rule.render(ev, env, 0)
		if terr != nil {
			res.Errors = append(res.Errors, RuleError{Rule: rule.Name, Err: terr})
		}
		match := Match{Rule: rule.Name, Title: title, Text: text, Templated: templated}
		if rule.Throttle != nil {
			match = rule.throttled(match, m, ev, env, &res)
		}
		for _, sink := range rule.To {
			match.Sink = sink
			sm := rule.forSink(match, ev, env)
			if k := r.threads[sink]; k != nil {
				sm.Thread = r.thread(k, m, env, rule.Name, sink, &res)
			}
			res.Matches = append(res.Matches, sm)
		}
		if rule.Stop {
			res.Stopped = rule.Name
			break
		}
	}
	return res
}

// thread evaluates a sink's thread key. A key that fails on the event is
// reported, and the message is posted on its own (not threaded): threading
// never loses a message.
func (r *Router) thread(k *Key, m *vm.VM, env map[string]any, rule, sink string, res *Result) string {
	key, err := k.eval(m, env)
	if err != nil {
		res.Errors = append(res.Errors, RuleError{Rule: rule, Err: fmt.Errorf("sink %q: thread: %w", sink, err)})
	}
	return key
}

// Match reports whether the rule's condition holds for ev.
func (rule *Rule) Match(ev *event.Event) (bool, error) {
	var m vm.VM
	out, err := m.Run(rule.program, ev.Map())
	if err != nil {
		return false, err
	}
	ok, _ := out.(bool)
	return ok, nil
}

// render executes the rule's templates, falling back to the event's default
// title and text for the missing ones and for one that fails.
func (rule *Rule) render(ev *event.Event, env map[string]any, suppressed int) (title, text string, templated bool, err error) {
	var errs []string
	if (rule.title != nil || rule.text != nil) && suppressed == 0 {
		env["suppressed"] = 0 // {{ .suppressed }}, see Match.Render
	}
	titleOK, textOK := false, false
	if rule.title != nil {
		if s, e := execute(rule.title, env); e != nil {
			errs = append(errs, e.Error())
		} else {
			title, titleOK = strings.Join(strings.Fields(s), " "), true // a title is one line
		}
	}
	if rule.text != nil {
		if s, e := execute(rule.text, env); e != nil {
			errs = append(errs, e.Error())
		} else {
			text, textOK = s, true
		}
	}
	// The defaults are built only where no template gave the part: this
	// runs inside the intake transaction.
	var note, noteText string
	if suppressed > 0 {
		note, noteText = suppressedNote(suppressed)
	}
	if !titleOK {
		title = ev.Title() + note
	}
	if !textOK {
		text = ev.Text()
		if noteText != "" {
			text += "\n" + noteText
		}
	}
	if rule.escape != nil && (titleOK || textOK) {
		// Next to a template's output, the default part is vendor text
		// in the sink's markup.
		if !titleOK {
			title = rule.escape(title)
		}
		if !textOK {
			text = rule.escape(text)
		}
	}
	if len(errs) > 0 {
		err = fmt.Errorf("template: %s", strings.Join(errs, "; "))
	}
	return title, text, titleOK || textOK, err
}

// Budgets of one template execution: vendor data feeds templates, so a
// template over a large field (or a huge range) must neither stall intake
// nor store megabytes per delivery. A template over budget fails, and the
// default message stands in for it (Route reports the error).
var (
	maxTemplateOutput = 64 << 10
	maxTemplateTime   = 100 * time.Millisecond
)

func execute(t *template.Template, env map[string]any) (string, error) {
	b := budgetWriter{deadline: time.Now().Add(maxTemplateTime)}
	if err := t.Execute(&b, env); err != nil {
		return "", err
	}
	return b.buf.String(), nil
}

// budgetWriter collects a template's output and fails a write past the
// output or time budget, which ends the execution.
type budgetWriter struct {
	buf      bytes.Buffer
	deadline time.Time
}

func (w *budgetWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > maxTemplateOutput {
		return 0, fmt.Errorf("output larger than %d bytes", maxTemplateOutput)
	}
	if time.Now().After(w.deadline) {
		return 0, fmt.Errorf("took longer than %v", maxTemplateTime)
	}
	return w.buf.Write(p)
}
