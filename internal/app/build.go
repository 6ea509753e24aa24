// Package app wires Switchboard together: it turns a parsed configuration
// into receivers, sinks and rules (one explicit switch per kind, no
// registries), and runs the service around the store, the HTTP server and
// the delivery workers.
package app

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/deliver"
	"github.com/switchboard/switchboard/internal/server"
	"github.com/switchboard/switchboard/receivers"
	"github.com/switchboard/switchboard/receivers/interfax"
	"github.com/switchboard/switchboard/receivers/telesign"
	"github.com/switchboard/switchboard/rules"
	"github.com/switchboard/switchboard/sinks"
	"github.com/switchboard/switchboard/sinks/email"
	"github.com/switchboard/switchboard/sinks/logsink"
	"github.com/switchboard/switchboard/sinks/slack"
	"github.com/switchboard/switchboard/sinks/webhook"
)

// Built is a configuration made ready to run.
type Built struct {
	File      *rules.File
	Routing   *server.Routing
	Targets   []deliver.Target
	Warnings  []string
	receivers map[string]receivers.Receiver
	// unauthenticated names the receivers that accept callbacks without
	// credentials (dry runs say so instead of "verification passed").
	unauthenticated map[string]bool

	// InlineSecrets names the secrets written in the file itself rather
	// than taken from a ${VAR} (`admin_token`, `receiver "fax" token`).
	InlineSecrets []string

	// webhooks are the webhook sinks by name, whose requests dry runs show.
	webhooks map[string]*webhook.Sink
	// threaded are the Slack sinks with thread:, by name, and threadKeys
	// their compiled keys (see threads.go).
	threaded   map[string]*slack.Sink
	threadKeys map[string]*rules.Key
}

// Load reads path and builds it; errors are config.Errors naming file,
// line and section.
func Load(path string, log *slog.Logger) (*Built, error) {
	f, err := rules.LoadFile(path)
	var es config.Errors
	if err != nil && (f == nil || !errors.As(err, &es)) {
		return nil, err
	}
	b, berr := Build(f, log)
	if err == nil {
		return b, berr
	}
	// Report the sections' own mistakes along with the file's.
	var bes config.Errors
	errors.As(berr, &bes)
	all := append(append(config.Errors{}, es...), bes...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Line < all[j].Line })
	return nil, all
}

// Build constructs every receiver and sink of f. It reports all mistakes at
// once.
func Build(f *rules.File, log *slog.Logger) (*Built, error) {
	b := &Built{File: f, receivers: map[string]receivers.Receiver{}, unauthenticated: map[string]bool{}, webhooks: map[string]*webhook.Sink{}}
	if t := f.AdminToken.Value(); t != "" && !f.FromVariable(t) {
		b.InlineSecrets = append(b.InlineSecrets, "admin_token")
	}
	var errs config.Errors
	for _, c := range f.Receivers {
		if c.Type == "" {
			continue // already reported
		}
		r, warn, err := b.buildReceiver(c.Component)
		if err != nil {
			errs = append(errs, located(f, err, c.Component, "receiver")...)
			continue
		}
		if warn != "" {
			b.Warnings = append(b.Warnings, fmt.Sprintf("%s: receiver %q: %s", f.Path, c.Name, warn))
			b.unauthenticated[c.Name] = warn == unauthenticatedWarning
		}
		b.receivers[c.Name] = r
	}
	for _, c := range f.Sinks {
		if c.Type == "" {
			continue // already reported
		}
		s, err := b.buildSink(c.Component, log)
		if err != nil {
			errs = append(errs, located(f, err, c.Component, "sink")...)
			continue
		}
		d := c.Delivery
		if d.Concurrency <= 0 {
			d.Concurrency = defaultConcurrency[c.Type]
		}
		_, threaded := b.threaded[c.Name]
		b.Targets = append(b.Targets, deliver.Target{Name: c.Name, Sink: kindedSink{s}, Delivery: d.WithDefaults(), Threaded: threaded})
	}
	if f.Router != nil {
		f.Router.SetThreads(b.threadKeys)
	}
	errs = append(errs, checkRuleWebhooks(f)...)
	if len(errs) > 0 {
		return nil, errs
	}
	b.Routing = &server.Routing{Receivers: b.receivers, Router: f.Router, BodyLimit: f.BodyLimit, Hash: f.Hash}
	return b, nil
}

// located places the errors of component c: at the line of the key they
// name, else at the component.
func located(f *rules.File, err error, c rules.Component, kind string) config.Errors {
	es := config.AsErrors(err, 0, c.Section(kind))
	config.AtKeys(es, c.Node)
	for _, e := range es {
		if e.Line == 0 {
			e.Line = c.Line
		}
	}
	for _, e := range es {
		e.File = f.Path
	}
	f.Redact(es)
	return es
}

// decode decodes a component's section strictly into cfg and validates it.
func decode(c rules.Component, cfg config.Validator) error {
	if err := config.Decode(c.Node, cfg); err != nil {
		return err
	}
	return cfg.Validate()
}

// defaultConcurrency is the sends in flight per sink type when the sink
// does not set concurrency: enough for a webhook on a local network, or the
// log, to keep up with intake. Slack (whose rate limit spaces sends anyway)
// and email (SMTP servers limit connections) get config.Delivery's default
// of 4.
var defaultConcurrency = map[string]int{"webhook": 16, "log": 16}

// decode decodes and validates a component's section, and notes the
// secrets written in the file itself.
func (b *Built) decode(kind string, c rules.Component, cfg config.Validator) error {
	if err := decode(c, cfg); err != nil {
		return err
	}
	b.noteSecrets(kind, c, cfg)
	return nil
}

// noteSecrets notes the secrets of a decoded section that are written in
// the file itself.
func (b *Built) noteSecrets(kind string, c rules.Component, cfg any) {
	secrets := config.SecretValues(cfg)
	for _, key := range slices.Sorted(maps.Keys(secrets)) {
		if !b.File.FromVariable(secrets[key]) {
			b.InlineSecrets = append(b.InlineSecrets, c.Section(kind)+" "+key)
		}
	}
}

// unauthenticatedWarning is logged at every start for a receiver that
// accepts callbacks from anyone.
const unauthenticatedWarning = "unauthenticated: true: anyone who can reach the URL can post callbacks"

func (b *Built) buildReceiver(c rules.Component) (receivers.Receiver, string, error) {
	warnIf := func(unauth bool) string {
		if unauth {
			return unauthenticatedWarning
		}
		return ""
	}
	switch c.Type {
	case "interfax":
		var cfg interfax.Config
		if err := b.decode("receiver", c, &cfg); err != nil {
			return nil, "", err
		}
		r, err := interfax.New(c.Name, cfg)
		return r, warnIf(cfg.Unauthenticated && cfg.Token == ""), err
	case "telesign":
		var cfg telesign.Config
		if err := b.decode("receiver", c, &cfg); err != nil {
			return nil, "", err
		}
		r, err := telesign.New(c.Name, cfg)
		return r, warnIf(cfg.Unauthenticated && cfg.APIKey == ""), err
	default:
		if testReceiver != nil && c.Type == "test" {
			return testReceiver(c)
		}
		return nil, "", fmt.Errorf("unknown receiver type %q (known: interfax, telesign)", c.Type)
	}
}

func (b *Built) buildSink(c rules.Component, log *slog.Logger) (sinks.Sink, error) {
	switch c.Type {
	case "webhook":
		return b.buildWebhook(c)
	case "slack":
		return b.buildSlack(c)
	case "email":
		var cfg email.Config
		if err := b.decode("sink", c, &cfg); err != nil {
			return nil, err
		}
		return email.New(c.Name, cfg)
	case "log":
		var cfg logsink.Config
		if err := b.decode("sink", c, &cfg); err != nil {
			return nil, err
		}
		return logsink.New(c.Name, cfg, log)
	default:
		return nil, fmt.Errorf("unknown sink type %q (known: slack, email, webhook, log)", c.Type)
	}
}

// testReceiver builds the "test" receiver type in binaries built with the
// switchboard_testreceiver tag (process-level tests); nil otherwise.
var testReceiver func(c rules.Component) (receivers.Receiver, string, error)
