package slack

import (
	"fmt"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/sinks"
)

// field is one labelled value of the default message. value is plain text
// unless mrkdwn is set (it is then already formatted and escaped).
type field struct {
	label, value string
	mrkdwn       bool
}

// coreFields are the event fields every message shows, in order, with the
// time in each reader's own time zone.
func coreFields(ev *event.Event) []field {
	fs := plain(sinks.CoreFields(ev))
	for i := range fs {
		if fs[i].label == "Time" {
			fs[i] = field{label: "Time", value: slackDate(ev.Time), mrkdwn: true}
		}
	}
	return fs
}

// vendorFields are the most useful vendor fields for the event's type.
func vendorFields(ev *event.Event) []field { return plain(sinks.VendorFields(ev)) }

func plain(fs []sinks.Field) []field {
	out := make([]field, len(fs))
	for i, f := range fs {
		out[i] = field{label: f.Label, value: f.Value}
	}
	return out
}

// slackDate renders t in each reader's own time zone, with the UTC time as
// the fallback for clients that cannot.
func slackDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time_secs}|%s>", t.Unix(), t.UTC().Format(sinks.TimeLayout))
}
