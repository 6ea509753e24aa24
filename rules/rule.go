package rules

import (
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"

	"github.com/switchboard/switchboard/internal/config"
)

// Rule is one compiled routing rule.
type Rule struct {
	Name string
	When string
	To   []string
	Stop bool
	Line int
	// Throttle limits deliveries per key and window; nil when the rule has
	// none.
	Throttle *Throttle
	// Webhook is the body the rule's webhook sinks send instead of their
	// own; nil when the rule has none.
	Webhook *Webhook

	program *vm.Program
	title   *template.Template // nil: the event's default title
	text    *template.Template // nil: the event's default text

	// markups is the markup of each sink in To; slack, when the rule has
	// templates and a Slack sink, is the rule with its templates compiled
	// for Slack, and escape is how that variant escapes the default parts
	// of a templated message (nil: as they are).
	markups map[string]Markup
	slack   *Rule
	escape  func(string) string
}

type ruleSpec struct {
	Name  string   `yaml:"name"`
	When  string   `yaml:"when"`
	To    []string `yaml:"to"`
	Title string   `yaml:"title"`
	Text  string   `yaml:"text"`
	Stop  bool     `yaml:"stop"`
	// Throttle is decoded by compileThrottle, for its own lines.
	Throttle yaml.Node `yaml:"throttle"`
	// Webhook is decoded by compileWebhook, for its own lines.
	Webhook yaml.Node `yaml:"webhook"`
}

// exprEnv declares the type of every name a rule's condition may use: the
// event fields by their JSON names. It is also the shape of the map each
// event is evaluated against.
var exprEnv = map[string]any{
	"id":              "",
	"source":          "",
	"type":            "",
	"receiver":        "",
	"subject":         "",
	"status":          "",
	"final":           false,
	"previous_status": "",
	"stale":           false,
	"code":            0,
	"description":     "",
	"time":            time.Time{},
	"received_at":     time.Time{},
	"data":            map[string]any{},
}

func compileRules(n *yaml.Node, sinks map[string]Markup) (*Router, config.Errors) {
	r := &Router{}
	if n.Kind == 0 {
		return r, nil
	}
	if n.Kind != yaml.SequenceNode {
		return r, config.Errors{config.Errorf(n.Line, "", "rules must be a list")}
	}
	var errs config.Errors
	seen := map[string]int{}
	for i, rn := range n.Content {
		rule, es := compileRule(i, rn, sinks)
		errs = append(errs, es...)
		if rule == nil {
			continue
		}
		if prev, dup := seen[rule.Name]; dup {
			errs = append(errs, config.Errorf(rule.Line, ruleSection(rule.Name, i), "duplicate rule name (first defined on line %d)", prev))
			continue
		}
		seen[rule.Name] = rule.Line
		r.rules = append(r.rules, rule)
	}
	r.index = newIndex(r.rules)
	return r, errs
}

func ruleSection(name string, i int) string {
	if name == "" {
		return fmt.Sprintf("rule #%d", i+1)
	}
	return fmt.Sprintf("rule %q", name)
}

// keyLines maps each key of a mapping node to the line of its value.
func keyLines(n *yaml.Node) map[string]int {
	m := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		m[n.Content[i].Value] = n.Content[i+1].Line
	}
	return m
}

// lineOf returns, for a key of the mapping n (lines from keyLines), the
// line of its value, or n's own line when the key is absent.
func lineOf(lines map[string]int, n *yaml.Node) func(key string) int {
	return func(key string) int {
		if l, ok := lines[key]; ok {
			return l
		}
		return n.Line
	}
}

func compileRule(i int, n *yaml.Node, sinks map[string]Markup) (*Rule, config.Errors) {
	var spec ruleSpec
	lines := keyLines(n)
	if n.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == "name" {
				spec.Name = n.Content[j+1].Value
			}
		}
	}
	section := ruleSection(spec.Name, i)
	if err := config.Decode(n, &spec); err != nil {
		return nil, config.AsErrors(err, n.Line, section)
	}
	var errs config.Errors
	at := lineOf(lines, n)
	if spec.Name == "" {
		errs = append(errs, config.Errorf(n.Line, section, "missing name"))
	} else if !validName(spec.Name) {
		errs = append(errs, config.Errorf(at("name"), section, "invalid name: use letters, digits, '-' and '_'"))
	}
	rule := &Rule{Name: spec.Name, When: spec.When, To: spec.To, Stop: spec.Stop, Line: n.Line}
	if strings.TrimSpace(spec.When) == "" {
		errs = append(errs, config.Errorf(n.Line, section, "missing when (use `when: true` to match every event)"))
	} else {
		prog, err := expr.Compile(spec.When, expr.Env(exprEnv), expr.AsBool())
		if err != nil {
			errs = append(errs, config.Errorf(at("when"), section, "when: %s", indentExprError(err)))
		}
		rule.program = prog
	}
	if len(spec.To) == 0 {
		errs = append(errs, config.Errorf(n.Line, section, "missing to: name at least one sink"))
	}
	dup := map[string]bool{}
	rule.markups = map[string]Markup{}
	for _, s := range spec.To {
		markup, known := sinks[s]
		rule.markups[s] = markup
		switch {
		case !known:
			errs = append(errs, config.Errorf(at("to"), section, "unknown sink %q", s))
		case dup[s]:
			errs = append(errs, config.Errorf(at("to"), section, "sink %q listed twice", s))
		}
		dup[s] = true
	}
	if spec.Throttle.Kind != 0 {
		t, es := compileThrottle(&spec.Throttle, section)
		errs = append(errs, es...)
		rule.Throttle = t
	}
	if spec.Webhook.Kind != 0 {
		w, es := compileWebhook(&spec.Webhook, section)
		errs = append(errs, es...)
		rule.Webhook = w
	}
	var err error
	if spec.Title != "" {
		if rule.title, err = newTemplate("title", spec.Title); err != nil {
			errs = append(errs, config.Errorf(at("title"), section, "title: %v", err))
		}
	}
	if spec.Text != "" {
		if rule.text, err = newTemplate("text", spec.Text); err != nil {
			errs = append(errs, config.Errorf(at("text"), section, "text: %v", err))
		}
	}
	if len(errs) == 0 && (rule.title != nil || rule.text != nil) {
		for _, m := range rule.markups {
			if m == SlackMrkdwn {
				rule.slack = slackVariant(rule, spec.Title, spec.Text)
				break
			}
		}
	}
	if len(errs) > 0 {
		return rule, errs
	}
	return rule, nil
}

// indentExprError keeps expr's caret diagram readable under the error line.
func indentExprError(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "\n    ")
}

// slackVariant is rule with its templates compiled for Slack (see
// newSlackTemplate); the sources compiled already, so they compile again.
func slackVariant(rule *Rule, title, text string) *Rule {
	v := *rule
	v.slack, v.escape = nil, SlackEscape
	if title != "" {
		v.title, _ = newSlackTemplate("title", title)
	}
	if text != "" {
		v.text, _ = newSlackTemplate("text", text)
	}
	return &v
}
