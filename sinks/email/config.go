package email

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/mail"
	"os"

	"github.com/switchboard/switchboard/internal/config"
)

// TLS modes of Config.SMTP.TLS.
const (
	// TLSStartTLS connects in clear and upgrades with STARTTLS before
	// anything else is sent; a server without STARTTLS is refused.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, usually port 465).
	TLSImplicit = "tls"
	// TLSNone sends everything in clear; meant for a local relay.
	TLSNone = "none"
)

// defaultPorts are the submission ports of each TLS mode.
var defaultPorts = map[string]int{TLSStartTLS: 587, TLSImplicit: 465, TLSNone: 25}

// Config is the configuration of one email sink.
type Config struct {
	SMTP SMTP `yaml:"smtp"`
	// From is the sender address, optionally with a display name
	// ("Switchboard <switchboard@example.com>").
	From string `yaml:"from"`
	// To and CC are the recipients; To needs at least one address.
	To []string `yaml:"to"`
	CC []string `yaml:"cc"`
}

// SMTP says how to reach the submission server.
type SMTP struct {
	Host string `yaml:"host"`
	// Port is the TCP port; zero means 587 for starttls, 465 for tls and
	// 25 for none.
	Port int `yaml:"port"`
	// Username and Password authenticate with SMTP AUTH (PLAIN, else
	// LOGIN, else CRAM-MD5, as the server offers). Both empty: no AUTH.
	// Credentials are only ever sent over TLS.
	Username string        `yaml:"username"`
	Password config.Secret `yaml:"password"`
	// TLS is starttls (the default), tls or none.
	TLS string `yaml:"tls"`
	// TLSCAFile is a PEM file of CA certificates trusted in addition to
	// the system roots, for a server with a private CA.
	TLSCAFile string `yaml:"tls_ca_file"`
	// InsecureSkipVerify accepts any server certificate. For tests only:
	// it makes TLS worthless against an active attacker.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Validate checks the configuration and fills in defaults (TLS mode,
// port). Its errors never contain the password.
func (c *Config) Validate() error {
	var errs config.Errors
	add := func(format string, args ...any) { errs = append(errs, config.Errorf(0, "", format, args...)) }

	s := &c.SMTP
	if s.Host == "" {
		add("smtp.host is required")
	}
	if s.TLS == "" {
		s.TLS = TLSStartTLS
	}
	if _, ok := defaultPorts[s.TLS]; !ok {
		add("smtp.tls: %q is not one of starttls, tls, none", s.TLS)
	}
	switch {
	case s.Port < 0 || s.Port > 65535:
		add("smtp.port: %d is not a TCP port", s.Port)
	case s.Port == 0:
		s.Port = defaultPorts[s.TLS]
	}
	switch {
	case s.Username == "" && s.Password != "":
		add("smtp.password is set without smtp.username")
	case s.Username != "" && s.Password == "":
		add("smtp.username is set without smtp.password")
	case s.Username != "" && s.TLS == TLSNone:
		add("smtp.username needs tls: starttls or tls (the password would travel in clear)")
	}
	if s.TLS == TLSNone && (s.TLSCAFile != "" || s.InsecureSkipVerify) {
		add("smtp.tls_ca_file and smtp.insecure_skip_verify need tls: starttls or tls")
	}
	if s.TLSCAFile != "" {
		if _, err := loadCAs(s.TLSCAFile); err != nil {
			add("smtp.tls_ca_file: %v", err)
		}
	}

	if c.From == "" {
		add("from is required")
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		add("from: %q is not an email address", c.From)
	}
	if len(c.To) == 0 {
		add("to needs at least one address")
	}
	for _, a := range c.To {
		if _, err := mail.ParseAddress(a); err != nil {
			add("to: %q is not an email address", a)
		}
	}
	for _, a := range c.CC {
		if _, err := mail.ParseAddress(a); err != nil {
			add("cc: %q is not an email address", a)
		}
	}
	return errs.Err()
}

// tlsConfig returns the client TLS configuration for the server.
func (s *SMTP) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{
		ServerName:         s.Host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: s.InsecureSkipVerify, //nolint:gosec // opt-in, documented as test-only
	}
	if s.TLSCAFile != "" {
		pool, err := loadCAs(s.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("smtp.tls_ca_file: %w", err)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// loadCAs returns the system roots plus the certificates of a PEM file.
func loadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificates found", path)
	}
	return pool, nil
}
