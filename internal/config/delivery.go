package config

import "time"

// Delivery holds the per-sink delivery settings the workers apply.
type Delivery struct {
	// Timeout bounds one send attempt. Zero means 10s.
	Timeout Duration `yaml:"timeout"`
	// Concurrency is the number of sends in flight at once. Zero means 4.
	Concurrency int `yaml:"concurrency"`
	// Retry is the retry policy.
	Retry Retry `yaml:"retry"`
	// LeaseMargin is added to Timeout to make the lease under which an
	// instance sends a delivery: no other worker takes it before the lease
	// ends, and after a crash that is how long the delivery waits for
	// another instance. Zero means 30s.
	LeaseMargin Duration `yaml:"lease_margin"`
}

// Retry is a sink's retry policy: exponential backoff with jitter from
// InitialBackoff doubling up to MaxBackoff, until MaxAttempts or MaxAge.
type Retry struct {
	// MaxAttempts is the number of attempts before a delivery is dead. Zero
	// means 12.
	MaxAttempts int `yaml:"max_attempts"`
	// InitialBackoff is the wait after the first failure. Zero means 5s.
	InitialBackoff Duration `yaml:"initial_backoff"`
	// MaxBackoff caps the wait between attempts. Zero means 1h.
	MaxBackoff Duration `yaml:"max_backoff"`
	// MaxAge is how long after its creation a delivery is still retried.
	// Zero means 24h.
	MaxAge Duration `yaml:"max_age"`
	// MaxRetryAfter caps a server's Retry-After. Zero means 1h.
	MaxRetryAfter Duration `yaml:"max_retry_after"`
}

// WithDefaults returns d with zero values replaced by the defaults.
func (d Delivery) WithDefaults() Delivery {
	def := func(v *Duration, x time.Duration) {
		if *v == 0 {
			*v = Duration(x)
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
