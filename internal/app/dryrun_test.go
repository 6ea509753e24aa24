package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/receivers/telesign"
	"github.com/switchboard/switchboard/rules"
)

func buildConfig(t *testing.T, src string) *Built {
	t.Helper()
	return buildConfigEnv(t, src, func(string) (string, bool) { return "", false })
}

// buildConfigEnv builds a configuration whose ${VAR}s come from lookup.
func buildConfigEnv(t *testing.T, src string, lookup func(string) (string, bool)) *Built {
	t.Helper()
	f, err := rules.Parse("rules.yaml", strings.NewReader(src), lookup)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(f, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const dryRunConfig = `
body_limit: 4096
receivers:
  fax: {type: interfax, token: sekret-callback-token}
  ts: {type: telesign, customer_id: ` + tsCustomer + `, api_key: ` + tsKey + `}
sinks:
  ops: {type: log}
  api: {type: webhook, url: "http://127.0.0.1:1/"}
rules:
  - name: failed-faxes
    when: type == "fax.outbound" && status == "failure"
    to: [ops, api]
    title: 'Fax to {{ phone .data.DestinationFax }} failed'
    throttle: {key: data.DestinationFax, window: 10m}
  - name: first-failure
    when: status == "failure" && previous_status != "failure"
    to: [ops]
  - name: sms
    when: source == "telesign"
    to: [api]
`

func readExample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDryRun(t *testing.T) {
	b := buildConfig(t, dryRunConfig)
	busy := readExample(t, "interfax-fax-busy.form")
	sms := readExample(t, "telesign-sms-delivered.json")
	sig, err := telesign.Sign(tsKey, sms)
	if err != nil {
		t.Fatal(err)
	}
	tsa := http.Header{"Authorization": {"TSA " + tsCustomer + ":" + sig}}

	tests := []struct {
		name     string
		req      DryRunRequest
		status   int
		verify   string
		errText  string
		matched  []string
		messages []string // rule/sink: title
	}{
		{
			name:    "form with the token",
			req:     DryRunRequest{Receiver: "fax", Body: busy, Query: "token=sekret-callback-token"},
			status:  200,
			verify:  VerifyPassed,
			matched: []string{"failed-faxes", "first-failure"},
			messages: []string{"failed-faxes/ops: Fax to +1 212 555 1234 failed", "failed-faxes/api: Fax to +1 212 555 1234 failed",
				"first-failure/ops: Fax to +1 212 555 1234 failed: busy"},
		},
		{
			name:    "previous status stands in for the store",
			req:     DryRunRequest{Receiver: "fax", Body: busy, SkipVerify: true, PreviousStatus: "failure"},
			status:  200,
			verify:  VerifySkipped,
			matched: []string{"failed-faxes"},
		},
		{
			name:    "wrong token",
			req:     DryRunRequest{Receiver: "fax", Body: busy, Query: "token=nope"},
			status:  401,
			verify:  VerifyFailed,
			errText: "unauthorized (wrong token)",
		},
		{
			name:     "signed telesign JSON",
			req:      DryRunRequest{Receiver: "ts", Body: sms, Header: tsa},
			status:   200,
			verify:   VerifyPassed,
			matched:  []string{"sms"},
			messages: []string{"sms/api: SMS 0123456789ABCDEF0123456789ABCDEF delivered"},
		},
		{
			name:    "tampered telesign JSON",
			req:     DryRunRequest{Receiver: "ts", Body: append([]byte(" "), sms...), Header: tsa},
			status:  401,
			verify:  VerifyFailed,
			errText: "signature does not match the body",
		},
		{
			name:    "malformed body",
			req:     DryRunRequest{Receiver: "ts", Body: []byte(`{"status":`), SkipVerify: true},
			status:  400,
			verify:  VerifySkipped,
			errText: "malformed JSON",
		},
		{
			name:    "too large",
			req:     DryRunRequest{Receiver: "ts", Body: []byte(strings.Repeat(" ", 5000)), SkipVerify: true},
			status:  413,
			errText: "body larger than 4096 bytes",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := b.DryRun(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.Verify != tc.verify || !strings.Contains(res.Error, tc.errText) {
				t.Fatalf("status %d verify %q error %q, want %d %q %q", res.Status, res.Verify, res.Error, tc.status, tc.verify, tc.errText)
			}
			if tc.status != 200 {
				if len(res.Events) != 0 {
					t.Errorf("events = %d for a refused callback", len(res.Events))
				}
				return
			}
			ev := res.Events[0]
			if !slices.Equal(ev.Matched, tc.matched) {
				t.Errorf("matched = %v, want %v", ev.Matched, tc.matched)
			}
			if len(ev.Rules) != 3 {
				t.Errorf("rules explained = %+v", ev.Rules)
			}
			for _, want := range tc.messages {
				found := false
				for _, m := range ev.Messages {
					found = found || m.Rule+"/"+m.Sink+": "+m.Title == want
				}
				if !found {
					t.Errorf("no message %q in %+v", want, ev.Messages)
				}
			}
		})
	}
}

// The dry run says why a rule did not match, names the sink types and
// reports a rule's throttle.
func TestDryRunDetails(t *testing.T) {
	b := buildConfig(t, dryRunConfig)
	res, err := b.DryRun(DryRunRequest{Receiver: "fax", Body: readExample(t, "interfax-fax-busy.form"), SkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	ev := res.Events[0]
	if r := ev.Rules[2]; r.Matched || r.Reason != `false: source == "telesign" (source = "interfax")` {
		t.Errorf("explanation = %+v", r)
	}
	m := ev.Messages[1]
	if m.SinkType != "webhook" || m.Throttle == nil || m.Throttle.Key != "0012125551234" || m.Throttle.Window != "10m0s" {
		t.Errorf("message = %+v", m)
	}
	if ev.Event.Receiver != "fax" || ev.Event.ID == "" || res.ContentType != "application/x-www-form-urlencoded" {
		t.Errorf("event = %+v, content type %q", ev.Event, res.ContentType)
	}
	if _, err := b.DryRun(DryRunRequest{Receiver: "nope"}); err == nil || !strings.Contains(err.Error(), `no receiver named "nope" (configured: fax, ts)`) {
		t.Errorf("unknown receiver: %v", err)
	}
}

func TestGuessContentType(t *testing.T) {
	tests := map[string]string{
		`{"a":1}`:                       "application/json",
		"\ufeff  [{}]":                  "application/json",
		"\n<?xml version=\"1.0\"?><x/>": "text/xml; charset=utf-8",
		"TransactionID=1&Status=0":      "application/x-www-form-urlencoded",
		"":                              "application/x-www-form-urlencoded",
	}
	for body, want := range tests {
		if got := GuessContentType([]byte(body)); got != want {
			t.Errorf("GuessContentType(%q) = %q, want %q", body, got, want)
		}
	}
}

// A callback with several events about one transaction (a Telesign
// array) is routed as intake routes it: each event after the first has
// the one before as its history, so switchboard test shows the final
// status stopping the timer the first one started, and previous_status as
// rules see it in the service.
func TestDryRunHistoryWithinCallback(t *testing.T) {
	b := buildConfig(t, `
receivers:
  ts: {type: telesign, unauthenticated: true}
sinks:
  audit: {type: log}
rules:
  - {name: final-after-pending, when: final && previous_status == "pending", to: [audit]}
expect:
  - {name: sms-final, after: status == "pending", then: final, within: 15m}
`)
	body, err := os.ReadFile(filepath.Join("..", "..", "receivers", "telesign", "testdata", "array_three.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, previous string
		want           []string // per event: previous_status, matched rules, expectations
	}{
		{"first callback of the transaction", "", []string{
			` [] [{sms-final start 15m0s}]`,
			`pending [] [{sms-final start 15m0s}]`,
			`pending [final-after-pending] [{sms-final stop }]`,
		}},
		{"with --previous-status", "pending", []string{
			`pending [] [{sms-final start 15m0s}]`,
			`pending [] [{sms-final start 15m0s}]`,
			`pending [final-after-pending] [{sms-final stop }]`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := b.DryRun(DryRunRequest{Receiver: "ts", Body: body, ContentType: "application/json", PreviousStatus: tc.previous})
			if err != nil || res.Status != 200 || len(res.Events) != len(tc.want) {
				t.Fatalf("DryRun = %+v, %v; want %d events", res, err, len(tc.want))
			}
			for i, de := range res.Events {
				if got := fmt.Sprintf("%s %v %v", de.Event.PreviousStatus, de.Matched, de.Expectations); got != tc.want[i] {
					t.Errorf("event %d: %q, want %q", i+1, got, tc.want[i])
				}
			}
		})
	}
}
