package telesign

import (
	"fmt"
	"strings"

	"github.com/switchboard/switchboard/internal/event"
)

// classify maps a Telesign status code to an event status (codes from
// https://developer.telesign.com/enterprise/docs/all-status-and-error-codes):
// success {100, 200, 201}; pending {103, 105, 203, 290, 291, 292, 295};
// unknown {250, 251, 599}; failure otherwise. Success and failure are final;
// 250 ("final status unknown") and 251 (no receipt will come) are final as
// Telesign documents them, 599 is not.
func classify(code int) (status string, final bool) {
	switch code {
	case 100, 200, 201:
		return event.StatusSuccess, true
	case 103, 105, 203, 290, 291, 292, 295:
		return event.StatusPending, false
	case 250, 251:
		return event.StatusUnknown, true
	case 599:
		return event.StatusUnknown, false
	}
	return event.StatusFailure, true
}

// codeText is the meaning of the codes Telesign documents, used when a
// callback carries a code without a description.
var codeText = map[int]string{
	100: "Call answered",
	101: "Not answered",
	103: "Call in progress",
	104: "Wrong or invalid phone number",
	105: "Call not handled yet",
	106: "Call failed",
	107: "Line busy",
	108: "Canceled by Telesign",
	129: "Blocked by your request",
	130: "Blocked by Telesign",
	133: "Blocked due to high risk score",
	200: "Delivered to handset",
	201: "Message read",
	203: "Delivered to gateway",
	207: "Error delivering to handset (reason unknown)",
	210: "Temporary phone error",
	211: "Permanent phone error",
	220: "Network cannot route message",
	221: "Expired before delivery",
	222: "SMS not supported",
	229: "Blocked by customer request",
	230: "Blocked by Telesign",
	231: "Invalid or unsupported content",
	233: "Blocked, high risk score",
	237: "Blocked in requested country",
	238: "Destination blocked by prefix",
	250: "Final status unknown",
	251: "Sent downstream, no delivery receipt received",
	290: "Message in progress",
	291: "Queued by Telesign",
	292: "Queued at gateway",
	295: "Status delayed",
	500: "Transaction not attempted",
	501: "Not authorized",
	502: "Campaign error",
	503: "Rejected by carrier or gateway (temporary)",
	504: "Rejected by carrier or gateway (permanent)",
	505: "Rejected by carrier or gateway (temporary)",
	506: "Rejected by carrier or gateway (permanent)",
	507: "Invalid destination",
	508: "Invalid source",
	509: "Parameters problem",
	510: "Blocked by subscriber",
	511: "Low credit",
	512: "Roaming error",
	513: "Number portability error",
	514: "Subscriber absent",
	515: "Suspected spam",
	599: "Status not available",
}

// describe returns the vendor's text when sent, else the code's known
// meaning, else "failed (code N)" for failures and "status code N" for
// anything else.
func describe(vendor string, code int, status string) string {
	if vendor != "" {
		return vendor
	}
	if t, ok := codeText[code]; ok {
		return t
	}
	if status == event.StatusFailure {
		return fmt.Sprintf("failed (code %d)", code)
	}
	return fmt.Sprintf("status code %d", code)
}

// Voice API call outcomes (data.status of dial_completed and call_completed)
// that mean the call did not go through. Telesign documents only "hangup"
// and "answered"; these are the outcomes voice platforms commonly report,
// matched case-insensitively with '-' and ' ' read as '_'.
var voiceFailures = map[string]bool{
	"busy": true, "no_answer": true, "noanswer": true, "not_answered": true,
	"failed": true, "failure": true, "error": true, "rejected": true,
	"canceled": true, "cancelled": true, "timeout": true, "unreachable": true,
	"invalid_number": true, "blocked": true,
}

// classifyVoice maps a Voice API event. Switchboard only records calls, so
// every event but call_completed is an interim step of a live call:
//
//   - call_completed: final; failure when data.status is a failure outcome,
//     success when the call was answered (answered_on_utc set, or status
//     "answered", "completed" or "hangup"), unknown otherwise.
//   - dial_completed: failure (not final: call_completed follows) when
//     data.status is a failure outcome, otherwise pending.
//   - incoming_call, call_leg_completed, play_completed, speak_completed:
//     pending.
//   - any other event: unknown.
func classifyVoice(name string, data map[string]any) (status string, final bool) {
	outcome := voiceOutcome(data)
	switch name {
	case "call_completed":
		switch answered := present(data["answered_on_utc"]); {
		case voiceFailures[outcome]:
			return event.StatusFailure, true
		case answered, outcome == "answered", outcome == "completed", outcome == "hangup":
			return event.StatusSuccess, true
		}
		return event.StatusUnknown, true
	case "dial_completed":
		if voiceFailures[outcome] {
			return event.StatusFailure, false
		}
		return event.StatusPending, false
	case "incoming_call", "call_leg_completed", "play_completed", "speak_completed":
		return event.StatusPending, false
	}
	return event.StatusUnknown, false
}

// present reports whether a field carries a value: not absent, null or "".
func present(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(x) != ""
	}
	return true
}

var outcomeReplacer = strings.NewReplacer("-", "_", " ", "_")

// voiceOutcome is data.status normalized ("No-Answer" → "no_answer").
func voiceOutcome(data map[string]any) string {
	s, _ := data["status"].(string)
	return outcomeReplacer.Replace(strings.ToLower(strings.TrimSpace(s)))
}

// describeVoice renders an event in words: "call completed: hangup".
func describeVoice(name string, data map[string]any) string {
	d := strings.ReplaceAll(name, "_", " ")
	if d == "" {
		d = "voice event"
	}
	if s, ok := data["status"].(string); ok && s != "" {
		d += ": " + s
	}
	return d
}
