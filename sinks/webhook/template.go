package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// The url and header values of a webhook sink may be Go templates over the
// event, by its JSON names (`https://api.internal/faxes/{{ .subject }}/status`).
// Like html/template, each printing action is rewritten at load to end in an
// escaper chosen by where it lands: a URL path segment (url.PathEscape, and
// an empty value is an error, never `//`), the query (url.QueryEscape) or a
// header value (control characters are an error). A value the event lacks
// is an error too: a delivery whose URL cannot be built whole is dead, never
// sent to a half-built URL.

// maxValueLen bounds a rendered URL or header value: vendor data feeds them.
const maxValueLen = 8 << 10

// eventFields are the names a template may use at its top level.
var eventFields = func() []string {
	var out []string
	for k := range (&event.Event{}).Map() {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}()

// landing is where a template's value lands, which decides its escaping.
type landing int

const (
	inHeader landing = iota
	inPath
	inQuery
)

var escaperNames = map[landing]string{
	inHeader: "_switchboard_header",
	inPath:   "_switchboard_path",
	inQuery:  "_switchboard_query",
}

var templateFuncs = template.FuncMap{
	// default returns def when v is missing or empty: {{ .data.Contact | default "none" }}.
	"default": func(def, v any) any {
		if v == nil || fmt.Sprint(v) == "" {
			return def
		}
		return v
	},
	"lower":                func(v any) string { s, _ := text(v); return strings.ToLower(s) },
	"upper":                func(v any) string { s, _ := text(v); return strings.ToUpper(s) },
	escaperNames[inHeader]: escaper(inHeader),
	escaperNames[inPath]:   escaper(inPath),
	escaperNames[inQuery]:  escaper(inQuery),
}

// valueError is a value an action printed that cannot stand where it lands.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }

// escaper returns the function every printing action of a template ends
// in; action is the action's source, for errors.
func escaper(c landing) func(action string, args ...any) (string, error) {
	return func(action string, args ...any) (string, error) {
		var v any
		if len(args) > 0 {
			v = args[len(args)-1]
		}
		s, ok := text(v)
		if !ok {
			return "", &valueError{fmt.Sprintf("{{ %s }} has no value for this event", action)}
		}
		switch c {
		case inPath:
			if s == "" {
				return "", &valueError{fmt.Sprintf("{{ %s }} is empty for this event, which would leave an empty path segment", action)}
			}
			return url.PathEscape(s), nil
		case inQuery:
			return url.QueryEscape(s), nil
		}
		if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			return "", &valueError{fmt.Sprintf("{{ %s }} holds a control character for this event, which a header cannot carry", action)}
		}
		return s, nil
	}
}

// text is a value as a template prints it, times as in the event JSON
// (RFC 3339); false for a missing value.
func text(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case time.Time:
		return x.Format(time.RFC3339Nano), true
	}
	return fmt.Sprint(v), true
}

// valueTemplate is a url or header value, with or without actions.
type valueTemplate struct {
	src string
	t   *template.Template // nil: src has no action
}

// compileValue compiles a url (isURL) or header value. The actions of a URL
// must follow its scheme and host: vendor data may choose a path, never the
// server.
func compileValue(name, src string, isURL bool) (*valueTemplate, error) {
	if !strings.Contains(src, "{{") {
		return &valueTemplate{src: src}, nil
	}
	t, err := template.New(name).Funcs(templateFuncs).Option("missingkey=default").Parse(src)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "template: "))
	}
	if len(t.Templates()) > 1 {
		return nil, errors.New("{{ define }} and {{ block }} are not supported here")
	}
	w := &walker{isURL: isURL}
	w.list(t.Tree.Root, true)
	if len(w.errs) > 0 {
		return nil, errors.New(strings.Join(w.errs, "; "))
	}
	if isURL {
		if err := checkURLPrefix(w.prefix.String()); err != nil {
			return nil, err
		}
		if u, err := url.Parse(w.skeleton.String()); err != nil || u.Host == "" {
			return nil, errors.New("not a valid URL once its templates are filled in")
		}
	}
	return &valueTemplate{src: src, t: t}, nil
}

func checkURLPrefix(prefix string) error {
	u, err := url.Parse(prefix)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http or https URL, with the scheme and host written out before any {{ }}")
	}
	if u.Path == "" && !strings.Contains(prefix, "?") {
		return errors.New("templates may only stand in the path or the query, after the host and a '/' or '?'")
	}
	return nil
}

// render executes the template on an event's map.
func (v *valueTemplate) render(env map[string]any) (string, error) {
	if v.t == nil {
		return v.src, nil
	}
	b := limitedBuilder{max: maxValueLen}
	if err := v.t.Execute(&b, env); err != nil {
		if ve, ok := errors.AsType[*valueError](err); ok {
			return "", ve
		}
		if b.over {
			return "", fmt.Errorf("longer than %d bytes for this event", maxValueLen)
		}
		return "", errors.New(strings.TrimPrefix(err.Error(), "template: "))
	}
	return b.String(), nil
}

type limitedBuilder struct {
	strings.Builder
	max  int
	over bool
}

func (b *limitedBuilder) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		b.over = true
		return 0, errors.New("too long")
	}
	return b.Builder.Write(p)
}

// walker checks a template's fields and rewrites its printing actions to
// end in their escaper, in document order: once the URL's text has a '?',
// actions land in the query.
type walker struct {
	isURL    bool
	query    bool
	acted    bool            // an action came before: prefix is complete
	prefix   strings.Builder // the text before the first action
	skeleton strings.Builder // the text with "x" for every action
	errs     []string
}

// list walks a list of nodes; dotIsEvent is false inside with and range,
// where . is no longer the event and its fields cannot be checked.
func (w *walker) list(l *parse.ListNode, dotIsEvent bool) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			if !w.acted {
				w.prefix.Write(n.Text)
			}
			w.skeleton.Write(n.Text)
			if w.isURL && strings.ContainsAny(string(n.Text), "?#") {
				w.query = true
			}
		case *parse.ActionNode:
			w.acted = true
			w.pipe(n.Pipe, dotIsEvent)
			if len(n.Pipe.Decl) > 0 {
				continue // {{ $x := … }} prints nothing
			}
			c := inHeader
			if w.isURL {
				c = inPath
				if w.query {
					c = inQuery
				}
			}
			action := n.Pipe.String()
			n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{
				NodeType: parse.NodeCommand,
				Pos:      n.Pos,
				Args: []parse.Node{
					parse.NewIdentifier(escaperNames[c]).SetTree(nil).SetPos(n.Pos),
					&parse.StringNode{NodeType: parse.NodeString, Pos: n.Pos, Quoted: strconv.Quote(action), Text: action},
				},
			})
			w.skeleton.WriteString("x")
		case *parse.IfNode:
			w.branches(&n.BranchNode, dotIsEvent, dotIsEvent)
		case *parse.WithNode:
			w.branches(&n.BranchNode, false, dotIsEvent)
		case *parse.RangeNode:
			w.branches(&n.BranchNode, false, dotIsEvent)
		case *parse.TemplateNode:
			w.errs = append(w.errs, "{{ template }} is not supported here")
		}
	}
}

// branches walks both arms of an if, with or range: the query has begun
// after it if it began in either.
func (w *walker) branches(n *parse.BranchNode, dotInList, dotInElse bool) {
	w.acted = true
	w.pipe(n.Pipe, dotInElse)
	before := w.query
	w.list(n.List, dotInList)
	inList := w.query
	w.query = before
	w.list(n.ElseList, dotInElse)
	w.query = w.query || inList
}

// pipe checks the fields a pipeline names against the event's.
func (w *walker) pipe(p *parse.PipeNode, dotIsEvent bool) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			w.arg(a, dotIsEvent)
		}
	}
}

func (w *walker) arg(a parse.Node, dotIsEvent bool) {
	switch a := a.(type) {
	case *parse.FieldNode:
		if dotIsEvent {
			w.field(a.Ident[0])
		}
	case *parse.VariableNode:
		if a.Ident[0] == "$" && len(a.Ident) > 1 { // $ is the event everywhere
			w.field(a.Ident[1])
		}
	case *parse.ChainNode:
		w.arg(a.Node, dotIsEvent)
	case *parse.PipeNode:
		w.pipe(a, dotIsEvent)
	}
}

func (w *walker) field(name string) {
	if !slices.Contains(eventFields, name) {
		w.errs = append(w.errs, fmt.Sprintf("unknown field .%s (the event's fields: %s)", name, strings.Join(eventFields, ", ")))
	}
}
