package interfax

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/receivers"
)

// soapReply is a SOAP 1.1 or 1.2 reply, success or fault.
type soapReply struct {
	XMLName xml.Name
	Body    struct {
		Outbound string `xml:"http://CallBack.Interfax.net/ OutboundResponse>OutboundResult"`
		Inbound  string `xml:"http://CallBack.Interfax.net/ InboundResponse>InboundResult"`
		Fault    *struct {
			Code11   string `xml:"faultcode"`
			String11 string `xml:"faultstring"`
			Code12   string `xml:"Code>Value"`
			Reason12 string `xml:"Reason>Text"`
		} `xml:"Fault"`
	} `xml:"Body"`
}

func TestReplyErrors(t *testing.T) {
	rc, err := New("interfax", Config{Unauthenticated: true})
	if err != nil {
		t.Fatal(err)
	}
	storeDown := &receivers.Error{Status: http.StatusServiceUnavailable, Msg: "store unavailable, retry later", Err: errors.New("disk on fire")}
	tests := []struct {
		name, ct   string
		err        error
		wantStatus int
		wantCode   string // SOAP fault code; "" for a plain-text reply
		wantNS     string
	}{
		{"form store down", "application/x-www-form-urlencoded", storeDown, 503, "", ""},
		{"soap11 store down", "text/xml; charset=utf-8", storeDown, 503, "soap:Server", nsSOAP11},
		{"soap12 store down", "application/soap+xml", storeDown, 503, "soap:Receiver", nsSOAP12},
		{"soap11 internal", "text/xml", errors.New("boom"), 500, "soap:Server", nsSOAP11},
		{"soap11 unauthorized", "text/xml", receivers.Errorf(401, "unauthorized"), 401, "soap:Client", nsSOAP11},
		{"soap12 too large", "application/soap+xml", receivers.Errorf(413, "body larger than 1048576 bytes"), 413, "soap:Sender", nsSOAP12},
		{"unknown content type is plain", "application/json", receivers.Errorf(415, "unsupported"), 415, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/hooks/interfax", nil)
			req.Header.Set("Content-Type", tc.ct)
			rec := httptest.NewRecorder()
			rc.Reply(rec, req, nil, tc.err)
			if rec.Code != tc.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tc.wantStatus)
			}
			_, msg := receivers.Status(tc.err)
			if strings.Contains(rec.Body.String(), "disk on fire") || strings.Contains(rec.Body.String(), "boom") {
				t.Errorf("reply leaks the internal cause: %s", rec.Body)
			}
			if tc.wantCode == "" {
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || !strings.Contains(rec.Body.String(), msg) {
					t.Errorf("plain reply %q %q", ct, rec.Body)
				}
				return
			}
			var r soapReply
			if err := xml.Unmarshal(rec.Body.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if r.XMLName.Space != tc.wantNS || r.Body.Fault == nil {
				t.Fatalf("reply is no %s fault: %s", tc.wantNS, rec.Body)
			}
			if code := r.Body.Fault.Code11 + r.Body.Fault.Code12; code != tc.wantCode {
				t.Errorf("fault code %q, want %q", code, tc.wantCode)
			}
			if reason := r.Body.Fault.String11 + r.Body.Fault.Reason12; reason != msg {
				t.Errorf("fault reason %q, want %q", reason, msg)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		code   int
		desc   string
		status string
		final  bool
	}{
		{0, "OK", event.StatusSuccess, true},
		{263, "busy", event.StatusFailure, true},
		{1, "internal error", event.StatusFailure, true},
		{2, "telephony error", event.StatusFailure, true},
		{12, "telephony error", event.StatusFailure, true},
		{205000, "cancelled: no credit for 24 hours", event.StatusFailure, true},
		{3931, "failed (code 3931)", event.StatusFailure, true},
		{-1, "pre-processing", event.StatusPending, false},
		{-11, "pre-processing", event.StatusPending, false},
		{-2, "ready to send", event.StatusPending, false},
		{-3, "sending or pending retry", event.StatusPending, false},
		{-22, "out of credit, awaiting top-up", event.StatusPending, false},
		{-5, "in progress", event.StatusPending, false},
	}
	for _, tc := range tests {
		status, final := classify(tc.code)
		if d := Describe(tc.code); d != tc.desc || status != tc.status || final != tc.final {
			t.Errorf("code %d: %q %s %v, want %q %s %v", tc.code, d, status, final, tc.desc, tc.status, tc.final)
		}
	}
}

// TestDefaultTitle checks the event reads well in the core's default
// message: the wording the issue promises.
func TestDefaultTitle(t *testing.T) {
	ev := parseFile(t, "if-2-post-busy")
	if got, want := ev.Title(), "Fax to +1 212 555 1234 failed: busy"; got != want {
		t.Errorf("Title() = %q, want %q", got, want)
	}
	if got := ev.Text(); !strings.Contains(got, "0 of 2 pages sent") || !strings.Contains(got, "4 tries") {
		t.Errorf("Text() = %q", got)
	}
}

// TestDedupKey: the same callback, by form or SOAP, is one key; a later
// status of the same fax is another.
func TestDedupKey(t *testing.T) {
	form, soap := parseFile(t, "if-1-post-success"), parseFile(t, "if-4-soap11-success")
	busy, soapBusy := parseFile(t, "if-2-post-busy"), parseFile(t, "if-5-soap11-busy")
	if form.DedupKey != soap.DedupKey || form.DedupKey != "fax.outbound:664598111:0" {
		t.Errorf("success keys %q (form) and %q (SOAP)", form.DedupKey, soap.DedupKey)
	}
	if busy.DedupKey != soapBusy.DedupKey || busy.DedupKey == form.DedupKey {
		t.Errorf("busy keys %q (form) and %q (SOAP), success %q", busy.DedupKey, soapBusy.DedupKey, form.DedupKey)
	}
	if again := parseFile(t, "if-2-post-busy"); again.DedupKey != busy.DedupKey {
		t.Errorf("same callback twice: %q then %q", busy.DedupKey, again.DedupKey)
	}
	if in := parseFile(t, "if-6-inbound-post"); in.DedupKey != "fax.inbound:229167854:0" {
		t.Errorf("inbound key %q", in.DedupKey)
	}
}

func parseFile(t *testing.T, name string) *event.Event {
	t.Helper()
	rc, err := New("interfax", Config{Unauthenticated: true})
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("testdata/" + name + ".body")
	if err != nil {
		t.Fatal(err)
	}
	events, err := rc.Parse(goldenRequest(t, name, body), body, fixedTime)
	if err != nil {
		t.Fatal(err)
	}
	return events[0]
}
