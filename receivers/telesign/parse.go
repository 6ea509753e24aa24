package telesign

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// Parse turns a callback body into events: one per object, one per element
// of an array. It does not depend on Verify having run. Every vendor field is
// kept in Data under its own name; see convertObject for the typing.
func (rc *Receiver) Parse(r *http.Request, body []byte, now time.Time) ([]*event.Event, error) {
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	objs, err := decodeBody(body)
	if err != nil {
		return nil, err
	}
	events := make([]*event.Event, len(objs))
	for i, m := range objs {
		events[i] = normalize(m, now)
	}
	return events, nil
}

// normalize builds the event for one decoded callback object. It never
// fails: a shape it does not know becomes status unknown.
func normalize(m map[string]any, now time.Time) *event.Event {
	ev := &event.Event{
		Source:  "telesign",
		Subject: text(m["reference_id"]),
		Data:    m,
	}
	name := text(m["event"])
	ev.Type = eventType(text(m["sub_resource"]), name, m["verify"])
	ev.Kind = kinds.Of(ev.Source, ev.Type)

	var stamp string // the vendor's time of this status, for the dedup key
	if ev.Type == TypeVoiceEvent {
		data, _ := m["data"].(map[string]any)
		ev.Status, ev.Final = classifyVoice(name, data)
		ev.Description = describeVoice(name, data)
		ev.Time = voiceTime(data, m)
		if !ev.Time.IsZero() {
			stamp = ev.Time.Format(time.RFC3339Nano)
		}
		ev.DedupKey = "voice|" + ev.Subject + "|" + name + "|" + stamp + "|" + contentHash(m)
	} else {
		st, _ := m["status"].(map[string]any)
		code, hasCode := integer(st["code"])
		vendor := strings.TrimSpace(text(st["description"]))
		switch {
		case ev.Type == TypeSMSInbound:
			// An inbound message is received by the time Telesign
			// forwards it; its status code is undocumented (TS-5 has
			// 1500 "Delivered to customer"), so it does not decide.
			ev.Status, ev.Final = event.StatusSuccess, true
			ev.Description = vendor
			if ev.Description == "" {
				ev.Description = "Inbound SMS received"
			}
		case hasCode:
			ev.Status, ev.Final = classify(code)
			ev.Description = describe(vendor, code, ev.Status)
		default:
			ev.Status = event.StatusUnknown
			ev.Description = vendor
			if ev.Description == "" {
				ev.Description = "no status code in callback"
			}
		}
		ev.Code = code
		switch t := st["updated_on"].(type) {
		case time.Time:
			ev.Time, stamp = t, t.Format(time.RFC3339Nano)
		case string:
			stamp = t
		}
		codeKey := "-"
		if hasCode {
			codeKey = strconv.Itoa(code)
		}
		ev.DedupKey = ev.Subject + "|" + codeKey + "|" + stamp
		if ev.Subject == "" || stamp == "" {
			// Without both the key would merge distinct callbacks; the
			// content tells them apart and still matches a resend.
			ev.DedupKey += "|" + contentHash(m)
		}
	}
	if ev.Time.IsZero() {
		ev.Time = now.UTC()
	}
	return ev
}

// eventType names the event type (a Type constant, or
// telesign.<sub_resource> for a sub_resource it does not know) from
// sub_resource, the Voice API event name and the presence of a verify
// object.
func eventType(subResource, eventName string, verify any) string {
	sub := strings.ToLower(strings.TrimSpace(subResource))
	switch sub {
	case "sms":
		if _, ok := verify.(map[string]any); ok {
			return TypeSMSVerify
		}
		return TypeSMS
	case "call":
		return TypeVoiceVerify
	case "mo_sms":
		return TypeSMSInbound
	case "":
		if strings.TrimSpace(eventName) != "" {
			return TypeVoiceEvent
		}
		return TypeUnknown
	}
	return "telesign." + sanitize(sub)
}

// sanitize keeps a vendor word usable in a type name and in rules: letters,
// digits, '_', '-' and '.', at most 64 bytes.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 64 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// voiceTimeKeys are the fields that date a Voice API event, most specific
// first: a completed call happened when it ended.
var voiceTimeKeys = [...]string{"ended_on_utc", "answered_on_utc", "created_on_utc", "timestamp", "time"}

func voiceTime(data, top map[string]any) time.Time {
	for _, m := range [...]map[string]any{data, top} {
		for _, k := range voiceTimeKeys {
			if t, ok := m[k].(time.Time); ok {
				return t
			}
		}
	}
	return time.Time{}
}

// text renders a scalar as the string it was sent as; objects, lists and
// null are "".
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// integer reads a status code sent as a number or a numeric string.
func integer(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int(x), true
		}
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(x)); err == nil {
			return n, true
		}
	}
	return 0, false
}

// contentHash identifies a decoded callback by its content, independent of
// key order and whitespace (encoding/json sorts map keys).
func contentHash(m map[string]any) string {
	b, _ := json.Marshal(m)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}
