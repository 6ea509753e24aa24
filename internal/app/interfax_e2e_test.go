package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/store"
)

const faxToken = "s3cret-callback-token"

// postFax posts the recorded InterFAX callback receivers/interfax/testdata/
// <name>.body to url, with the headers of <name>.headers (a form POST
// without one), and returns the reply.
func postFax(t *testing.T, url, name string) (int, string, string) {
	t.Helper()
	dir := filepath.Join("..", "..", "receivers", "interfax", "testdata")
	body, err := os.ReadFile(filepath.Join(dir, name+".body"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if h, err := os.ReadFile(filepath.Join(dir, name+".headers")); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(h))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
				req.Header.Set(k, strings.TrimSpace(v))
			}
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// soapReply is what a SOAP client reads from a reply.
type soapReply struct {
	XMLName xml.Name
	Body    struct {
		Outbound string `xml:"http://CallBack.Interfax.net/ OutboundResponse>OutboundResult"`
		Inbound  string `xml:"http://CallBack.Interfax.net/ InboundResponse>InboundResult"`
	} `xml:"Body"`
}

// An InterFAX callback through the whole service (server, store, rules,
// delivery workers, webhook sink): a failed fax reaches the webhook with
// the normalized fields, a repeat is acknowledged without a new delivery,
// SOAP 1.1 and 1.2 clients get replies they can parse, refusals get their
// statuses, and the WSDL is served.
func TestInterfaxEndToEnd(t *testing.T) {
	rec := &hookRecorder{}
	hook := httptest.NewServer(rec)
	defer hook.Close()
	base, storePath := serve(t, fmt.Sprintf(`
receivers:
  fax: {type: interfax, token: %s}
sinks:
  status-api: {type: webhook, url: "%s", concurrency: 1}
rules:
  - name: failed-faxes
    when: source == "interfax" && status == "failure"
    to: [status-api]
`, faxToken, hook.URL))
	url := base + "/hooks/fax?token=" + faxToken

	// A failed fax, by form POST, twice: the repeat is acknowledged and
	// creates no delivery.
	for range 2 {
		if code, ct, body := postFax(t, url, "if-2-post-busy"); code != 200 || ct != "text/plain; charset=utf-8" || body != "OK" {
			t.Fatalf("form callback: %d %q %q", code, ct, body)
		}
	}
	ev := rec.waitEvents(t, 1)[0]
	data, _ := ev["data"].(map[string]any)
	if ev["status"] != "failure" || ev["code"] != float64(263) || ev["subject"] != "664598111" || data["DestinationFax"] != "0012125551234" {
		t.Errorf("webhook got %v", ev)
	}
	st, err := store.Open(context.Background(), storePath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if dl, err := st.List(context.Background(), store.Filter{Subject: "664598111"}); err != nil || len(dl) != 1 {
		t.Errorf("%d deliveries (%v) for the callback sent twice, want 1", len(dl), err)
	}

	// A SOAP 1.1 client's request gets a reply it can parse.
	code, ct, body := postFax(t, url, "if-4-soap11-success")
	var reply soapReply
	if err := xml.Unmarshal([]byte(body), &reply); err != nil || code != 200 || !strings.HasPrefix(ct, "text/xml") ||
		reply.XMLName.Space != "http://schemas.xmlsoap.org/soap/envelope/" || reply.Body.Outbound != "OK" {
		t.Errorf("SOAP callback: %d %q %q (%v)", code, ct, body, err)
	}
	// So does a SOAP 1.2 one, with the token as the basic-auth password.
	body12, err := os.ReadFile(filepath.Join("..", "..", "receivers", "interfax", "testdata", "soap12-inbound.body"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/hooks/fax", bytes.NewReader(body12))
	req.Header.Set("Content-Type", "application/soap+xml; charset=utf-8")
	req.SetBasicAuth("interfax", faxToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	reply = soapReply{}
	if err := xml.Unmarshal(b, &reply); err != nil || resp.StatusCode != 200 ||
		reply.XMLName.Space != "http://www.w3.org/2003/05/soap-envelope" || reply.Body.Inbound != "OK" {
		t.Errorf("SOAP 1.2 callback: %d %q (%v)", resp.StatusCode, b, err)
	}

	// Refusals.
	if code, _, body := postFax(t, base+"/hooks/fax?token=wrong", "if-2-post-busy"); code != 401 || strings.Contains(body, faxToken) {
		t.Errorf("wrong token: %d %q", code, body)
	}
	if code, _, body := postFax(t, url, "err-soap-malformed"); code != 400 || !strings.Contains(body, "soap:Client") {
		t.Errorf("malformed SOAP: %d %q", code, body)
	}
	if code, _, _ := postFax(t, url, "err-form-garbage"); code != 400 {
		t.Errorf("garbage form: %d", code)
	}

	// The WSDL, through the server's GET route.
	resp, err = http.Get(base + "/hooks/fax?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `location="`+base+`/hooks/fax"`) {
		t.Errorf("WSDL: %d %s", resp.StatusCode, b)
	}
}

// A form callback declared windows-1252 keeps its accents and its euro sign
// exactly, through the server, the store and a webhook.
func TestInterfaxCharsetEndToEnd(t *testing.T) {
	rec := &hookRecorder{}
	hook := httptest.NewServer(rec)
	defer hook.Close()
	base, _ := serve(t, fmt.Sprintf(`
receivers:
  fax: {type: interfax, token: %s}
sinks:
  status-api: {type: webhook, url: "%s"}
rules:
  - {name: all, when: "true", to: [status-api]}
`, faxToken, hook.URL))
	// Contact=Dr+M%FCller%2C+K%F6ln&Subject=Rechnung+%80+42 in windows-1252.
	if code, _, body := postFax(t, base+"/hooks/fax?token="+faxToken, "form-windows-1252"); code != 200 {
		t.Fatalf("windows-1252 form: %d %q", code, body)
	}
	data, _ := rec.waitEvents(t, 1)[0]["data"].(map[string]any)
	if data["Contact"] != "Dr Müller, Köln" || data["Subject"] != "Rechnung € 42" {
		t.Errorf("data Contact, Subject = %q, %q; want %q, %q", data["Contact"], data["Subject"], "Dr Müller, Köln", "Rechnung € 42")
	}
}
