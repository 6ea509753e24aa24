package telesign

import (
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		code   int
		status string
		final  bool
		desc   string
	}{
		{100, "success", true, "Call answered"},
		{200, "success", true, "Delivered to handset"},
		{201, "success", true, "Message read"},
		{103, "pending", false, "Call in progress"},
		{105, "pending", false, "Call not handled yet"},
		{203, "pending", false, "Delivered to gateway"},
		{290, "pending", false, "Message in progress"},
		{295, "pending", false, "Status delayed"},
		{250, "unknown", true, "Final status unknown"},
		{251, "unknown", true, "Sent downstream, no delivery receipt received"},
		{599, "unknown", false, "Status not available"},
		{107, "failure", true, "Line busy"},
		{210, "failure", true, "Temporary phone error"},
		{505, "failure", true, "Rejected by carrier or gateway (temporary)"},
		{-10001, "failure", true, "failed (code -10001)"},
		{0, "failure", true, "failed (code 0)"},
	}
	for _, tc := range tests {
		status, final := classify(tc.code)
		desc := describe("", tc.code, status)
		if status != tc.status || final != tc.final || desc != tc.desc {
			t.Errorf("code %d: %s final=%v %q, want %s final=%v %q", tc.code, status, final, desc, tc.status, tc.final, tc.desc)
		}
	}
	if d := describe("Vendor text", 200, "success"); d != "Vendor text" {
		t.Errorf("describe kept %q, want the vendor's text", d)
	}
}

func TestParseOddScalars(t *testing.T) {
	rc := newTS6(t)
	tests := []struct {
		body    string
		code    int
		subject string
		typ     string
	}{
		{`{"status":{"code":200.0},"reference_id":12.5,"sub_resource":"sms"}`, 200, "12.5", "sms"},
		{`{"status":{"code":" 203 "},"reference_id":true,"sub_resource":" SMS "}`, 203, "true", "sms"},
		{`{"status":{"code":1e300},"reference_id":["x"],"sub_resource":7}`, 0, "", "telesign.7"},
		{`{"status":"delivered","event":{"name":"x"}}`, 0, "", "telesign.unknown"},
		{`{"event":"call_completed","data":null}`, 0, "", "voice.event"},
		{`{"sub_resource":"ＳＭＳ\u0000` + strings.Repeat("x", 100) + `"}`, 0, "", "telesign.____" + strings.Repeat("x", 60)},
	}
	for _, tc := range tests {
		events, err := rc.Parse(nil, []byte(tc.body), goldenNow)
		if err != nil {
			t.Errorf("Parse(%s): %v", tc.body, err)
			continue
		}
		ev := events[0]
		checkEvent(t, ev)
		if ev.Code != tc.code || ev.Subject != tc.subject || ev.Type != tc.typ {
			t.Errorf("Parse(%s) = code %d subject %q type %q, want %d %q %q", tc.body, ev.Code, ev.Subject, ev.Type, tc.code, tc.subject, tc.typ)
		}
	}
}

func TestCheckDepthStrings(t *testing.T) {
	deepInString := `{"s":"\"` + strings.Repeat("[", 100) + `\\"}`
	if _, ok := checkDepth([]byte(deepInString)); !ok {
		t.Errorf("brackets inside a string with escapes counted as nesting")
	}
	escapedThenDeep := `{"s":"\\"` + strings.Repeat(",[", 100)
	if off, ok := checkDepth([]byte(escapedThenDeep)); ok || off == 0 {
		t.Errorf("nesting after an escaped backslash missed: %d %v", off, ok)
	}
}
