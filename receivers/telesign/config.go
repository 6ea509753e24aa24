package telesign

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/switchboard/switchboard/internal/config"
)

// Config is the YAML configuration of one telesign receiver (the core strips
// the "type" key before decoding it).
type Config struct {
	// CustomerID is the Telesign customer id expected before the ':' of the
	// TSA Authorization header, compared case-insensitively. Empty accepts
	// any customer id: the HMAC signature alone authenticates the body.
	CustomerID string `yaml:"customer_id"`

	// APIKey is the Telesign API key exactly as the portal prints it
	// (base64; '-' characters and whitespace are ignored). It verifies the
	// HMAC-SHA256 signature of every callback.
	APIKey config.Secret `yaml:"api_key"`

	// Unauthenticated allows a receiver without api_key, which then accepts
	// every callback unsigned. When api_key is set it is verified anyway.
	Unauthenticated bool `yaml:"unauthenticated"`
}

// errNoKey and errBadKey never include the key: config errors are printed.
var (
	errNoKey  = errors.New("api_key is required (or set unauthenticated: true to accept unsigned callbacks)")
	errBadKey = errors.New("api_key is not valid base64 (after removing '-' and whitespace); paste the key exactly as the Telesign portal shows it")
)

// Validate reports whether the configuration can verify callbacks.
func (c *Config) Validate() error {
	if c.APIKey.Value() == "" {
		if c.Unauthenticated {
			return nil
		}
		return errNoKey
	}
	if _, err := decodeAPIKey(c.APIKey.Value()); err != nil {
		return err
	}
	return nil
}

// decodeAPIKey decodes a Telesign API key tolerantly. The SDKs hand the key
// to a lenient base64 decoder that skips characters outside the alphabet, and
// Telesign's own test key ("EXAMPLE----TE8s…") depends on it, so '-' and
// whitespace are dropped; padding is optional. Anything else outside the
// standard alphabet is a paste error and is refused.
func decodeAPIKey(key string) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case '-', ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, key)
	clean = strings.TrimRight(clean, "=")
	if clean == "" {
		return nil, errBadKey
	}
	b, err := base64.RawStdEncoding.DecodeString(clean)
	if err != nil || len(b) == 0 {
		return nil, errBadKey
	}
	return b, nil
}
