package webhook

import (
	"net/url"
	"strings"
	"testing"
)

// Whatever the template and whatever the vendor sends, a URL template that
// compiles renders a URL on the host it names, or fails: event data never
// chooses the server, and each value stays within its path segment.
func FuzzURLTemplate(f *testing.F) {
	f.Add("https://api.internal/faxes/{{ .subject }}/status", "664598111")
	f.Add("https://api.internal/x?id={{ .subject }}&t={{ .type }}", "a&b=c#d")
	f.Add("https://api.internal/{{ if .final }}done{{ else }}?{{ end }}{{ .subject }}", "../../etc")
	f.Add("https://api.internal/{{ .subject | lower }}/{{ .data.X | default \"n\" }}", "@evil.example/")
	f.Fuzz(func(t *testing.T, src, subject string) {
		v, err := compileValue("url", src, true)
		if err != nil {
			return
		}
		want, err := url.Parse(src[:max(0, strings.Index(src, "{{"))])
		if v.t == nil || err != nil {
			return
		}
		out, err := v.render(map[string]any{"subject": subject, "type": "fax.outbound", "final": len(subject)%2 == 0, "data": map[string]any{}})
		if err != nil {
			return
		}
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("%q on %q rendered %q, not a URL: %v", src, subject, out, err)
		}
		if u.Scheme != want.Scheme || u.Host != want.Host {
			t.Fatalf("%q on %q rendered %q: host %q, want %q", src, subject, out, u.Host, want.Host)
		}
		if subject != "" && strings.Contains(src, "/{{ .subject }}/") && !strings.Contains(out, "/"+url.PathEscape(subject)+"/") {
			t.Fatalf("%q on %q rendered %q: the subject is not one escaped path segment", src, subject, out)
		}
	})
}
