package telesign

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/receivers"
)

// checkEvent asserts what the core relies on for every parsed event.
func checkEvent(t testing.TB, ev *event.Event) {
	t.Helper()
	if ev.Source != "telesign" {
		t.Errorf("Source = %q", ev.Source)
	}
	switch ev.Type {
	case "sms", "sms.verify", "voice.verify", "sms.inbound", "voice.event":
	default:
		if !strings.HasPrefix(ev.Type, "telesign.") || len(ev.Type) == len("telesign.") {
			t.Errorf("Type = %q", ev.Type)
		}
	}
	switch ev.Status {
	case event.StatusSuccess, event.StatusFailure, event.StatusPending, event.StatusUnknown:
	default:
		t.Errorf("Status = %q", ev.Status)
	}
	if ev.DedupKey == "" || ev.Data == nil || ev.Time.IsZero() || ev.Description == "" {
		t.Errorf("incomplete event: key %q, data %v, time %v, description %q", ev.DedupKey, ev.Data, ev.Time, ev.Description)
	}
	if _, err := json.Marshal(ev); err != nil {
		t.Errorf("event does not marshal: %v", err)
	}
}

func parseFile(t *testing.T, name string) []*event.Event {
	t.Helper()
	body, err := os.ReadFile("testdata/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	events, err := newTS6(t).Parse(nil, body, goldenNow)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// TestParseSummary pins the fields a rule matches on for each product; the
// goldens hold everything else.
func TestParseSummary(t *testing.T) {
	tests := []struct {
		file, typ, status string
		final             bool
		code              int
		subject           string
	}{
		{"ts1_sms_delivered", "sms", "success", true, 200, "0123456789ABCDEF0123456789ABCDEF"},
		{"ts2_sms_failed_errors", "sms", "failure", true, 211, "0123456789ABCDEF0123456789ABCDE0"},
		{"ts3_sms_verify", "sms.verify", "success", true, 200, "B56259E45884010488343BAA15FB0002"},
		{"ts4a_voice_call_completed", "voice.event", "success", true, 0, "C58C8EB012D"},
		{"ts4b_voice_verify_busy", "voice.verify", "failure", true, 107, "0123456789ABCDEF0123456789ABCDEF"},
		{"ts5_inbound_sms", "sms.inbound", "success", true, 1500, "0143D53D86A2030BE20025B600000002"},
		{"unknown_sub_resource", "telesign.push_notification", "failure", true, 210, "FFFF0000000000000000000000000001"},
		{"unknown_shape", "telesign.unknown", "unknown", false, 0, ""},
		{"omnichannel_channel_status", "telesign.messaging", "success", true, 201, "0123456789ABCDEF0123456789ABC0C1"},
		{"numbers_as_strings", "sms", "pending", false, 203, "123456789"},
		{"status_599_not_final", "sms", "unknown", false, 599, "0123456789ABCDEF0123456789ABCDE6"},
		{"voice_dial_completed_failed", "voice.event", "failure", false, 0, "C58C8EB0130"},
		{"voice_dial_completed_answered", "voice.event", "pending", false, 0, "C58C8EB0131"},
		{"voice_call_completed_busy", "voice.event", "failure", true, 0, "C58C8EB0133"},
		{"voice_unknown_event", "voice.event", "unknown", false, 0, "C58C8EB0134"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			events := parseFile(t, tc.file)
			if len(events) != 1 {
				t.Fatalf("%d events, want 1", len(events))
			}
			ev := events[0]
			if ev.Type != tc.typ || ev.Status != tc.status || ev.Final != tc.final || ev.Code != tc.code || ev.Subject != tc.subject {
				t.Errorf("got %s/%s final=%v code=%d subject=%q, want %s/%s final=%v code=%d subject=%q",
					ev.Type, ev.Status, ev.Final, ev.Code, ev.Subject, tc.typ, tc.status, tc.final, tc.code, tc.subject)
			}
		})
	}
}

func TestParseTyping(t *testing.T) {
	ev := parseFile(t, "ts4a_voice_call_completed")[0]
	data := ev.Data["data"].(map[string]any)
	want := time.Date(2019, 3, 15, 6, 48, 28, 151e6, time.UTC)
	if got, ok := data["ended_on_utc"].(time.Time); !ok || !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("ended_on_utc = %#v, want %v", data["ended_on_utc"], want)
	}
	if !ev.Time.Equal(want) {
		t.Errorf("Time = %v, want the call's end %v", ev.Time, want)
	}
	if d, ok := data["duration"].(int); !ok || d != 6 {
		t.Errorf("duration = %#v, want int 6", data["duration"])
	}
	if v, ok := data["audio_recording_file_name"]; !ok || v != nil {
		t.Errorf("audio_recording_file_name = %#v, present %v; want nil kept", v, ok)
	}

	ev = parseFile(t, "ts2_sms_failed_errors")[0]
	errs, ok := ev.Data["errors"].([]any)
	if !ok || len(errs) != 1 {
		t.Fatalf("errors = %#v", ev.Data["errors"])
	}
	if c := errs[0].(map[string]any)["code"]; c != -10001 {
		t.Errorf("errors[0].code = %#v, want int -10001", c)
	}

	ev = parseFile(t, "ts3_sms_verify")[0]
	info := ev.Data["additional_info"].(map[string]any)
	if info["mnc"] != "004" || info["price"] != "0.5112" || info["message_parts_count"] != 1 {
		t.Errorf("additional_info = %#v", info)
	}

	ev = parseFile(t, "timestamp_without_z")[0]
	want = time.Date(2024, 5, 2, 10, 15, 30, 123456e3, time.UTC)
	if !ev.Time.Equal(want) {
		t.Errorf("Time without Z = %v, want %v (UTC)", ev.Time, want)
	}
	ev = parseFile(t, "timestamp_with_offset")[0]
	if !ev.Time.Equal(time.Date(2024, 5, 2, 10, 15, 30, 123456e3, time.UTC)) || ev.Time.Location() != time.UTC {
		t.Errorf("Time with offset = %v, want 10:15:30.123456 UTC", ev.Time)
	}
	if ev.Data["submit_timestamp"] != "not a time" {
		t.Errorf("unparsable timestamp = %#v, want the text kept", ev.Data["submit_timestamp"])
	}
}

func TestParseArray(t *testing.T) {
	events := parseFile(t, "array_three")
	if len(events) != 3 {
		t.Fatalf("%d events, want 3", len(events))
	}
	keys := map[string]bool{}
	for _, ev := range events {
		keys[ev.DedupKey] = true
	}
	if len(keys) != 3 {
		t.Errorf("dedup keys %v are not distinct", keys)
	}
	if got := []int{events[0].Code, events[1].Code, events[2].Code}; got[0] != 290 || got[1] != 203 || got[2] != 200 {
		t.Errorf("codes = %v, want the array order 290, 203, 200", got)
	}
}

func TestDedupKey(t *testing.T) {
	rc := newTS6(t)
	key := func(body string) string {
		t.Helper()
		events, err := rc.Parse(nil, []byte(body), goldenNow)
		if err != nil {
			t.Fatal(err)
		}
		return events[0].DedupKey
	}
	base := key(ts6Body)
	if base != "0123456789ABCDEF0123456789ABCDEF|200|2024-05-02T10:15:30.123456Z" {
		t.Errorf("key = %q, want reference_id|code|updated_on", base)
	}
	// The same callback resent, reformatted, or with other extra fields
	// is the same status report.
	if k := key(strings.ReplaceAll(ts6Body, ",", ", ")); k != base {
		t.Errorf("reformatted body key %q != %q", k, base)
	}
	if k := key(strings.Replace(ts6Body, `"code":200`, `"code":203`, 1)); k == base {
		t.Error("another code has the same key")
	}
	if k := key(strings.Replace(ts6Body, "10:15:30.123456Z", "10:15:31Z", 1)); k == base {
		t.Error("another updated_on has the same key")
	}
	// Without reference_id or updated_on, distinct bodies must not merge.
	a, b := key(`{"x":1}`), key(`{"x":2}`)
	if a == b || a != key(`{ "x" : 1 }`) {
		t.Errorf("shapeless keys: %q, %q", a, b)
	}
	// Voice events add the event name (and content: one call can play
	// twice).
	v1 := key(`{"reference_id":"R","event":"play_completed","data":{"n":1}}`)
	v2 := key(`{"reference_id":"R","event":"speak_completed","data":{"n":1}}`)
	v3 := key(`{"reference_id":"R","event":"play_completed","data":{"n":2}}`)
	if v1 == v2 || v1 == v3 || !strings.Contains(v1, "play_completed") {
		t.Errorf("voice keys %q %q %q", v1, v2, v3)
	}
}

func TestParseContentType(t *testing.T) {
	tests := []struct {
		ct   string
		want int // 0 = accepted
	}{
		{"application/json", 0},
		{"application/json; charset=utf-8", 0},
		{"Application/JSON;charset=UTF-8", 0},
		{"application/vnd.telesign+json", 0},
		{"", 0},
		{"application/json; charset=iso-8859-1", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"text/plain", http.StatusUnsupportedMediaType},
		{"text/xml; charset=utf-8", http.StatusUnsupportedMediaType},
		{"json", http.StatusUnsupportedMediaType},
		{";;;", http.StatusUnsupportedMediaType},
	}
	rc := newTS6(t)
	for _, tc := range tests {
		t.Run(tc.ct, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/hooks/telesign", strings.NewReader(ts6Body))
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			_, err := rc.Parse(r, []byte(ts6Body), goldenNow)
			got := 0
			if err != nil {
				got, _ = receivers.Status(err)
			}
			if got != tc.want {
				t.Errorf("Parse with %q: status %d (%v), want %d", tc.ct, got, err, tc.want)
			}
		})
	}
}

func TestParseErrorPosition(t *testing.T) {
	tests := []struct{ body, want string }{
		{"{\"a\":\n  }", "line 2, column 3"},
		{`{"a":1,}`, "line 1, column 8"},
		{`{"a":tru}`, "line 1, column 9"},
		{`{"a":1`, "unexpected end of input"},
		{`{} x`, "line 1, column 4"},
		{strings.Repeat("[", maxDepth+1), "nested deeper than 64 levels at line 1, column 65"},
	}
	rc := newTS6(t)
	for _, tc := range tests {
		_, err := rc.Parse(nil, []byte(tc.body), goldenNow)
		code, msg := receivers.Status(err)
		if code != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
			t.Errorf("Parse(%q) = %d %q, want 400 containing %q", tc.body, code, msg, tc.want)
		}
	}
}

func TestParseDepthLimit(t *testing.T) {
	rc := newTS6(t)
	ok := strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth)
	if _, err := rc.Parse(nil, []byte(ok), goldenNow); err != nil {
		t.Errorf("depth %d refused: %v", maxDepth, err)
	}
	deep := strings.Repeat(`[`, 1<<20)
	if _, err := rc.Parse(nil, []byte(deep), goldenNow); err == nil {
		t.Error("a million nested arrays accepted")
	}
}
