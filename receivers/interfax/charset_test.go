package interfax

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/receivers"
)

// TestCharsets sends the same accented values (ü, ö and € in windows-1252
// and ISO-8859-15, which place € differently) as a form, as multipart and as
// SOAP, with the charset declared where each form declares it, and checks
// they arrive in the event data exactly.
func TestCharsets(t *testing.T) {
	// "Müller, Köln" and "€ 5" in each charset.
	cp1252 := struct{ contact, subject string }{"M\xfcller, K\xf6ln", "\x80 5"}
	latin9 := struct{ contact, subject string }{"M\xfcller, K\xf6ln", "\xa4 5"}
	const wantContact, wantSubject = "Müller, Köln", "€ 5"

	multipart := func(partCT string, contact, subject string) string {
		part := func(name, value string) string {
			s := "--b\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n"
			if partCT != "" {
				s += "Content-Type: " + partCT + "\r\n"
			}
			return s + "\r\n" + value + "\r\n"
		}
		return part("TransactionID", "700000031") + part("Status", "0") +
			part("Contact", contact) + part("Subject", subject) + "--b--\r\n"
	}
	soap := func(decl, contact, subject string) string {
		if decl != "" {
			decl = `<?xml version="1.0" encoding="` + decl + `"?>`
		}
		return decl + `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
			`<Outbound xmlns="http://CallBack.Interfax.net/"><TransactionID>700000031</TransactionID><Status>0</Status>` +
			`<Contact>` + contact + `</Contact><Subject>` + subject + `</Subject></Outbound></soap:Body></soap:Envelope>`
	}
	form := func(contact, subject string) string {
		// Percent-encoded as a browser would, and one value raw.
		esc := strings.NewReplacer("\xfc", "%FC", "\xf6", "%F6", "\x80", "%80", " ", "+", ",", "%2C")
		return "TransactionID=700000031&Status=0&Contact=" + esc.Replace(contact) + "&Subject=" + subject
	}

	cases := []struct {
		name, contentType, body string
	}{
		{"form windows-1252", "application/x-www-form-urlencoded; charset=windows-1252", form(cp1252.contact, cp1252.subject)},
		{"form cp1252 label", "application/x-www-form-urlencoded; charset=cp1252", form(cp1252.contact, cp1252.subject)},
		{"form ISO-8859-15", "application/x-www-form-urlencoded; charset=ISO-8859-15", form(latin9.contact, latin9.subject)},
		{"form UTF-8 undeclared", "application/x-www-form-urlencoded", form("Müller, Köln", "€ 5")},
		{"multipart part charset", "multipart/form-data; boundary=b", multipart("text/plain; charset=windows-1252", cp1252.contact, cp1252.subject)},
		{"multipart request charset", "multipart/form-data; boundary=b; charset=iso-8859-15", multipart("", latin9.contact, latin9.subject)},
		{"multipart UTF-8 undeclared", "multipart/form-data; boundary=b", multipart("", "Müller, Köln", "€ 5")},
		{"soap Content-Type windows-1252", "text/xml; charset=windows-1252", soap("windows-1252", cp1252.contact, cp1252.subject)},
		{"soap Content-Type wins over declaration", "text/xml; charset=ISO-8859-15", soap("windows-1252", latin9.contact, latin9.subject)},
		{"soap declaration ISO-8859-15", "text/xml", soap("ISO-8859-15", latin9.contact, latin9.subject)},
		{"soap12 declaration windows-1252", "application/soap+xml", soap("windows-1252", cp1252.contact, cp1252.subject)},
		{"soap UTF-8 undeclared", "text/xml", soap("", "Müller, Köln", "€ 5")},
	}
	rc, err := New("interfax", Config{Unauthenticated: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/hooks/interfax", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			events, err := rc.Parse(req, []byte(tc.body), fixedTime)
			if err != nil {
				t.Fatal(err)
			}
			data := events[0].Data
			if data["Contact"] != wantContact || data["Subject"] != wantSubject {
				t.Errorf("Contact, Subject = %q, %q; want %q, %q", data["Contact"], data["Subject"], wantContact, wantSubject)
			}
		})
	}
}

// TestUnsupportedCharset: a charset that no decoder reads, wherever it is
// declared, is a 415 that names it.
func TestUnsupportedCharset(t *testing.T) {
	soap := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Outbound><TransactionID>1</TransactionID></Outbound></soap:Body></soap:Envelope>`
	cases := []struct {
		name, contentType, body, label string
	}{
		{"form", "application/x-www-form-urlencoded; charset=x-klingon", "TransactionID=1", "x-klingon"},
		{"multipart request", "multipart/form-data; boundary=b; charset=x-klingon",
			"--b\r\nContent-Disposition: form-data; name=\"TransactionID\"\r\n\r\n1\r\n--b--\r\n", "x-klingon"},
		{"multipart part", "multipart/form-data; boundary=b",
			"--b\r\nContent-Disposition: form-data; name=\"TransactionID\"\r\nContent-Type: text/plain; charset=ebcdic-klingon\r\n\r\n1\r\n--b--\r\n", "ebcdic-klingon"},
		{"soap Content-Type", "text/xml; charset=x-klingon", soap, "x-klingon"},
		{"soap declaration", "text/xml", `<?xml version="1.0" encoding="x-klingon"?>` + soap, "x-klingon"},
		{"replacement encoding", "application/x-www-form-urlencoded; charset=iso-2022-kr", "TransactionID=1", "iso-2022-kr"},
	}
	rc, err := New("interfax", Config{Unauthenticated: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/hooks/interfax", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			_, err := rc.Parse(req, []byte(tc.body), fixedTime)
			var re *receivers.Error
			if !errors.As(err, &re) || re.Status != http.StatusUnsupportedMediaType || !strings.Contains(re.Msg, `"`+tc.label+`"`) {
				t.Fatalf("Parse error %v: want a 415 naming %q", err, tc.label)
			}
		})
	}
}
