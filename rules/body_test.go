package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestCompileBody(t *testing.T) {
	ev := failedFax()
	tests := []struct {
		name, src string
		want      string // the JSON of the result
		loadErr   string // a compile error containing this
		runErr    string // a run-time error containing this
	}{
		{
			name: "the issue's example",
			src:  `{"fax_id": subject, "delivered": status == "success", "pages": data.PagesSent, "at": time}`,
			want: `{"at":"2024-06-23T17:23:13Z","delivered":false,"fax_id":"664598111","pages":0}`,
		},
		{name: "a list", src: `[subject, code]`, want: `["664598111",263]`},
		{name: "the whole data map", src: `data`, want: `{"DestinationFax":"0012125551234","PagesSent":0,"PagesSubmitted":2,"TrialsPerformed":4}`},
		{name: "nested", src: `{"fax": {"id": subject, "to": data.DestinationFax}, "tags": ["fax", source]}`,
			want: `{"fax":{"id":"664598111","to":"0012125551234"},"tags":["fax","interfax"]}`},
		{name: "misspelled field", src: `{"id": subjet}`, loadErr: "unknown name subjet (1:8)"},
		{name: "a string", src: `subject`, loadErr: "must return a map or a list (sent as JSON), not string"},
		{name: "a bool", src: `status == "success"`, loadErr: "not bool"},
		{name: "a number", src: `code + 1`, loadErr: "not int"},
		{name: "syntax", src: `{"id": }`, loadErr: "unexpected token"},
		{name: "empty", src: ` `, loadErr: "empty expression"},
		{name: "unknown type, a map at run time", src: `data.Nested ?? {"none": true}`, want: `{"none":true}`},
		{name: "unknown type, a string at run time", src: `data.DestinationFax`, runErr: "evaluated to string, want a map or a list"},
		{name: "nil at run time", src: `data.Missing`, runErr: "evaluated to nil"},
		{name: "fails at run time", src: `{"n": data.DestinationFax + 1}`, runErr: "invalid operation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eval, err := CompileBody(tc.src)
			if tc.loadErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.loadErr) {
					t.Fatalf("CompileBody = %v, want an error containing %q", err, tc.loadErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v, err := eval(ev)
			if tc.runErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.runErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("eval = %v, %v; want one line containing %q", v, err, tc.runErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(v)
			if err != nil || string(b) != tc.want {
				t.Errorf("body = %s (%v), want %s", b, err, tc.want)
			}
		})
	}
}

// A rule's webhook.body is compiled with the rule, and its mistakes are
// errors at the body's line.
func TestRuleWebhookBody(t *testing.T) {
	f := mustParse(t, `sinks: {api: {type: webhook, url: "https://x/"}}
rules:
  - name: forward
    when: final
    to: [api]
    webhook:
      body: '{"fax_id": subject}'
  - {name: plain, when: 'true', to: [api]}
`)
	rs := f.Router.Rules()
	if rs[0].Webhook == nil || rs[0].Webhook.Body != `{"fax_id": subject}` || rs[1].Webhook != nil {
		t.Fatalf("webhooks = %+v, %+v", rs[0].Webhook, rs[1].Webhook)
	}
	v, err := rs[0].Webhook.Eval(failedFax())
	if err != nil || !reflect.DeepEqual(v, map[string]any{"fax_id": "664598111"}) {
		t.Errorf("Eval = %v, %v", v, err)
	}

	const head = "sinks: {api: {type: webhook, url: \"https://x/\"}}\nrules:\n  - name: r\n    when: 'true'\n    to: [api]\n"
	tests := []struct{ name, src, want string }{
		{"misspelled field", head + "    webhook:\n      body: '{\"id\": subjcet}'\n",
			`rules.yaml:7: rule "r": webhook: body: unknown name subjcet (1:8)`},
		{"not a map or list", head + "    webhook:\n      body: subject\n",
			`rules.yaml:7: rule "r": webhook: body: must return a map or a list (sent as JSON), not string`},
		{"no body", head + "    webhook: {}\n", `rules.yaml:6: rule "r": webhook: body is required`},
		{"unknown key", head + "    webhook: {bdy: x}\n", `rules.yaml:6: rule "r": unknown key "bdy" (did you mean "body"?)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es := parseErrs(t, tc.src, nil)
			if len(es) != 1 || !strings.HasPrefix(es[0].Error(), tc.want) {
				t.Errorf("errors:\n%v\nwant one starting %q", es, tc.want)
			}
		})
	}
}

// The rule's webhook block in the schema has exactly the keys it decodes.
func TestSchemaRuleWebhookKeys(t *testing.T) {
	defs := loadSchema(t)["$defs"].(map[string]any)
	props := defs["rule"].(map[string]any)["properties"].(map[string]any)["webhook"].(map[string]any)["properties"].(map[string]any)
	var got []string
	for k := range props {
		got = append(got, k)
	}
	sort.Strings(got)
	if want := yamlKeys(reflect.TypeOf(webhookSpec{})); !slices.Equal(got, want) {
		t.Errorf("schema has %v, config has %v", got, want)
	}
}

var docBody = regexp.MustCompile(`(?m)^\s*body: '(.+)'\s*(?:#.*)?$`)

// Every body expression shown in the docs compiles.
func TestDocBodiesCompile(t *testing.T) {
	n := 0
	for _, doc := range []string{filepath.Join("..", "docs", "rules.md"), filepath.Join("..", "README.md")} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range docBody.FindAllStringSubmatch(string(b), -1) {
			src := strings.ReplaceAll(m[1], "''", "'")
			if strings.Contains(src, "…") {
				continue
			}
			n++
			if _, err := CompileBody(src); err != nil {
				t.Errorf("%s: body: %s: %v", filepath.Base(doc), src, err)
			}
		}
	}
	if n < 2 {
		t.Errorf("found only %d body expressions in the docs", n)
	}
}

// The schema accepts a shaped webhook and refuses a method it does not
// support.
func TestSchemaWebhookShape(t *testing.T) {
	schema := loadSchema(t)
	const doc = `sinks:
  w:
    type: webhook
    url: "https://api.internal/faxes/{{ .subject }}/status"
    method: %s
    secret: [whsec_new, whsec_old]
    headers: {X-Fax: "{{ .subject }}"}
    body: '{"fax_id": subject}'
rules:
  - {name: r, when: 'true', to: [w], webhook: {body: '[subject]'}}
`
	if errs := validateSchema(schema, yamlDoc(t, strings.Replace(doc, "%s", "PUT", 1))); len(errs) > 0 {
		t.Errorf("a shaped webhook does not validate:\n%s", strings.Join(errs, "\n"))
	}
	if errs := validateSchema(schema, yamlDoc(t, strings.Replace(doc, "%s", "GET", 1))); !strings.Contains(strings.Join(errs, "\n"), "oneOf") {
		t.Errorf("method GET validates: %v", errs)
	}
}
