package rules

import (
	"strings"
	"testing"
)

// For a Slack sink, the values a template interpolates are escaped (&, <,
// >) while the template's own text keeps its markup, as html/template does
// for HTML; raw opts a value out. Other sinks get the same templates
// unescaped.
func TestTemplatesEscapeForSlack(t *testing.T) {
	const hostile = `<!channel> <https://evil.example.com|Reset> & co`
	tests := []struct {
		name, title, text string
		slack, plain      string // text as rendered for each sink
	}{
		{"value", "", `<!here> from {{ .data.CSID }}`, `<!here> from &lt;!channel&gt; &lt;https://evil.example.com|Reset&gt; &amp; co`, `<!here> from ` + hostile},
		{"pipeline", "", `{{ .data.CSID | upper }}`, `&lt;!CHANNEL&gt; &lt;HTTPS://EVIL.EXAMPLE.COM|RESET&gt; &amp; CO`, strings.ToUpper(hostile)},
		{"printf", "", `{{ printf "%s!" .data.CSID }}`, `&lt;!channel&gt; &lt;https://evil.example.com|Reset&gt; &amp; co!`, hostile + "!"},
		{"raw", "", `{{ raw .data.Link }} {{ .data.Link | raw }}`, `<https://docs.example.com|runbook> <https://docs.example.com|runbook>`, `<https://docs.example.com|runbook> <https://docs.example.com|runbook>`},
		{"raw must end the pipeline", "", `{{ raw .data.CSID | upper }}`, `&lt;!CHANNEL&gt; &lt;HTTPS://EVIL.EXAMPLE.COM|RESET&gt; &amp; CO`, strings.ToUpper(hostile)},
		{"variables, if, range, with", "", `{{ $c := .data.CSID }}{{ if $c }}[{{ $c }}]{{ end }}{{ range .data.List }}<{{ . }}>{{ end }}{{ with .data.CSID }}{{ . }}{{ end }}`,
			`[&lt;!channel&gt; &lt;https://evil.example.com|Reset&gt; &amp; co]<&lt;a&gt;><b&amp;>&lt;!channel&gt; &lt;https://evil.example.com|Reset&gt; &amp; co`,
			`[` + hostile + `]<<a>><b&>` + hostile},
		{"defined template", "", `{{ define "x" }}<{{ . }}>{{ end }}{{ template "x" .data.CSID }}`, `<&lt;!channel&gt; &lt;https://evil.example.com|Reset&gt; &amp; co>`, `<` + hostile + `>`},
		{"json is safe already", "", `{{ json .data.CSID }}`, `"\u003c!channel\u003e \u003chttps://evil.example.com|Reset\u003e \u0026 co"`, `"\u003c!channel\u003e \u003chttps://evil.example.com|Reset\u003e \u0026 co"`},
		{"missing key", "", `{{ .data.Nope }}`, `<no value>`, `<no value>`},
		{"title only: the default text is escaped too", `Fax {{ .subject }}`, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "sinks:\n  chat: {type: slack, webhook_url: \"https://hooks.slack.com/services/T/B/X\"}\n  mail: {type: log}\nrules:\n  - name: r\n    when: \"true\"\n    to: [chat, mail]\n"
			if tc.title != "" {
				src += "    title: " + yamlQuote(tc.title) + "\n"
			}
			if tc.text != "" {
				src += "    text: " + yamlQuote(tc.text) + "\n"
			}
			ev := failedFax()
			ev.Description = hostile
			ev.Data["CSID"] = hostile
			ev.Data["Link"] = "<https://docs.example.com|runbook>"
			ev.Data["List"] = []any{"<a>", "b&"}
			res := mustParse(t, src).Router.Route(ev)
			if len(res.Matches) != 2 || len(res.Errors) > 0 {
				t.Fatalf("route: %+v %v", res.Matches, res.Errors)
			}
			slack, plain := res.Matches[0], res.Matches[1]
			if !slack.Templated || !plain.Templated {
				t.Fatalf("not templated: %+v", res.Matches)
			}
			if tc.text == "" {
				// The default text next to a template: vendor text.
				if strings.Contains(slack.Text, "<!channel>") || !strings.Contains(slack.Text, "&lt;!channel&gt;") {
					t.Errorf("Slack default text not escaped: %q", slack.Text)
				}
				if !strings.Contains(plain.Text, hostile) {
					t.Errorf("plain default text changed: %q", plain.Text)
				}
				return
			}
			if slack.Text != tc.slack {
				t.Errorf("Slack text:\n got %s\nwant %s", slack.Text, tc.slack)
			}
			if plain.Text != tc.plain {
				t.Errorf("plain text:\n got %s\nwant %s", plain.Text, tc.plain)
			}
			if strings.Contains(slack.Title, "<!channel>") {
				t.Errorf("Slack title not escaped: %q", slack.Title)
			}
		})
	}
}

// A throttled rule's message after suppressed ones is rendered for Slack
// the same way.
func TestThrottledRenderEscapesForSlack(t *testing.T) {
	f := mustParse(t, `sinks:
  chat: {type: slack, webhook_url: "https://hooks.slack.com/services/T/B/X"}
  mail: {type: log}
rules:
  - name: r
    when: "true"
    to: [chat, mail]
    text: '{{ .data.CSID }} (+{{ .suppressed }})'
    throttle: {key: subject, window: 1m}
`)
	ev := failedFax()
	ev.Data["CSID"] = "<!here>"
	res := f.Router.Route(ev)
	slack, plain := res.Matches[0], res.Matches[1]
	if _, text := slack.Render(2); text != "&lt;!here&gt; (+2)" {
		t.Errorf("Slack Render(2) text = %q", text)
	}
	if _, text := plain.Render(2); text != "<!here> (+2)" {
		t.Errorf("plain Render(2) text = %q", text)
	}
}

func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
