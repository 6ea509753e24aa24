package interfax

import (
	"bytes"
	"encoding/xml"
	"net/http"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/receivers"
)

// Reply answers InterFAX in the form of the request. Success is 200 with
// "OK": as text/plain for a form POST; for SOAP as
// <OutboundResponse><OutboundResult>OK</OutboundResult></OutboundResponse>
// (or Inbound…) in the http://CallBack.Interfax.net/ namespace, inside an
// envelope of the request's SOAP version.
//
// Errors to a form POST are plain text. Errors to a SOAP request are a SOAP
// Fault whose HTTP status is the error's own: client errors (400 malformed,
// 401, 403, 413, 415) carry faultcode Client (1.2: Sender), server errors
// keep their 5xx status (500, or the core's 503 so that InterFAX retries)
// with faultcode Server (1.2: Receiver). That is SOAP 1.2's HTTP binding
// (Sender → 4xx, Receiver → 5xx) and, for 1.1, the WS-I Basic Profile's
// use of 400/415 for bad requests rather than SOAP 1.1's blanket 500, so a
// garbage body is never mistaken for a server failure.
func (rc *Receiver) Reply(w http.ResponseWriter, r *http.Request, events []*event.Event, err error) {
	k, _, _ := kindOf(r) // an unknown Content-Type is answered as plain text
	if err != nil {
		if !k.soap() {
			receivers.WritePlainError(w, err)
			return
		}
		status, msg := receivers.Status(err)
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		writeSOAP(w, k, status, fault(k, status < 500, msg))
		return
	}
	if !k.soap() {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("OK"))
		return
	}
	op := "Outbound"
	if len(events) > 0 && events[0].Type == TypeInbound {
		op = "Inbound"
	}
	writeSOAP(w, k, http.StatusOK,
		`<`+op+`Response xmlns="`+nsCallBack+`"><`+op+`Result>OK</`+op+`Result></`+op+`Response>`)
}

// writeSOAP writes a SOAP envelope around body, in the version of k.
func writeSOAP(w http.ResponseWriter, k kind, status int, body string) {
	ns, ct := nsSOAP11, "text/xml; charset=utf-8"
	if k == kindSOAP12 {
		ns, ct = nsSOAP12, "application/soap+xml; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?>` +
		`<soap:Envelope xmlns:soap="` + ns + `"><soap:Body>` + body + `</soap:Body></soap:Envelope>`))
}

// fault renders a SOAP Fault for k's version.
func fault(k kind, client bool, msg string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(msg))
	text := b.String()
	if k == kindSOAP12 {
		code := "soap:Receiver"
		if client {
			code = "soap:Sender"
		}
		return `<soap:Fault><soap:Code><soap:Value>` + code + `</soap:Value></soap:Code>` +
			`<soap:Reason><soap:Text xml:lang="en">` + text + `</soap:Text></soap:Reason></soap:Fault>`
	}
	code := "soap:Server"
	if client {
		code = "soap:Client"
	}
	return `<soap:Fault><faultcode>` + code + `</faultcode><faultstring>` + text + `</faultstring></soap:Fault>`
}
