// Package rules loads rules.yaml and routes events: it parses and validates
// the whole file (strict keys, ${VAR} expansion, errors with file, line and
// name) into the service settings of package config, the receiver and sink
// sections and the rules, compiles every rule's expr condition and templates
// once at load, and matches events against the rules without doing any I/O.
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

// File is a parsed rules.yaml: the service settings, the receiver and sink
// sections (decoded further by their own packages) and the compiled rules.
type File struct {
	Path string // file name used in error messages
	Hash string // sha256 of the raw content, hex

	config.Service // with defaults for the settings left out
	redactor       *config.Redactor

	Receivers []ReceiverComponent
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

// ReceiverComponent is a receiver section with the settings every
// receiver type shares.
type ReceiverComponent struct {
	Component
	// ExpectTraffic is how long the receiver may accept no callback before
	// Switchboard emits receiver.silent; zero watches nothing.
	ExpectTraffic time.Duration
}

// SinkComponent is a sink section with the delivery settings every sink
// type shares.
type SinkComponent struct {
	Component
	Delivery config.Delivery
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
	config.Service `yaml:",inline"`
	Receivers      yaml.Node `yaml:"receivers"`
	Sinks          yaml.Node `yaml:"sinks"`
	Rules          yaml.Node `yaml:"rules"`
	Expect         yaml.Node `yaml:"expect"`
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
	top := raw{Service: config.Service{Retention: config.DefaultRetention(), ExpectGrace: config.Duration(config.DefaultExpectGrace)}}
	if err := config.Decode(&doc, &top); err != nil {
		errs = append(errs, config.AsErrors(err, 0, "")...)
	}
	f.Service = top.Service.WithDefaults()
	if f.BodyLimit < 0 {
		errs = append(errs, config.Errorf(doc.Line, "", "body_limit must be positive"))
	}
	if f.MaxConnections < 0 {
		errs = append(errs, config.Errorf(doc.Line, "", "max_connections must be positive"))
	}
	errs = append(errs, f.checkOperations(&doc)...)

	recvs, es := components(&top.Receivers, "receiver")
	errs = append(errs, es...)
	for _, c := range recvs {
		rc, es := receiverComponent(c)
		errs = append(errs, es...)
		f.Receivers = append(f.Receivers, rc)
	}
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
	router.expects, es = compileExpectations(&top.Expect)
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

// receiverSettings are the settings every receiver type shares, taken out
// of its section before the type's own decoder sees it.
type receiverSettings struct {
	ExpectTraffic config.Duration `yaml:"expect_traffic"`
}

// receiverComponent takes the shared settings (expect_traffic) out of a
// receiver section.
func receiverComponent(c Component) (ReceiverComponent, config.Errors) {
	rc := ReceiverComponent{Component: c}
	common := &yaml.Node{Kind: yaml.MappingNode, Line: c.Node.Line}
	rest := &yaml.Node{Kind: yaml.MappingNode, Line: c.Node.Line, Column: c.Node.Column}
	line := c.Line
	for j := 0; j+1 < len(c.Node.Content); j += 2 {
		if c.Node.Content[j].Value == "expect_traffic" {
			common.Content = append(common.Content, c.Node.Content[j], c.Node.Content[j+1])
			line = c.Node.Content[j+1].Line
		} else {
			rest.Content = append(rest.Content, c.Node.Content[j], c.Node.Content[j+1])
		}
	}
	rc.Node = rest
	var set receiverSettings
	if err := config.Decode(common, &set); err != nil {
		return rc, config.AsErrors(err, line, c.Section("receiver"))
	}
	if set.ExpectTraffic < 0 {
		return rc, config.Errors{config.Errorf(line, c.Section("receiver"), "expect_traffic must be positive (e.g. 30m)")}
	}
	rc.ExpectTraffic = time.Duration(set.ExpectTraffic)
	return rc, nil
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
