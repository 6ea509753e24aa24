package app

import (
	"fmt"
	"slices"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/rules"
	"github.com/switchboard/switchboard/sinks/webhook"
)

// A webhook sink's body expression is compiled by package rules, which
// knows the event's typed fields (as for `when`); the sink only runs it.
// So the wiring hands the sink rules' compiler for its own body, and the
// compiled bodies of the rules that shape their deliveries to it.

// buildWebhook builds a webhook sink. New validates the whole section,
// compiling its body, so that the body's mistakes are reported with the
// others.
func (b *Built) buildWebhook(c rules.Component) (*webhook.Sink, error) {
	var cfg webhook.Config
	if err := config.Decode(c.Node, &cfg); err != nil {
		return nil, err
	}
	s, err := webhook.New(c.Name, cfg, b.webhookOptions(c.Name))
	if err != nil {
		return nil, err
	}
	b.noteSecrets("sink", c, &cfg)
	b.webhooks[c.Name] = s
	return s, nil
}

// webhookOptions are what the webhook sink name takes from the rules.
func (b *Built) webhookOptions(name string) webhook.Options {
	opts := webhook.Options{CompileBody: rules.CompileBody}
	if b.File.Router == nil {
		return opts
	}
	for _, r := range b.File.Router.Rules() {
		if r.Webhook != nil && slices.Contains(r.To, name) {
			if opts.RuleBodies == nil {
				opts.RuleBodies = map[string]webhook.Body{}
			}
			opts.RuleBodies[r.Name] = r.Webhook.Eval
		}
	}
	return opts
}

// checkRuleWebhooks refuses a rule's webhook.body that no sink of the rule
// would send: a shape silently ignored is a surprise at the receiving end.
func checkRuleWebhooks(f *rules.File) config.Errors {
	if f.Router == nil {
		return nil
	}
	types := map[string]string{}
	for _, s := range f.Sinks {
		types[s.Name] = s.Type
	}
	var errs config.Errors
	for _, r := range f.Router.Rules() {
		if r.Webhook == nil || slices.ContainsFunc(r.To, func(s string) bool { return types[s] == "webhook" }) {
			continue
		}
		e := config.Errorf(r.Webhook.Line, fmt.Sprintf("rule %q", r.Name), "webhook: body is sent by webhook sinks only, and none of the rule's sinks is one")
		e.File = f.Path
		errs = append(errs, e)
	}
	return errs
}
