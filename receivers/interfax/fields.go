package interfax

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// field is one documented callback field: its canonical name (the key in
// event data, whatever casing the request used) and its XML Schema type,
// which also decides how the value is typed in data.
type field struct {
	name string
	xsd  string // s:string, s:long, s:int, s:short, s:decimal or s:dateTime
}

// outboundFields are the fields of the outbound "Web Feedback" callback, in
// the order InterFAX's callback guide lists them
// (https://docs.uplandsoftware.com/interfax/documentation/dev-guide/receive-outgoing-fax-confirmations-via-callback-to-your-web-app/).
var outboundFields = []field{
	{"TransactionIDType", "s:string"},
	{"TransactionID", "s:long"},
	{"CompletionTime", "s:dateTime"},
	{"Contact", "s:string"},
	{"CostPerUnit", "s:decimal"},
	{"DeleteAfterUsage", "s:string"},
	{"DestinationFax", "s:string"},
	{"Duration", "s:int"},
	{"JobID", "s:string"},
	{"MessageID", "s:string"},
	{"Mode", "s:string"},
	{"NumOfTransactions", "s:int"},
	{"PageHeader", "s:string"},
	{"PageOrientation", "s:string"},
	{"PageResolution", "s:string"},
	{"PageSize", "s:string"},
	{"PagesSent", "s:int"},
	{"PagesSubmitted", "s:int"},
	{"ParentTransactionID", "s:long"},
	{"PostponeTime", "s:dateTime"},
	{"Priority", "s:int"},
	{"RemoteCSID", "s:string"},
	{"RenderingQuality", "s:string"},
	{"ReplyEmail", "s:string"},
	{"RetriesInterval", "s:int"},
	{"RetriesToPerform", "s:int"},
	{"SenderCSID", "s:string"},
	{"Status", "s:int"},
	{"Subject", "s:string"},
	{"SubmitTime", "s:dateTime"},
	{"TrialsPerformed", "s:int"},
	{"Units", "s:decimal"},
	{"UserData", "s:string"},
	{"UserID", "s:string"},
}

// inboundFields are the fields of the inbound (new fax) callback. Only
// TransactionIDType is confirmed; the rest are inferred: they mirror the
// MessageItem of the SOAP API
// (https://www.interfax.net/en/dev/webservice/reference/getlist).
var inboundFields = []field{
	{"TransactionIDType", "s:string"},
	{"MessageID", "s:long"},
	{"PhoneNumber", "s:string"},
	{"RemoteCSID", "s:string"},
	{"MessageStatus", "s:int"},
	{"Pages", "s:int"},
	{"MessageSize", "s:int"},
	{"MessageType", "s:short"},
	{"ReceiveTime", "s:dateTime"},
	{"CallerID", "s:string"},
	{"MessageRecordingDuration", "s:int"},
}

// inboundAliases maps other spellings (lower-cased) to canonical names: the
// REST record calls MessageRecordingDuration "recordingDuration".
var inboundAliases = map[string]string{"recordingduration": "MessageRecordingDuration"}

// schema resolves request field names to documented fields.
type schema struct {
	byLower map[string]field
}

func newSchema(fields []field, aliases map[string]string) *schema {
	s := &schema{byLower: make(map[string]field, len(fields)+len(aliases))}
	for _, f := range fields {
		s.byLower[strings.ToLower(f.name)] = f
	}
	for alias, name := range aliases {
		s.byLower[alias] = s.byLower[strings.ToLower(name)]
	}
	return s
}

var (
	outboundSchema = newSchema(outboundFields, nil)
	inboundSchema  = newSchema(inboundFields, inboundAliases)
)

// pair is one field as it arrived, in request order.
type pair struct {
	name, value string
}

// typedData builds event data from the request fields: documented fields
// under their canonical name and typed, others under their own name as
// strings. The first occurrence of a name wins. Empty or all-zero values of
// typed fields mean "not set" and are left out; a typed value that does not
// parse is kept as the string it was rather than refusing the callback.
func (s *schema) typedData(fields []pair) map[string]any {
	data := make(map[string]any, len(fields))
	seen := make(map[string]bool, len(fields))
	for _, p := range fields {
		name := strings.ToValidUTF8(p.name, string(utf8.RuneError))
		f, known := s.byLower[strings.ToLower(name)]
		if known {
			name = f.name
		} else if name == "" || strings.EqualFold(name, "token") {
			continue // the callback secret, if someone posts it, is no vendor data
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		value := strings.ToValidUTF8(p.value, string(utf8.RuneError))
		if !known || f.xsd == "s:string" {
			data[name] = value
			continue
		}
		switch v, st := typed(f.xsd, value); st {
		case valueOK:
			data[name] = v
		case valueBad:
			data[name] = value
		}
	}
	return data
}

// Outcomes of typing a value.
const (
	valueOK    = iota
	valueUnset // empty, or an all-zero date: the vendor's "not set"
	valueBad   // does not parse as its type
)

// typed converts value to the Go type of an XML Schema type: int, float64 or
// time.Time (UTC).
func typed(xsd, value string) (any, int) {
	v := strings.TrimSpace(value)
	if v == "" {
		return nil, valueUnset
	}
	switch xsd {
	case "s:long", "s:int", "s:short":
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return int(n), valueOK
		}
		return nil, valueBad
	case "s:decimal":
		if f, ok := parseDecimal(v); ok {
			return f, valueOK
		}
		return nil, valueBad
	case "s:dateTime":
		return parseTime(v)
	}
	return value, valueOK
}

// parseDecimal parses a decimal, also with a comma as the decimal separator
// (a .NET sender in a European culture).
func parseDecimal(v string) (float64, bool) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil && strings.Count(v, ",") == 1 && !strings.Contains(v, ".") {
		f, err = strconv.ParseFloat(strings.Replace(v, ",", ".", 1), 64)
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false // NaN and Inf are no amounts, and JSON cannot carry them
	}
	return f, true
}

// dateLayouts are tried in order. The documented form is dd/mm/yyyy
// hh:mm:ss in GMT; Go's "2" and "1" also accept one-digit days and months.
// ISO 8601 has been seen in InterFAX samples, with and without a zone; a
// time without a zone is GMT.
var dateLayouts = []string{
	"2/1/2006 15:04:05",
	"2/1/2006 15:04",
	"2/1/2006",
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseTime parses an InterFAX date in UTC. An all-zero date
// ("00/00/0000 00:00:00", "0001-01-01T00:00:00") is the vendor's "not set".
func parseTime(v string) (any, int) {
	if allZero(v) {
		return nil, valueUnset
	}
	for _, layout := range dateLayouts {
		t, err := time.ParseInLocation(layout, v, time.UTC)
		if err != nil {
			continue
		}
		t = t.UTC()
		switch {
		case t.Year() <= 1: // .NET's DateTime.MinValue, the SOAP form of "not set"
			return nil, valueUnset
		case t.Year() > 9999: // cannot be written as RFC 3339
			return nil, valueBad
		}
		return t, valueOK
	}
	return nil, valueBad
}

// allZero reports whether every digit of v is 0 ("00/00/0000 00:00:00").
func allZero(v string) bool {
	digits := 0
	for _, r := range v {
		if r >= '1' && r <= '9' {
			return false
		}
		if r == '0' {
			digits++
		}
	}
	return digits > 0
}
