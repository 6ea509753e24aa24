// Package rules loads rules.yaml and routes events: it parses and validates
// the whole file (strict keys, ${VAR} expansion, errors with file, line and
// name), compiles every rule's expr condition and templates once at load, and
// matches events against the rules without doing any I/O.
package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchboard/switchboard/internal/config"
)

// Defaults of the top-level settings.
const (
	DefaultListen    = ":8080"
	DefaultAdmin     = "127.0.0.1:9090"
	DefaultStore     = "switchboard.db"
	DefaultBodyLimit = 1 << 20
	// DefaultMaxConnections bounds the callback connections open at once:
	// with DefaultBodyLimit, at most 256 MiB of bodies in memory.
	DefaultMaxConnections = 256
)

// File is a parsed rules.yaml: the global settings, the receiver and sink
// sections (decoded further by their own packages) and the compiled rules.
type File struct {
	Path string // file name used in error messages
	Hash string // sha256 of the raw content, hex

	Listen    string
	Admin     string
	Store     string
	BodyLimit int64
	// MaxConnections is the most callback connections open at once; more
	// wait to be accepted. Zero in the file means DefaultMaxConnections.
	MaxConnections int
	// AdminToken, when set, is required as a bearer token by the admin
	// endpoints other than /healthz and /readyz; it must be set when Admin
	// is not a loopback address.
	AdminToken config.Secret
	Retention  Retention // with defaults for the windows left out
	redactor   *config.Redactor

	Receivers []Component
	Sinks     []SinkComponent
	Router    *Router
}

// Component is one named receiver or sink section. Node holds its keys
// without "type", for the type's own strict decoder.
type Component struct {
	Name string
	Type string
	Line int
	Node *yaml.Node
}

// Section names the component in error messages (`sink "ops-slack"`).
func (c Component) Section(kind string) string { return fmt.Sprintf("%s %q", kind, c.Name) }

// SinkComponent is a sink section with the delivery settings every sink
// type shares.
type SinkComponent struct {
	Component
	Delivery Delivery
}

// Delivery holds the per-sink delivery settings the workers apply.
type Delivery struct {
	// Timeout bounds one send attempt. Zero means 10s.
	Timeout config.Duration `yaml:"timeout"`
	// Concurrency is the number of sends in flight at once. Zero means 4.
	Concurrency int `yaml:"concurrency"`
	// Retry is the retry policy.
	Retry Retry `yaml:"retry"`
	// LeaseMargin is added to Timeout to make the lease under which an
	// instance sends a delivery: no other worker takes it before the lease
	// ends, and after a crash that is how long the delivery waits for
	// another instance. Zero means 30s.
	LeaseMargin config.Duration `yaml:"lease_margin"`
}

// Retry is a sink's retry policy: exponential backoff with jitter from
// InitialBackoff doubling up to MaxBackoff, until MaxAttempts or MaxAge.
type Retry struct {
	// MaxAttempts is the number of attempts before a delivery is dead. Zero
	// means 12.
	MaxAttempts int `yaml:"max_attempts"`
	// InitialBackoff is the wait after the first failure. Zero means 5s.
	InitialBackoff config.Duration `yaml:"initial_backoff"`
	// MaxBackoff caps the wait between attempts. Zero means 1h.
	MaxBackoff config.Duration `yaml:"max_backoff"`
	// MaxAge is how long after its creation a delivery is still retried.
	// Zero means 24h.
	MaxAge config.Duration `yaml:"max_age"`
	// MaxRetryAfter caps a server's Retry-After. Zero means 1h.
	MaxRetryAfter config.Duration `yaml:"max_retry_after"`
}

// WithDefaults returns d with zero values replaced by the defaults.
func (d Delivery) WithDefaults() Delivery {
	def := func(v *config.Duration, x time.Duration) {
		if *v == 0 {
			*v = config.Duration(x)
		}
	}
	def(&d.Timeout, 10*time.Second)
	if d.Concurrency <= 0 {
		d.Concurrency = 4
	}
	if d.Retry.MaxAttempts <= 0 {
		d.Retry.MaxAttempts = 12
	}
	def(&d.Retry.InitialBackoff, 5*time.Second)
	def(&d.Retry.MaxBackoff, time.Hour)
	def(&d.Retry.MaxAge, 24*time.Hour)
	def(&d.Retry.MaxRetryAfter, time.Hour)
	return d
}

// LoadFile reads and parses the configuration at path, expanding ${VAR}
// from the process environment.
func LoadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, bytes.NewReader(b), os.LookupEnv)
}

// Parse parses a configuration. name is used in error messages; lookup
// resolves ${VAR}. It returns every mistake at once as config.Errors, and
// with them the File as far as it could be read (nil when the YAML itself
// is broken), so that the sections can be checked further; such a File must
// not be run.
func Parse(name string, r io.Reader, lookup func(string) (string, bool)) (*File, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	sum := sha256.Sum256(raw)
	f := &File{Path: name, Hash: hex.EncodeToString(sum[:])}
	errs := f.parse(raw, lookup)
	for _, e := range errs {
		e.File = name
	}
	if len(errs) > 0 {
		if f.Router == nil {
			return nil, errs
		}
		return f, errs
	}
	return f, nil
}

// raw mirrors the top level of rules.yaml for strict decoding.
type raw struct {
	Listen     string        `yaml:"listen"`
	Admin      string        `yaml:"admin"`
	Store      string        `yaml:"store"`
	BodyLimit  int64         `yaml:"body_limit"`
	MaxConns   int           `yaml:"max_connections"`
	AdminToken config.Secret `yaml:"admin_token"`
	Retention  Retention     `yaml:"retention"`
	Receivers  yaml.Node     `yaml:"receivers"`
	Sinks      yaml.Node     `yaml:"sinks"`
	Rules      yaml.Node     `yaml:"rules"`
}

func (f *File) parse(b []byte, lookup func(string) (string, bool)) config.Errors {
	var doc yaml.Node
	if err := yaml.Unmarshal(config.Protect(b), &doc); err != nil {
		return config.YAMLErrors(err, 0)
	}
	if len(doc.Content) == 0 {
		return config.Errors{config.Errorf(0, "", "empty configuration")}
	}
	f.redactor = &config.Redactor{}
	errs := config.DuplicateKeys(&doc)
	errs = append(errs, config.Expand(&doc, f.redactor.Lookup(lookup))...)
	defer func() { f.redactor.Redact(errs) }() // errors quote values; some are secrets
	top := raw{Retention: defaultRetention}
	if err := config.Decode(&doc, &top); err != nil {
		errs = append(errs, config.AsErrors(err, 0, "")...)
	}
	f.Listen = or(top.Listen, DefaultListen)
	f.Admin = or(top.Admin, DefaultAdmin)
	f.Store = or(top.Store, DefaultStore)
	f.BodyLimit = top.BodyLimit
	if f.BodyLimit == 0 {
		f.BodyLimit = DefaultBodyLimit
	}
	if f.BodyLimit < 0 {
		errs = append(errs, config.Errorf(doc.Line, "", "body_limit must be positive"))
	}
	f.MaxConnections = top.MaxConns
	if f.MaxConnections == 0 {
		f.MaxConnections = DefaultMaxConnections
	}
	if f.MaxConnections < 0 {
		errs = append(errs, config.Errorf(doc.Line, "", "max_connections must be positive"))
	}
	f.AdminToken, f.Retention = top.AdminToken, top.Retention
	errs = append(errs, f.checkOperations(&doc)...)

	recvs, es := components(&top.Receivers, "receiver")
	errs = append(errs, es...)
	f.Receivers = recvs
	sinks, es := components(&top.Sinks, "sink")
	errs = append(errs, es...)
	for _, c := range sinks {
		sc, es := sinkComponent(c)
		errs = append(errs, es...)
		f.Sinks = append(f.Sinks, sc)
	}
	markups := make(map[string]Markup, len(f.Sinks))
	for _, s := range f.Sinks {
		markups[s.Name] = MarkupOf(s.Type)
	}
	router, es := compileRules(&top.Rules, markups)
	errs = append(errs, es...)
	f.Router = router
	return errs
}

// components splits a mapping of named sections, taking out each one's type.
func components(n *yaml.Node, kind string) ([]Component, config.Errors) {
	if n.Kind == 0 {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, config.Errors{config.Errorf(n.Line, "", "%ss must be a mapping of name to settings", kind)}
	}
	var out []Component
	var errs config.Errors
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		c := Component{Name: k.Value, Line: k.Line}
		section := c.Section(kind)
		if !validName(c.Name) {
			errs = append(errs, config.Errorf(k.Line, section, "invalid name: use letters, digits, '-' and '_'"))
		}
		if v.Kind != yaml.MappingNode {
			errs = append(errs, config.Errorf(v.Line, section, "must be a mapping with a type"))
			continue
		}
		rest := &yaml.Node{Kind: yaml.MappingNode, Line: v.Line, Column: v.Column}
		for j := 0; j+1 < len(v.Content); j += 2 {
			if v.Content[j].Value == "type" {
				c.Type = v.Content[j+1].Value
				continue
			}
			rest.Content = append(rest.Content, v.Content[j], v.Content[j+1])
		}
		if c.Type == "" {
			errs = append(errs, config.Errorf(v.Line, section, "missing type"))
		}
		c.Node = rest
		out = append(out, c)
	}
	return out, errs
}

// sinkComponent takes the shared delivery settings out of a sink section.
func sinkComponent(c Component) (SinkComponent, config.Errors) {
	sc := SinkComponent{Component: c}
	common := &yaml.Node{Kind: yaml.MappingNode, Line: c.Node.Line}
	rest := &yaml.Node{Kind: yaml.MappingNode, Line: c.Node.Line, Column: c.Node.Column}
	for j := 0; j+1 < len(c.Node.Content); j += 2 {
		switch c.Node.Content[j].Value {
		case "timeout", "concurrency", "retry", "lease_margin":
			common.Content = append(common.Content, c.Node.Content[j], c.Node.Content[j+1])
		default:
			rest.Content = append(rest.Content, c.Node.Content[j], c.Node.Content[j+1])
		}
	}
	sc.Node = rest
	if err := config.Decode(common, &sc.Delivery); err != nil {
		return sc, config.AsErrors(err, c.Line, c.Section("sink"))
	}
	return sc, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r != '-' && r != '_' && r != '.' && (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
