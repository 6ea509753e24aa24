package interfax

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/receivers"
)

// descriptions are the InterFAX fax status codes confirmed by InterFAX's
// list (https://help.uplandsoftware.com/interfax/en/send-faxes/fax-status-codes.htm;
// 263 from wix-incubator/libfax's StatusCode.scala, which cites it). The
// rest of the positive table is unknown: those read "failed (code N)".
var descriptions = map[int]string{
	-1:     "pre-processing",
	-11:    "pre-processing",
	-2:     "ready to send",
	-3:     "sending or pending retry",
	-22:    "out of credit, awaiting top-up",
	0:      "OK",
	1:      "internal error",
	2:      "telephony error",
	12:     "telephony error",
	263:    "busy",
	205000: "cancelled: no credit for 24 hours",
}

// Describe returns the human text for an InterFAX fax status code.
func Describe(code int) string {
	if d, ok := descriptions[code]; ok {
		return d
	}
	if code < 0 {
		return "in progress"
	}
	return fmt.Sprintf("failed (code %d)", code)
}

// classify maps a status code: negative is in progress, 0 success, positive
// failure; a fax never leaves 0 or a positive code.
func classify(code int) (status string, final bool) {
	switch {
	case code < 0:
		return event.StatusPending, false
	case code == 0:
		return event.StatusSuccess, true
	}
	return event.StatusFailure, true
}

// callback is a request decoded from its transport (form or SOAP), before
// normalization.
type callback struct {
	op     string // "Outbound" or "Inbound" when the transport names it (SOAP), else ""
	fields []pair
}

// normalize turns a decoded callback into its event.
func normalize(cb callback) (*event.Event, error) {
	first := make(map[string]string, len(cb.fields))
	for _, p := range cb.fields {
		k := strings.ToLower(p.name)
		if _, ok := first[k]; !ok {
			first[k] = p.value
		}
	}
	has := func(k string) bool { return strings.TrimSpace(first[k]) != "" }

	inbound := strings.EqualFold(cb.op, "Inbound")
	if cb.op == "" {
		switch strings.ToLower(strings.TrimSpace(first["transactionidtype"])) {
		case "inbound":
			inbound = true
		case "outbound":
		default:
			// No (or an unknown) TransactionIDType: go by the field set.
			inbound = !has("transactionid") && has("messageid") &&
				(has("messagestatus") || has("receivetime") || has("phonenumber"))
		}
	}

	ev := &event.Event{Source: "interfax", Type: TypeOutbound, Kind: outboundKind}
	idKey, codeKey, timeKey, sch := "TransactionID", "Status", "CompletionTime", outboundSchema
	if inbound {
		ev.Type, ev.Kind = TypeInbound, inboundKind
		idKey, codeKey, timeKey, sch = "MessageID", "MessageStatus", "ReceiveTime", inboundSchema
		// Tolerate an inbound callback that uses the outbound names.
		if !has("messageid") && has("transactionid") {
			idKey = "TransactionID"
		}
		if !has("messagestatus") && has("status") {
			codeKey = "Status"
		}
	}

	id, ok, err := integerField(first, idKey)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, receivers.Errorf(http.StatusBadRequest, "missing %s field", idKey)
	}
	ev.Subject = strconv.FormatInt(id, 10)

	code, ok, err := integerField(first, codeKey)
	if err != nil {
		return nil, err
	}
	codeKeyPart := "none"
	if ok {
		ev.Code = int(code)
		ev.Status, ev.Final = classify(ev.Code)
		ev.Description = Describe(ev.Code)
		codeKeyPart = strconv.Itoa(ev.Code)
	} else {
		// Accepted, not dropped: routed with status unknown.
		ev.Status, ev.Description = event.StatusUnknown, "no status reported"
	}

	ev.Data = sch.typedData(cb.fields)
	if t, ok := ev.Data[timeKey].(time.Time); ok {
		ev.Time = t
	}
	// A resent identical callback is a duplicate; a later status of the same
	// fax is not. The core prefixes the receiver name.
	ev.DedupKey = ev.Type + ":" + ev.Subject + ":" + codeKeyPart
	return ev, nil
}

// integerField reads an integer field by name (case-insensitively); ok is
// false when it is missing or empty.
func integerField(first map[string]string, name string) (n int64, ok bool, err error) {
	v := strings.TrimSpace(first[strings.ToLower(name)])
	if v == "" {
		return 0, false, nil
	}
	n, err = strconv.ParseInt(v, 10, 64)
	if err != nil || n != int64(int(n)) {
		return 0, false, receivers.Errorf(http.StatusBadRequest, "field %s: %q is not an integer", name, clip(v))
	}
	return n, true, nil
}

// clip shortens a caller's value for an error message.
func clip(s string) string { return clipTo(s, 40) }

// clipTo shortens s to at most n bytes (plus an ellipsis) on a rune
// boundary, replacing invalid UTF-8.
func clipTo(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
