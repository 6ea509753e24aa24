package email

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"text/tabwriter"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/sinks"
)

// bodies are the two alternative renderings of one message.
type bodies struct {
	plain, html string
}

// view is what the HTML template sees.
type view struct {
	Title, Text string
	Color       string // status colour of the title bar
	Fields      []sinks.Field
	Rule, Event string
}

// render builds the plain-text and HTML bodies of m: its text, then the
// event's fields, then which rule and event it came from. Both carry the
// same content; the HTML is escaped by html/template.
func render(m *sinks.Message) (bodies, error) {
	ev := m.Event
	if ev == nil {
		ev = &event.Event{}
	}
	fs := fields(ev)

	var b strings.Builder
	b.WriteString(strings.TrimRight(m.Text, "\n"))
	b.WriteString("\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, f := range fs {
		// Continuation lines of multi-line values (errors) stay indented.
		v := strings.ReplaceAll(f.Value, "\n", "\n\t")
		fmt.Fprintf(tw, "%s:\t%s\n", f.Label, v)
	}
	if err := tw.Flush(); err != nil {
		return bodies{}, err
	}
	fmt.Fprintf(&b, "\n-- \nRule %s · event %s\nSent by Switchboard.\n", m.Rule, ev.ID)

	var h bytes.Buffer
	err := htmlBody.Execute(&h, view{
		Title: m.Title, Text: m.Text, Color: statusColor(ev.Status),
		Fields: fs, Rule: m.Rule, Event: ev.ID,
	})
	if err != nil {
		return bodies{}, err
	}
	return bodies{plain: b.String(), html: h.String()}, nil
}

func statusColor(status string) string {
	switch status {
	case event.StatusSuccess:
		return "#2e7d32"
	case event.StatusFailure:
		return "#c62828"
	case event.StatusPending:
		return "#f9a825"
	}
	return "#757575"
}

// htmlBody uses inline styles only: most mail clients drop <style>.
var htmlBody = template.Must(template.New("html").Parse(`<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="margin:0;padding:16px;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:14px;color:#222">
<h2 style="margin:0 0 12px;padding-left:10px;border-left:4px solid {{.Color}};font-size:18px">{{.Title}}</h2>
<p style="margin:0 0 16px;white-space:pre-wrap">{{.Text}}</p>
<table cellpadding="4" cellspacing="0" style="border-collapse:collapse">
{{- range .Fields}}
<tr><th align="left" valign="top" style="padding-right:16px;color:#555;font-weight:600">{{.Label}}</th><td style="white-space:pre-wrap">{{.Value}}</td></tr>
{{- end}}
</table>
<p style="margin:16px 0 0;color:#777;font-size:12px">Rule {{.Rule}} · event {{.Event}} · sent by Switchboard</p>
</body>
</html>
`))
