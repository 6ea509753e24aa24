package email

import (
	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/sinks"
)

// fields lists the event fields every message shows, then the most useful
// vendor fields for its type: the same layout as the Slack sink's.
func fields(ev *event.Event) []sinks.Field {
	return append(sinks.CoreFields(ev), sinks.VendorFields(ev)...)
}
