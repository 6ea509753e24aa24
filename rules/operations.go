package rules

import (
	"gopkg.in/yaml.v3"

	"github.com/switchboard/switchboard/internal/config"
)

// checkOperations checks the admin settings.
func (f *File) checkOperations(doc *yaml.Node) config.Errors {
	var errs config.Errors
	lines := map[string]int{}
	if len(doc.Content) > 0 {
		lines = keyLines(doc.Content[0])
	}
	if !config.IsLoopback(f.Admin) && f.AdminToken == "" {
		errs = append(errs, config.Errorf(lines["admin"], "",
			"admin %q is not a loopback address: set admin_token so the admin API, /metrics and reload require it", f.Admin))
	}
	if f.AdminToken != "" && len(f.AdminToken.Value()) < 16 {
		errs = append(errs, config.Errorf(lines["admin_token"], "", "admin_token must be at least 16 characters"))
	}
	return errs
}

// Redact replaces in the messages of es the values that ${VAR} expanded to
// in this file with the variable's name: the sections' own decoders quote
// values in their errors, and some values are secrets.
func (f *File) Redact(es config.Errors) { f.redactor.Redact(es) }

// FromVariable reports whether the value s came from a ${VAR} of this file
// rather than being written in it.
func (f *File) FromVariable(s string) bool { return f.redactor.FromVariable(s) }
