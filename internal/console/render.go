package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/store"
)

// pageTemplate is one page: the layout with the page's content.
type pageTemplate = template.Template

// pageNames are the pages in templates/, each parsed with layout.html.
var pageNames = []string{"deliveries", "delivery", "retry", "subject", "rules", "try", "login", "error"}

func parsePages() map[string]*pageTemplate {
	out := map[string]*pageTemplate{}
	for _, n := range pageNames {
		out[n] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html"))
	}
	return out
}

var funcs = template.FuncMap{
	"stamp": stamp,
	"stampMS": func(t time.Time) string {
		return t.UTC().Format("2006-01-02 15:04:05.000Z")
	},
	"ago":   ago,
	"state": stateLabel,
	"ms": func(d time.Duration) string {
		if d < time.Millisecond {
			return "<1ms"
		}
		return d.Round(time.Millisecond).String()
	},
	"pretty": pretty,
	// indent keeps a body's bytes but for whitespace: the webhook body
	// as sent, key order and escapes included.
	"indent": func(raw []byte) string {
		var b bytes.Buffer
		if json.Indent(&b, raw, "", "  ") != nil {
			return string(raw)
		}
		return b.String()
	},
	"subjectPath": func(s string) string {
		return "/subjects/" + url.PathEscape(s)
	},
}

// stamp formats a time as the CLI does: UTC, to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// ago is how long before now t was, to the second.
func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String()
}

// stateLabel is the text a state is shown with next to its colour, so
// the state never rests on colour alone.
func stateLabel(s string) string {
	switch s {
	case store.StateDead:
		return "✗ dead"
	case store.StateDelivered:
		return "✓ delivered"
	case store.StatePending:
		return "… pending"
	case store.StateSuppressed:
		return "– suppressed"
	case store.StateNoSink:
		return "! no sink"
	case store.StateSilenced:
		return "– silenced"
	}
	return s
}

// pretty indents JSON, with <, > and & as they are rather than the \u
// escapes encoding/json writes (the page escapes them as HTML); what does
// not parse is shown as it is. Keys come out sorted, numbers as written.
func pretty(raw []byte) string {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return string(raw)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if enc.Encode(v) != nil {
		return string(raw)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// page is what the layout needs besides a page's own data.
type page struct {
	Title    string
	Nav      string // which menu entry is current
	CSRF     string
	TokenSet bool // an admin token is configured: show the logout button
	Data     any
}

// render writes a page with status code.
func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, name, title, nav string, data any) {
	var b bytes.Buffer
	p := page{Title: title, Nav: nav, CSRF: c.csrfToken(w, r), TokenSet: c.loggedIn(r), Data: data}
	if err := c.pages[name].Execute(&b, p); err != nil {
		c.rt.Log().Error("console: render", "page", name, "err", err)
		http.Error(w, "the page failed to render", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = b.WriteTo(w)
}

// fail answers an error page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	c.render(w, r, code, "error", http.StatusText(code), "", msg)
}

// storeFailed answers a store error: not found, or unavailable (logged).
func (c *Console) storeFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		c.fail(w, r, http.StatusNotFound, err.Error())
		return
	}
	c.rt.Log().Error("console: "+what, "err", err)
	c.fail(w, r, http.StatusServiceUnavailable, "The store did not answer; try again.")
}
