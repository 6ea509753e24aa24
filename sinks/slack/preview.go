package slack

import (
	"encoding/json"

	"github.com/switchboard/switchboard/sinks"
)

// Preview returns what Send would post for m: the plain-text fallback and
// the Block Kit blocks as JSON, for the admin console to show.
func Preview(m *sinks.Message) (text string, blocks json.RawMessage, err error) {
	p := render(m)
	b, err := json.Marshal(p.blocks)
	if err != nil {
		return "", nil, err
	}
	return p.text, b, nil
}
