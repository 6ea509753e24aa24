package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
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
