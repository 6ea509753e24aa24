// Package telesign receives Telesign delivery callbacks: SMS and SMS Verify
// delivery reports, Voice Verify call results, inbound SMS (mo_sms) and Voice
// API events. It exists so that every Telesign callback is authenticated by
// its TSA signature over the raw body, parsed without losing a field and
// normalized into events the rules can match, whatever product sent it.
//
// A body is one JSON object or an array of them; each object becomes one
// event. Shapes the package does not know are still accepted with status
// unknown, so nothing Telesign sends is dropped.
package telesign

import (
	"fmt"
	"strings"

	"github.com/switchboard/switchboard/receivers"
)

// Receiver verifies, parses and answers the callbacks of one configured
// telesign receiver. It is safe for concurrent use.
type Receiver struct {
	customerID string // upper case; "" accepts any
	key        []byte // decoded API key; nil when unauthenticated
}

// New returns the receiver called name (its config key) for cfg.
func New(name string, cfg Config) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("telesign receiver %q: %w", name, err)
	}
	rc := &Receiver{customerID: strings.ToUpper(strings.TrimSpace(cfg.CustomerID))}
	if k := cfg.APIKey.Value(); k != "" {
		key, err := decodeAPIKey(k)
		if err != nil {
			return nil, fmt.Errorf("telesign receiver %q: %w", name, err)
		}
		rc.key = key
	}
	return rc, nil
}

var (
	_ receivers.Receiver    = (*Receiver)(nil)
	_ receivers.PreVerifier = (*Receiver)(nil)
)
