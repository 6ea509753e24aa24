package rules

import (
	"net"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchboard/switchboard/internal/config"
)

// Default retention windows.
const (
	DefaultRetainDelivered = 7 * 24 * time.Hour
	DefaultRetainDead      = 30 * 24 * time.Hour
)

// Retention says how long the delivery log keeps finished deliveries. A
// window left out of the configuration gets its default; an explicit 0
// keeps that kind forever.
type Retention struct {
	// Delivered is how long delivered (and throttle-suppressed) deliveries,
	// events without deliveries left and subject states are kept. Unset
	// means 7 days; 0 keeps them forever.
	Delivered config.Duration `yaml:"delivered"`
	// Dead is how long dead deliveries and their events are kept. Unset
	// means 30 days; 0 keeps them forever.
	Dead config.Duration `yaml:"dead"`
}

// defaultRetention is decoded over: the windows the file leaves out keep
// their default, and an explicit 0 stays 0.
var defaultRetention = Retention{
	Delivered: config.Duration(DefaultRetainDelivered),
	Dead:      config.Duration(DefaultRetainDead),
}

// IsLoopback reports whether a listen address only accepts connections
// from this host: "127.0.0.1:9090", "[::1]:9090", "localhost:9090". An
// empty host (":9090") listens on every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkOperations checks the admin and retention settings.
func (f *File) checkOperations(doc *yaml.Node) config.Errors {
	var errs config.Errors
	lines := map[string]int{}
	if len(doc.Content) > 0 {
		lines = keyLines(doc.Content[0])
	}
	if !IsLoopback(f.Admin) && f.AdminToken == "" {
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
