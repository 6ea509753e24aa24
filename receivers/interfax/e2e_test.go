package interfax

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/deliver"
	"github.com/switchboard/switchboard/internal/server"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/receivers"
	"github.com/switchboard/switchboard/rules"
	"github.com/switchboard/switchboard/sinks/webhook"
)

// TestEndToEnd drives the real callback server, store, rules, delivery
// workers and webhook sink: a failed fax callback reaches the webhook with
// the normalized fields, a repeat is acknowledged without a new delivery, a
// SOAP client gets a reply it can parse, and refusals get their statuses.
func TestEndToEnd(t *testing.T) {
	ctx := t.Context()
	received := make(chan []byte, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		received <- b
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()

	cfgYAML := `
receivers:
  fax:
    type: interfax
    token: ${TOKEN}
sinks:
  status-api:
    type: webhook
    url: ` + hook.URL + `
    concurrency: 1
rules:
  - name: failed-faxes
    when: source == "interfax" && status == "failure"
    to: [status-api]
`
	env := func(k string) (string, bool) { return testToken, k == "TOKEN" }
	f, err := rules.Parse("rules.yaml", strings.NewReader(cfgYAML), env)
	if err != nil {
		t.Fatal(err)
	}
	var rcfg Config
	if err := config.Decode(f.Receivers[0].Node, &rcfg); err != nil {
		t.Fatal(err)
	}
	rc, err := New("fax", rcfg)
	if err != nil {
		t.Fatal(err)
	}
	var wcfg webhook.Config
	if err := config.Decode(f.Sinks[0].Node, &wcfg); err != nil {
		t.Fatal(err)
	}
	sink, err := webhook.New("status-api", wcfg)
	if err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "switchboard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	disp := deliver.New(st, log, deliver.Options{Poll: 50 * time.Millisecond})
	defer disp.Stop(context.Background())
	disp.Update([]deliver.Target{{Name: "status-api", Sink: sink, Delivery: f.Sinks[0].Delivery.WithDefaults()}})
	srv := server.New(st, log, disp.Notify, server.Metrics{})
	srv.Swap(&server.Routing{Receivers: map[string]receivers.Receiver{"fax": rc}, Router: f.Router, BodyLimit: rules.DefaultBodyLimit})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	post := func(name, query string) (int, string, string) {
		t.Helper()
		body, err := os.ReadFile("testdata/" + name + ".body")
		if err != nil {
			t.Fatal(err)
		}
		req := goldenRequest(t, name, body)
		out, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/hooks/fax"+query, strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		out.Header = req.Header
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}

	// A failed fax, by form POST.
	for range 2 { // the second is a repeat: acknowledged, no new delivery
		if code, ct, body := post("if-2-post-busy", "?token="+testToken); code != 200 || ct != "text/plain; charset=utf-8" || body != "OK" {
			t.Fatalf("form callback: %d %q %q", code, ct, body)
		}
	}
	select {
	case b := <-received:
		var ev struct {
			Status  string         `json:"status"`
			Code    int            `json:"code"`
			Subject string         `json:"subject"`
			Data    map[string]any `json:"data"`
		}
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Status != "failure" || ev.Code != 263 || ev.Subject != "664598111" || ev.Data["DestinationFax"] != "0012125551234" {
			t.Errorf("webhook got %s", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook delivery")
	}
	dl, err := st.List(ctx, store.Filter{Subject: "664598111"})
	if err != nil {
		t.Fatal(err)
	}
	if len(dl) != 1 {
		t.Errorf("%d deliveries for the callback sent twice, want 1", len(dl))
	}

	// A SOAP 1.1 client's request gets a reply it can parse.
	code, ct, body := post("if-4-soap11-success", "?token="+testToken)
	var reply soapReply
	if err := xml.Unmarshal([]byte(body), &reply); err != nil || code != 200 || !strings.HasPrefix(ct, "text/xml") ||
		reply.XMLName.Space != nsSOAP11 || reply.Body.Outbound != "OK" {
		t.Errorf("SOAP callback: %d %q %q (%v)", code, ct, body, err)
	}
	// So does a SOAP 1.2 one, with the token as the basic-auth password.
	body12, _ := os.ReadFile("testdata/soap12-inbound.body")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/hooks/fax", strings.NewReader(string(body12)))
	req.Header.Set("Content-Type", "application/soap+xml; charset=utf-8")
	req.SetBasicAuth("interfax", testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	reply = soapReply{}
	if err := xml.Unmarshal(b, &reply); err != nil || resp.StatusCode != 200 || reply.XMLName.Space != nsSOAP12 || reply.Body.Inbound != "OK" {
		t.Errorf("SOAP 1.2 callback: %d %q (%v)", resp.StatusCode, b, err)
	}

	// Refusals.
	if code, _, body := post("if-2-post-busy", "?token=wrong"); code != 401 || strings.Contains(body, testToken) {
		t.Errorf("wrong token: %d %q", code, body)
	}
	if code, _, body := post("err-soap-malformed", "?token="+testToken); code != 400 || !strings.Contains(body, "soap:Client") {
		t.Errorf("malformed SOAP: %d %q", code, body)
	}
	if code, _, _ := post("err-form-garbage", "?token="+testToken); code != 400 {
		t.Errorf("garbage form: %d", code)
	}

	// The WSDL, through the server's GET route.
	resp, err = http.Get(ts.URL + "/hooks/fax?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `location="`+ts.URL+`/hooks/fax"`) {
		t.Errorf("WSDL: %d %s", resp.StatusCode, b)
	}
}
