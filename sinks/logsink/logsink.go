// Package logsink writes each rendered message to the service log as one
// structured line. It needs no secrets, so the example configuration runs
// anywhere, and it doubles as an audit trail.
package logsink

import (
	"context"
	"log/slog"

	"github.com/switchboard/switchboard/sinks"
)

// Config is the log sink's section of rules.yaml.
type Config struct {
	// Level is the log level of the lines: debug, info (default), warn or
	// error.
	Level string `yaml:"level"`
}

// Validate checks the level.
func (c *Config) Validate() error {
	var l slog.Level
	if c.Level == "" {
		return nil
	}
	return l.UnmarshalText([]byte(c.Level))
}

// Sink logs messages.
type Sink struct {
	log   *slog.Logger
	level slog.Level
}

// New returns a log sink writing to logger.
func New(name string, cfg Config, logger *slog.Logger) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var l slog.Level
	if cfg.Level != "" {
		_ = l.UnmarshalText([]byte(cfg.Level))
	}
	return &Sink{log: logger.With("sink", name), level: l}, nil
}

// Send writes the message as one log line. It never fails.
func (s *Sink) Send(ctx context.Context, m *sinks.Message) error {
	s.log.Log(ctx, s.level, m.Title,
		"delivery", m.DeliveryID,
		"rule", m.Rule,
		"event", m.Event.ID,
		"source", m.Event.Source,
		"type", m.Event.Type,
		"subject", m.Event.Subject,
		"status", m.Event.Status,
		"text", m.Text,
	)
	return nil
}

var _ sinks.Sink = (*Sink)(nil)
