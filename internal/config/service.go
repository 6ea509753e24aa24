package config

import (
	"net"
	"strings"
	"time"
)

// Defaults of the service settings.
const (
	DefaultListen    = ":8080"
	DefaultAdmin     = "127.0.0.1:9090"
	DefaultStore     = "switchboard.db"
	DefaultBodyLimit = 1 << 20
	// DefaultMaxConnections bounds the callback connections open at once:
	// with DefaultBodyLimit, at most 256 MiB of bodies in memory.
	DefaultMaxConnections = 256
)

// Service is the settings of the service itself, at the top level of
// rules.yaml: its listeners, its store, the admin token, the intake limits
// and retention. Package rules decodes them with the rest of the file.
type Service struct {
	// Listen is the address of the callback listener. Empty means
	// DefaultListen.
	Listen string `yaml:"listen"`
	// Admin is the address of the admin listener. Empty means
	// DefaultAdmin.
	Admin string `yaml:"admin"`
	// Store is the SQLite file or postgres:// URL of the store. Empty
	// means DefaultStore.
	Store string `yaml:"store"`
	// BodyLimit is the largest callback body accepted, in bytes. Zero
	// means DefaultBodyLimit.
	BodyLimit int64 `yaml:"body_limit"`
	// MaxConnections is the most callback connections open at once; more
	// wait to be accepted. Zero in the file means DefaultMaxConnections.
	MaxConnections int `yaml:"max_connections"`
	// AdminToken, when set, is required as a bearer token by the admin
	// endpoints other than /healthz and /readyz; it must be set when Admin
	// is not a loopback address.
	AdminToken Secret `yaml:"admin_token"`
	// Retention is decoded over DefaultRetention, so the windows left out
	// have their defaults.
	Retention Retention `yaml:"retention"`
	// ExpectGrace is how long after start, and after the store failed to
	// answer, expectation timers that are due are held before they fire
	// (and receivers are judged silent), so that a final status the vendor
	// retries after an outage of Switchboard cancels its timer instead of
	// raising a false alarm. Decoded over DefaultExpectGrace; an explicit 0
	// holds none.
	ExpectGrace Duration `yaml:"expect_grace"`
}

// WithDefaults returns s with empty and zero values replaced by the
// defaults. Retention is left alone: its zero means "forever", and its
// defaults come from decoding over DefaultRetention.
func (s Service) WithDefaults() Service {
	s.Listen = or(s.Listen, DefaultListen)
	s.Admin = or(s.Admin, DefaultAdmin)
	s.Store = or(s.Store, DefaultStore)
	if s.BodyLimit == 0 {
		s.BodyLimit = DefaultBodyLimit
	}
	if s.MaxConnections == 0 {
		s.MaxConnections = DefaultMaxConnections
	}
	return s
}

// DefaultExpectGrace is ExpectGrace when the file leaves it out.
const DefaultExpectGrace = time.Minute

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
	Delivered Duration `yaml:"delivered"`
	// Dead is how long dead deliveries and their events are kept. Unset
	// means 30 days; 0 keeps them forever.
	Dead Duration `yaml:"dead"`
}

// DefaultRetention is the retention to decode over: the windows the file
// leaves out keep their default, and an explicit 0 stays 0.
func DefaultRetention() Retention {
	return Retention{
		Delivered: Duration(DefaultRetainDelivered),
		Dead:      Duration(DefaultRetainDead),
	}
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

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
