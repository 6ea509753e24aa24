package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// templateFuncs are available in title and text templates.
var templateFuncs = template.FuncMap{
	// default returns def when v is missing or empty: {{ .data.Contact | default "n/a" }}.
	"default": func(def, v any) any {
		if v == nil || fmt.Sprint(v) == "" {
			return def
		}
		return v
	},
	// phone formats a dialled number: "0012125551234" → "+1 212 555 1234".
	"phone": func(v any) string {
		if v == nil {
			return ""
		}
		return event.FormatPhone(fmt.Sprint(v))
	},
	"upper": func(v any) string { return strings.ToUpper(str(v)) },
	"lower": func(v any) string { return strings.ToLower(str(v)) },
	// json renders a value as JSON.
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	// time formats a time with a Go layout: {{ time "2006-01-02 15:04" .time }}.
	"time": func(layout string, v any) string {
		if t, ok := v.(time.Time); ok {
			return t.Format(layout)
		}
		return str(v)
	},
	// raw writes a value into the message as it is, markup included:
	// {{ raw .data.Link }}. Without it, a value interpolated into a Slack
	// message has its &, < and > escaped. It must end the pipeline.
	"raw": func(v any) rawText {
		if r, ok := v.(rawText); ok {
			return r
		}
		return rawText(str(v))
	},
	escaperFunc: func(args ...any) string { return slackEscaper(args...) },
}

// rawText is a value marked by raw: the escaper leaves it alone. Vendor
// data never has this type.
type rawText string

// Markup is how a sink reads the title and text it sends, which decides how
// the values a rule's templates interpolate are escaped.
type Markup int

const (
	// PlainText is taken literally: email (its HTML body escapes
	// everything itself), webhook JSON and the log. Nothing is escaped.
	PlainText Markup = iota
	// SlackMrkdwn is Slack's markup, where &, < and > are control
	// characters (<!channel>, <@U123>, <https://x|label>): interpolated
	// values have them escaped, the template's own text does not.
	SlackMrkdwn
)

// MarkupOf returns the markup of a sink type's messages.
func MarkupOf(sinkType string) Markup {
	if sinkType == "slack" {
		return SlackMrkdwn
	}
	return PlainText
}

// escaperFunc is appended to every pipeline that prints, in the Slack
// variant of a template (see escapeActions).
const escaperFunc = "_switchboard_slack_escape"

var slackEscapes = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// SlackEscape makes s literal in Slack mrkdwn.
func SlackEscape(s string) string { return slackEscapes.Replace(s) }

// slackEscaper prints the value of a pipeline as text/template would, then
// escapes it, unless raw marked it.
func slackEscaper(args ...any) string {
	if len(args) == 1 {
		switch v := args[0].(type) {
		case rawText:
			return string(v)
		case nil:
			return "<no value>" // what text/template prints for a missing key
		}
	}
	return SlackEscape(fmt.Sprint(args...))
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func newTemplate(name, src string) (*template.Template, error) {
	t, err := template.New(name).Funcs(templateFuncs).Option("missingkey=default").Parse(src)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "template: "))
	}
	return t, nil
}

// newSlackTemplate compiles src as newTemplate does, for Slack: like
// html/template, it rewrites the parse tree so every action that prints
// ends in the escaper, and the values a template interpolates reach the
// channel as text while the template's own text keeps its markup.
func newSlackTemplate(name, src string) (*template.Template, error) {
	t, err := newTemplate(name, src)
	if err != nil {
		return nil, err
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			escapeActions(tt.Tree.Root)
		}
	}
	return t, nil
}

func escapeActions(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			escapeActions(c)
		}
	case *parse.ActionNode:
		if len(n.Pipe.Decl) > 0 {
			return // {{ $x := … }} prints nothing
		}
		n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{
			NodeType: parse.NodeCommand,
			Pos:      n.Pos,
			Args:     []parse.Node{parse.NewIdentifier(escaperFunc).SetTree(nil).SetPos(n.Pos)},
		})
	case *parse.IfNode:
		escapeActions(n.List)
		escapeActions(n.ElseList)
	case *parse.RangeNode:
		escapeActions(n.List)
		escapeActions(n.ElseList)
	case *parse.WithNode:
		escapeActions(n.List)
		escapeActions(n.ElseList)
	}
}

// forSink returns the match as the sink m.Sink reads it: for a Slack sink,
// the rule's templates rendered again by their Slack variant (and so is
// Render). A match without templates is the event's default message,
// which the Slack sink escapes itself.
func (rule *Rule) forSink(m Match, ev *event.Event, env map[string]any) Match {
	if rule.slack == nil || !m.Templated || rule.markups[m.Sink] != SlackMrkdwn {
		return m
	}
	v := rule.slack
	m.Title, m.Text, _, _ = v.render(ev, env, 0)
	if m.Render != nil {
		m.Render = func(n int) (string, string) {
			e := maps.Clone(env)
			e["suppressed"] = n
			title, text, _, _ := v.render(ev, e, n)
			return title, text
		}
	}
	return m
}
