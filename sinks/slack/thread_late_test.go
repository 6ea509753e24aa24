package slack

import (
	"testing"

	"github.com/switchboard/switchboard/internal/event"
)

// A message older than the thread's latest (a silenced or dead delivery
// retried by hand after later statuses went out) replies in the thread but
// leaves the parent alone: update_parent must not turn a delivered fax's
// parent back to "pending".
func TestThreadLateMessageKeepsParent(t *testing.T) {
	api, s, _ := startedThread(t, Config{UpdateParent: true})
	send(t, s, faxMessage(t, 3, event.StatusSuccess, true))
	expectCalls(t, api, "chat.update C0FAXES ts=1700000000.000001", "chat.postMessage C0FAXES thread_ts=1700000000.000001")
	send(t, s, faxMessage(t, 2, event.StatusPending, false)) // retried by hand, late
	expectCalls(t, api, "chat.postMessage C0FAXES thread_ts=1700000000.000001")
	send(t, s, faxMessage(t, 4, event.StatusSuccess, true))
	expectCalls(t, api, "chat.update C0FAXES ts=1700000000.000001", "chat.postMessage C0FAXES thread_ts=1700000000.000001")
}
