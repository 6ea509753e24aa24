package rules

import (
	"strings"
	"testing"
	"time"
)

// A template that would write past its output budget, or run past its
// time budget, falls back to the default message and is reported; the
// event is still routed.
func TestTemplateBudget(t *testing.T) {
	f := mustParse(t, routingSinks+"rules:\n  - name: big\n    when: 'true'\n    to: [a]\n    title: 'fax {{ .subject }}'\n    text: '{{ range .data.Lines }}{{ . }}{{ end }}'\n")
	ev := failedFax()
	ev.Data["Lines"] = []any{strings.Repeat("x", 40<<10), strings.Repeat("y", 40<<10)}
	res := f.Router.Route(ev)
	if len(res.Matches) != 1 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "output larger than 65536 bytes") {
		t.Fatalf("result = %+v, want one match and an output budget error", res)
	}
	if m := res.Matches[0]; m.Text != ev.Text() || m.Title != "fax 664598111" {
		t.Errorf("message = %q / %q, want the template's title and the default text", m.Title, m.Text)
	}

	defer func(d time.Duration) { maxTemplateTime = d }(maxTemplateTime)
	maxTemplateTime = -time.Second // every write is past the deadline
	ev.Data["Lines"] = []any{"short"}
	res = f.Router.Route(ev)
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "took longer than") || res.Matches[0].Text != ev.Text() {
		t.Fatalf("result = %+v, want a time budget error and the default text", res)
	}
}
